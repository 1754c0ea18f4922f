"""The account service over gRPC: requests become commands of the AccountApplication, with the bearer token
of the `authorization` metadata and the call's correlation id; accounts become messages. No business rule
lives here."""

from __future__ import annotations

from adapters.common.context import correlation_id
from adapters.common.protobuf import timestamp
from adapters.inbound.grpc.metadata import CallContext, bearer_token
from adapters.inbound.grpc.server import Servicer
from bank.account.v1 import account_pb2, account_service_pb2, account_service_pb2_grpc
from bank.account.v1.account_service_pb2 import (
    CloseAccountRequest,
    CloseAccountResponse,
    DepositRequest,
    DepositResponse,
    GetAccountRequest,
    GetAccountResponse,
    OpenAccountRequest,
    OpenAccountResponse,
    TransferRequest,
    TransferResponse,
    WithdrawRequest,
    WithdrawResponse,
)
from domain.account.commands import CloseAccount, Deposit, GetAccount, OpenAccount, Transfer, Withdraw
from domain.account.handlers import AccountApplication
from domain.account.model import Account

SERVICE_NAME = account_service_pb2.DESCRIPTOR.services_by_name["AccountService"].full_name
Context = CallContext


def account_message(a: Account) -> account_pb2.Account:
    return account_pb2.Account(
        account_number=a.account_number,
        customer_id=a.customer_id,
        product_code=a.product_code,
        balance=a.balance,
        sequence=a.sequence,
        status=account_pb2.AccountStatus.Value(f"ACCOUNT_STATUS_{a.status.value}"),
        opened_at=timestamp(a.opened_at),
        updated_at=timestamp(a.updated_at),
    )


class AccountServicer(account_service_pb2_grpc.AccountServiceServicer):
    def __init__(self, app: AccountApplication) -> None:
        self._app = app

    async def OpenAccount(self, request: OpenAccountRequest, context: Context) -> OpenAccountResponse:
        account = await self._app.open_account(
            OpenAccount(bearer_token(context), request.customer_id, request.product_code, request.idempotency_key)
        )
        return OpenAccountResponse(account=account_message(account))

    async def GetAccount(self, request: GetAccountRequest, context: Context) -> GetAccountResponse:
        account = await self._app.get_account(GetAccount(bearer_token(context), request.account_number))
        return GetAccountResponse(account=account_message(account))

    async def Deposit(self, request: DepositRequest, context: Context) -> DepositResponse:
        account = await self._app.deposit(
            Deposit(
                bearer_token(context),
                request.account_number,
                request.amount,
                request.idempotency_key,
                correlation_id.get(),
            )
        )
        return DepositResponse(account=account_message(account))

    async def Withdraw(self, request: WithdrawRequest, context: Context) -> WithdrawResponse:
        account = await self._app.withdraw(
            Withdraw(
                bearer_token(context),
                request.account_number,
                request.amount,
                request.idempotency_key,
                correlation_id.get(),
            )
        )
        return WithdrawResponse(account=account_message(account))

    async def Transfer(self, request: TransferRequest, context: Context) -> TransferResponse:
        result = await self._app.transfer(
            Transfer(
                bearer_token(context),
                request.from_account_number,
                request.to_account_number,
                request.amount,
                request.idempotency_key,
                correlation_id.get(),
            )
        )
        to_account = (
            account_message(result.to_account)
            if result.to_account is not None
            else account_pb2.Account(account_number=result.to_account_number)  # another customer's: number only
        )
        return TransferResponse(from_account=account_message(result.from_account), to_account=to_account)

    async def CloseAccount(self, request: CloseAccountRequest, context: Context) -> CloseAccountResponse:
        account = await self._app.close_account(
            CloseAccount(bearer_token(context), request.account_number, request.idempotency_key)
        )
        return CloseAccountResponse(account=account_message(account))


def account_servicer(app: AccountApplication) -> Servicer:
    return Servicer(SERVICE_NAME, account_service_pb2_grpc.add_AccountServiceServicer_to_server, AccountServicer(app))
