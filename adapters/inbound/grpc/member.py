"""The member service over gRPC: requests become commands of the MemberApplication. Tokens come from the
`authorization` metadata, the source address from the connection. EnrollMember and UnlockMember are an
operator's: they check the operator token first (operator.py); the others are the banking member's own."""

from __future__ import annotations

from adapters.common.protobuf import timestamp
from adapters.inbound.grpc.metadata import CallContext, ClientAddress, bearer_token
from adapters.inbound.grpc.operator import OperatorGuard
from adapters.inbound.grpc.server import Servicer
from bank.member.v1 import member_pb2, member_service_pb2, member_service_pb2_grpc
from bank.member.v1.member_service_pb2 import (
    ChangePasswordRequest,
    ChangePasswordResponse,
    EnrollMemberRequest,
    EnrollMemberResponse,
    LoginRequest,
    LoginResponse,
    LogoutRequest,
    LogoutResponse,
    RefreshTokenRequest,
    RefreshTokenResponse,
    UnlockMemberRequest,
    UnlockMemberResponse,
)
from domain.member.commands import ChangePassword, EnrollMember, LogIn, LogOut, RefreshToken, UnlockMember
from domain.member.handlers import MemberApplication
from domain.member.model import BankingMember
from domain.shared.errors import PermissionDenied

TOKEN_TYPE = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
SERVICE_NAME = member_service_pb2.DESCRIPTOR.services_by_name["MemberService"].full_name
Context = CallContext
NOT_THROUGH_THE_GATEWAY = "log in through the gateway"  # the same for every caller refused this way


def member_message(m: BankingMember) -> member_pb2.BankingMember:
    message = member_pb2.BankingMember(
        member_id=m.member_id,
        customer_id=m.customer_id,
        banking_id=m.banking_id,
        status=member_pb2.MemberStatus.Value(f"MEMBER_STATUS_{m.status.value}"),
        enrolled_at=timestamp(m.enrolled_at),
    )
    if m.locked_until is not None:
        message.locked_until.CopyFrom(timestamp(m.locked_until))
    return message


class MemberServicer(member_service_pb2_grpc.MemberServiceServicer):
    def __init__(self, app: MemberApplication, operators: OperatorGuard, client: ClientAddress) -> None:
        self._app = app
        self._operators = operators
        self._client = client

    async def EnrollMember(self, request: EnrollMemberRequest, context: Context) -> EnrollMemberResponse:
        self._operators.check(context, "EnrollMember")
        member = await self._app.enroll_member(EnrollMember(request.customer_id, request.banking_id, request.password))
        return EnrollMemberResponse(member=member_message(member))

    async def Login(self, request: LoginRequest, context: Context) -> LoginResponse:
        # Only through the gateway, which limits logins per client before they get here: a caller that reaches
        # this port from anywhere else (another pod, another process) does not get to guess passwords.
        if not self._client.is_gateway(context):
            raise PermissionDenied(NOT_THROUGH_THE_GATEWAY)
        result = await self._app.log_in(LogIn(request.banking_id, request.password, self._client(context)))
        return LoginResponse(
            access_token=result.tokens.access_token,
            token_type=TOKEN_TYPE,
            expires_in=result.tokens.expires_in_seconds,
            refresh_token=result.tokens.refresh_token,
            accounts=[
                member_pb2.AccountSnapshot(
                    account_number=a.account_number,
                    product_code=a.product_code,
                    balance=a.balance,
                    sequence=a.sequence,
                    as_of=timestamp(a.as_of),
                )
                for a in result.accounts.accounts
            ],
            accounts_state=member_pb2.AccountsSnapshotState.Value(
                f"ACCOUNTS_SNAPSHOT_STATE_{result.accounts.state.value}"
            ),
        )

    async def RefreshToken(self, request: RefreshTokenRequest, context: Context) -> RefreshTokenResponse:
        tokens = await self._app.refresh_token(RefreshToken(request.refresh_token))
        return RefreshTokenResponse(
            access_token=tokens.access_token,
            token_type=TOKEN_TYPE,
            expires_in=tokens.expires_in_seconds,
            refresh_token=tokens.refresh_token,
        )

    async def Logout(self, request: LogoutRequest, context: Context) -> LogoutResponse:
        await self._app.log_out(LogOut(bearer_token(context)))
        return LogoutResponse()

    async def ChangePassword(self, request: ChangePasswordRequest, context: Context) -> ChangePasswordResponse:
        await self._app.change_password(
            ChangePassword(bearer_token(context), request.current_password, request.new_password)
        )
        return ChangePasswordResponse()

    async def UnlockMember(self, request: UnlockMemberRequest, context: Context) -> UnlockMemberResponse:
        self._operators.check(context, "UnlockMember")
        return UnlockMemberResponse(
            member=member_message(await self._app.unlock_member(UnlockMember(request.member_id)))
        )


def member_servicer(app: MemberApplication, operators: OperatorGuard, client: ClientAddress) -> Servicer:
    """`client` says who the gateway is (Login answers only it) and whose x-forwarded-for names the caller."""
    servicer = MemberServicer(app, operators, client)
    return Servicer(SERVICE_NAME, member_service_pb2_grpc.add_MemberServiceServicer_to_server, servicer)
