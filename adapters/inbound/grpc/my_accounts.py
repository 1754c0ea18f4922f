"""The my_accounts service over gRPC: the public ListMyAccounts (caller = the access token's subject); on an
internal port only, the GetAccountsSnapshot the member service calls at login and the operators'
ListViewedAccounts (operator token)."""

from __future__ import annotations

from datetime import datetime

from adapters.common.protobuf import timestamp
from adapters.inbound.grpc.metadata import CallContext, bearer_token
from adapters.inbound.grpc.operator import OperatorGuard
from adapters.inbound.grpc.server import Servicer
from bank.my_accounts.v1 import my_accounts_pb2, my_accounts_service_pb2, my_accounts_service_pb2_grpc
from bank.my_accounts.v1.my_accounts_service_pb2 import (
    GetAccountsSnapshotRequest,
    GetAccountsSnapshotResponse,
    ListMyAccountsRequest,
    ListMyAccountsResponse,
    ListViewedAccountsRequest,
    ListViewedAccountsResponse,
)
from domain.my_accounts.commands import ListMyAccounts
from domain.my_accounts.handlers import MyAccountsQueries
from domain.my_accounts.model import ViewedAccount, ViewedAccountStatus

_services = my_accounts_service_pb2.DESCRIPTOR.services_by_name
PUBLIC_SERVICE = _services["MyAccountsService"].full_name
INTERNAL_SERVICE = _services["AccountsSnapshotService"].full_name
ADMIN_SERVICE = _services["ViewAdminService"].full_name


def account_messages(accounts: list[ViewedAccount]) -> list[my_accounts_pb2.MyAccount]:
    return [
        my_accounts_pb2.MyAccount(
            account_number=a.account_number,
            product_code=a.product_code,
            balance=a.balance,
            sequence=a.sequence,
            as_of=timestamp(a.as_of),
        )
        for a in accounts
    ]


def _as_of(value: datetime | None) -> dict[str, object]:
    return {"view_as_of": timestamp(value)} if value is not None else {}


class MyAccountsServicer(my_accounts_service_pb2_grpc.MyAccountsServiceServicer):
    def __init__(self, queries: MyAccountsQueries) -> None:
        self._queries = queries

    async def ListMyAccounts(self, request: ListMyAccountsRequest, context: CallContext) -> ListMyAccountsResponse:
        result = await self._queries.list_my_accounts(
            ListMyAccounts(bearer_token(context), request.account_number, request.min_sequence)
        )
        return ListMyAccountsResponse(
            accounts=account_messages(result.accounts),
            stale=result.stale,
            min_sequence_reached=result.min_sequence_reached,
            **_as_of(result.caught_up_at),
        )


class AccountsSnapshotServicer(my_accounts_service_pb2_grpc.AccountsSnapshotServiceServicer):
    def __init__(self, queries: MyAccountsQueries) -> None:
        self._queries = queries

    async def GetAccountsSnapshot(
        self, request: GetAccountsSnapshotRequest, context: CallContext
    ) -> GetAccountsSnapshotResponse:
        result = await self._queries.snapshot(request.customer_id)
        return GetAccountsSnapshotResponse(accounts=account_messages(result.accounts), stale=result.stale)


class ViewAdminServicer(my_accounts_service_pb2_grpc.ViewAdminServiceServicer):
    def __init__(self, queries: MyAccountsQueries, operators: OperatorGuard) -> None:
        self._queries = queries
        self._operators = operators

    async def ListViewedAccounts(
        self, request: ListViewedAccountsRequest, context: CallContext
    ) -> ListViewedAccountsResponse:
        self._operators.check(context, "ListViewedAccounts")
        page = await self._queries.all_accounts(request.page_size, request.page_token)
        return ListViewedAccountsResponse(
            accounts=[
                my_accounts_service_pb2.ViewedAccount(
                    account_number=a.account_number,
                    customer_id=a.customer_id,
                    balance=a.balance,
                    sequence=a.sequence,
                    closed=a.status is ViewedAccountStatus.CLOSED,
                    as_of=timestamp(a.as_of),
                )
                for a in page.accounts
            ],
            next_page_token=page.next_page_token,
        )


def my_accounts_servicer(queries: MyAccountsQueries) -> Servicer:
    add = my_accounts_service_pb2_grpc.add_MyAccountsServiceServicer_to_server
    return Servicer(PUBLIC_SERVICE, add, MyAccountsServicer(queries))


def accounts_snapshot_servicer(queries: MyAccountsQueries) -> Servicer:
    add = my_accounts_service_pb2_grpc.add_AccountsSnapshotServiceServicer_to_server
    return Servicer(INTERNAL_SERVICE, add, AccountsSnapshotServicer(queries))


def view_admin_servicer(queries: MyAccountsQueries, operators: OperatorGuard) -> Servicer:
    add = my_accounts_service_pb2_grpc.add_ViewAdminServiceServicer_to_server
    return Servicer(ADMIN_SERVICE, add, ViewAdminServicer(queries, operators))
