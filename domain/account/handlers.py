"""The account context's use cases. Every call names its caller by an access token (verified with the member
context's published keys); a caller reaches only their own accounts, and an account of another customer is
refused like an unknown one. Money moves only for a customer in NORMAL status per this context's replica.

Commands that change something run once per (caller, idempotency key): the key is stored with a digest of the
request and a snapshot of the result in the same transaction as the change, so a retry answers the first
result and publishes nothing, and the same key with another request is refused (IdempotencyKeyReused).
A refused command stores nothing under its key: a retry is decided afresh.

Concurrency: every account a command changes is loaded for change (locked until commit where the database
locks rows; SQLite serializes write transactions instead), a transfer loads its two accounts in account-number
order so two opposite transfers cannot deadlock, and the write is guarded by the account's version."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from domain.account.commands import (
    CloseAccount,
    Deposit,
    GetAccount,
    OpenAccount,
    RecordCustomerStatus,
    Transfer,
    Withdraw,
)
from domain.account.errors import (
    AccountNotFound,
    AccountNotOpen,
    CustomerNotNormal,
    DestinationCustomerTerminated,
    DestinationNotFound,
    NotTheCallersCustomer,
)
from domain.account.events import BalanceChangeKind
from domain.account.model import (
    DEFAULT_MAX_AMOUNT,
    MAX_BALANCE,
    Account,
    AccountStatus,
    new_account_number,
    parse_account_number,
    parse_amount,
    parse_product_code,
)
from domain.account.ports import AccessTokenVerifier, AccountUnitOfWork, IdempotencyRecord
from domain.shared.clock import Clock
from domain.shared.errors import (
    AlreadyExists,
    DependencyUnavailable,
    IdempotencyKeyReused,
    InvalidArgument,
    InvalidToken,
)
from domain.shared.ids import parse_id
from domain.shared.standing import CustomerStanding, CustomerStatus

MAX_TOKEN_LENGTH = 4096
MAX_IDEMPOTENCY_KEY_LENGTH = 64
ATTEMPTS = 5  # a taken account number, or a concurrent first use of one key: try the whole command again


def parse_idempotency_key(raw: str) -> str:
    """1 to 64 printable ASCII characters (space to tilde), taken as they are."""
    if not 1 <= len(raw) <= MAX_IDEMPOTENCY_KEY_LENGTH or not all(" " <= ch <= "~" for ch in raw):
        raise InvalidArgument("idempotency_key", "must be 1 to 64 printable ASCII characters")
    return raw


def request_digest(method: str, **fields: object) -> str:
    """What identifies a request under an idempotency key: the method and its normalized fields."""
    canonical = json.dumps({"method": method, **fields}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class TransferResult:
    from_account: Account
    to_account: Account | None  # None when it is another customer's: the caller sees only its number
    to_account_number: str


Action = Callable[[AccountUnitOfWork], Awaitable[list[Account]]]


class AccountApplication:
    """The facade inbound adapters call: one method per command or query."""

    def __init__(
        self,
        uow: Callable[[], AccountUnitOfWork],
        tokens: AccessTokenVerifier,
        clock: Clock,
        *,
        max_amount: int = DEFAULT_MAX_AMOUNT,
        new_number: Callable[[], str] = new_account_number,
    ) -> None:
        if not 1 <= max_amount <= MAX_BALANCE:
            raise ValueError(f"the per-transaction limit must be 1 to {MAX_BALANCE}")
        self._uow = uow
        self._tokens = tokens
        self._clock = clock
        self._max_amount = max_amount
        self._new_number = new_number

    # -- commands -------------------------------------------------------------------------------------------

    async def open_account(self, cmd: OpenAccount) -> Account:
        """For the caller's own customer only (PermissionDenied otherwise), in NORMAL status."""
        caller = self._caller(cmd.access_token)
        customer_id = parse_id(cmd.customer_id, "customer_id")
        if customer_id != caller:
            raise NotTheCallersCustomer()
        product_code = parse_product_code(cmd.product_code)
        key = parse_idempotency_key(cmd.idempotency_key)

        async def act(tx: AccountUnitOfWork) -> list[Account]:
            await self._require_normal(tx, caller)
            account = Account.open(self._new_number(), caller, product_code, self._clock.now())
            await tx.accounts.add(account)
            return [account]

        digest = request_digest("OpenAccount", customer_id=customer_id, product_code=product_code)
        [account] = await self._once(caller, key, digest, act)
        return account

    async def deposit(self, cmd: Deposit) -> Account:
        return await self._move(cmd, "Deposit", Account.deposit, BalanceChangeKind.DEPOSIT)

    async def withdraw(self, cmd: Withdraw) -> Account:
        """Never below zero: InsufficientFunds."""
        return await self._move(cmd, "Withdraw", Account.withdraw, BalanceChangeKind.WITHDRAWAL)

    async def transfer(self, cmd: Transfer) -> TransferResult:
        """From one of the caller's open accounts to any open account whose customer is not terminated, in one
        transaction. A destination customer the replica has never seen is accepted: its account was opened,
        so it was in NORMAL status then, and only a termination (which the replica would hold) forbids it.
        Another customer's destination account is answered by its number only, never its balance."""
        caller = self._caller(cmd.access_token)
        source = parse_account_number(cmd.from_account_number, "from_account_number")
        target = parse_account_number(cmd.to_account_number, "to_account_number")
        if source == target:
            raise InvalidArgument("to_account_number", "must differ from from_account_number")
        amount = parse_amount(cmd.amount, self._max_amount)
        key = parse_idempotency_key(cmd.idempotency_key)

        async def act(tx: AccountUnitOfWork) -> list[Account]:
            await self._require_normal(tx, caller)
            loaded = {number: await tx.accounts.get(number) for number in sorted((source, target))}  # lock order
            debit, credit = loaded[source], loaded[target]
            if debit is None or not debit.owned_by(caller):
                raise AccountNotFound()
            if debit.status is not AccountStatus.OPEN:
                raise AccountNotOpen()
            if credit is None:
                raise DestinationNotFound()
            if credit.status is not AccountStatus.OPEN:
                raise AccountNotOpen("the destination account")
            if not credit.owned_by(caller):
                standing = await tx.customers.get(credit.customer_id)
                if standing is not None and standing.status is CustomerStatus.TERMINATED:
                    raise DestinationCustomerTerminated()
            now = self._clock.now()
            debit.withdraw(amount, cmd.correlation_id, now, BalanceChangeKind.TRANSFER_OUT)
            credit.deposit(amount, cmd.correlation_id, now, BalanceChangeKind.TRANSFER_IN)
            return [debit, credit]

        digest = request_digest("Transfer", from_account_number=source, to_account_number=target, amount=amount)
        debit, credit = await self._once(caller, key, digest, act)
        return TransferResult(debit, credit if credit.owned_by(caller) else None, target)

    async def close_account(self, cmd: CloseAccount) -> Account:
        """Only at zero balance. Not a money movement: allowed whatever the customer's status, so that a
        suspended or terminated customer can still close an emptied account."""
        caller = self._caller(cmd.access_token)
        number = parse_account_number(cmd.account_number)
        key = parse_idempotency_key(cmd.idempotency_key)

        async def act(tx: AccountUnitOfWork) -> list[Account]:
            account = await self._own(tx, number, caller)
            account.close(self._clock.now())
            return [account]

        [account] = await self._once(caller, key, request_digest("CloseAccount", account_number=number), act)
        return account

    # -- queries --------------------------------------------------------------------------------------------

    async def get_account(self, query: GetAccount) -> Account:
        """One of the caller's accounts, open or closed, whatever the customer's status."""
        caller = self._caller(query.access_token)
        number = parse_account_number(query.account_number)
        async with self._uow() as tx:
            return await self._own(tx, number, caller)

    # -- the customer status replica -----------------------------------------------------------------------

    async def record_customer_status(self, cmd: RecordCustomerStatus, tx: AccountUnitOfWork) -> None:
        """Apply a customer event inside the consumer's transaction, only if newer than what is held."""
        standing = CustomerStanding(parse_id(cmd.customer_id, "customer_id"), CustomerStatus(cmd.status), cmd.version)
        if standing.is_newer_than(await tx.customers.get(standing.customer_id)):
            await tx.customers.put(standing)

    # -- the steps every command shares -------------------------------------------------------------------

    def _caller(self, access_token: str) -> str:
        """The customer id of a valid access token; InvalidToken otherwise. Checked before anything else, so
        an unauthenticated caller learns nothing, not even which field is malformed."""
        if not access_token or len(access_token) > MAX_TOKEN_LENGTH:
            raise InvalidToken()
        return self._tokens.verify(access_token, self._clock.now()).customer_id

    async def _move(
        self,
        cmd: Deposit | Withdraw,
        method: str,
        change: Callable[[Account, int, str, Any, BalanceChangeKind], None],
        kind: BalanceChangeKind,
    ) -> Account:
        caller = self._caller(cmd.access_token)
        number = parse_account_number(cmd.account_number)
        amount = parse_amount(cmd.amount, self._max_amount)
        key = parse_idempotency_key(cmd.idempotency_key)

        async def act(tx: AccountUnitOfWork) -> list[Account]:
            await self._require_normal(tx, caller)
            account = await self._own(tx, number, caller)
            change(account, amount, cmd.correlation_id, self._clock.now(), kind)
            return [account]

        [account] = await self._once(caller, key, request_digest(method, account_number=number, amount=amount), act)
        return account

    async def _once(self, caller: str, key: str, digest: str, act: Action) -> list[Account]:
        """Run `act` and commit it with its idempotency record, or answer the record already stored."""
        for _attempt in range(ATTEMPTS):
            try:
                async with self._uow() as tx:
                    record = await tx.idempotency.get(caller, key)
                    if record is not None:
                        if record.request_digest != digest:
                            raise IdempotencyKeyReused("this idempotency key was used for a different request")
                        return [Account.from_snapshot(s) for s in json.loads(record.result)]
                    accounts = await act(tx)
                    result = json.dumps([a.snapshot() for a in accounts], separators=(",", ":"))
                    await tx.idempotency.add(IdempotencyRecord(caller, key, digest, result, self._clock.now()))
                    await tx.commit()
                    return accounts
            except AlreadyExists:
                continue  # a taken account number, or the same key committed meanwhile: decide again
        raise DependencyUnavailable("the request could not be completed; try again with the same idempotency key")

    @staticmethod
    async def _require_normal(tx: AccountUnitOfWork, customer_id: str) -> None:
        """Fail closed: a customer the replica has not seen yet is not in normal status."""
        standing = await tx.customers.get(customer_id)
        if standing is None or not standing.is_normal():
            raise CustomerNotNormal()

    @staticmethod
    async def _own(tx: AccountUnitOfWork, number: str, caller: str) -> Account:
        account = await tx.accounts.get(number)
        if account is None or not account.owned_by(caller):
            raise AccountNotFound()  # another customer's account: the same answer as an unknown one
        return account
