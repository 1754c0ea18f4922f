"""One fake per port, for tests of the hexagon's inside. The contract suites in tests/contract run the same
checks against these fakes and the real adapters, so the fakes cannot drift."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any, Self

from domain.customer.model import Customer
from domain.shared.events import DomainEvent


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 1, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)


class FakeInbox:
    def __init__(self, processed: set[str]) -> None:
        self._processed = processed
        self.pending: set[str] = set()

    async def first_delivery(self, message_id: str) -> bool:
        if message_id in self._processed or message_id in self.pending:
            return False
        self.pending.add(message_id)
        return True


class FakeStore:
    """What a fake database holds: rows by key, the committed outbox, the processed message ids."""

    def __init__(self) -> None:
        self.rows: dict[str, Any] = {}
        self.outbox: list[DomainEvent] = []
        self.processed: set[str] = set()


class FakeCustomerRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store
        self.seen: list[Customer] = []

    async def add(self, customer: Customer) -> None:
        self.seen.append(customer)

    async def get(self, customer_id: str) -> Customer | None:
        row = self._store.rows.get(customer_id)
        if row is None:
            return None
        customer = copy.deepcopy(row)  # a copy, as a database would give: changes count only when committed
        self.seen.append(customer)
        return customer


class FakeCustomerUnitOfWork:
    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.committed = False

    async def __aenter__(self) -> Self:
        self.customers = FakeCustomerRepository(self.store)
        self.inbox = FakeInbox(self.store.processed)
        self._recorded: list[DomainEvent] = []
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        pass  # uncommitted work is simply dropped

    def record(self, *events: DomainEvent) -> None:
        self._recorded.extend(events)

    async def commit(self) -> None:
        for customer in self.customers.seen:
            self.store.outbox.extend(customer.take_events())
            self.store.rows[customer.customer_id] = copy.deepcopy(customer)
        self.store.outbox.extend(self._recorded)
        self.store.processed |= self.inbox.pending
        self.committed = True


# -- member context ---------------------------------------------------------------------------------------

from contextlib import asynccontextmanager  # noqa: E402
from hashlib import sha256  # noqa: E402

from domain.member.errors import InvalidToken  # noqa: E402
from domain.member.model import BankingMember, CustomerStanding  # noqa: E402
from domain.member.ports import AccountsSnapshot, AccountsSnapshotState, IssuedAccessToken  # noqa: E402
from domain.member.session import Session  # noqa: E402
from domain.shared.errors import AlreadyExists, Overloaded  # noqa: E402
from domain.shared.tokens import AccessClaims  # noqa: E402


class FakePasswordHasher:
    """'Hashes' by tagging the password with a version; counts what the real pool would do."""

    def __init__(self, version: str = "v2", capacity: int = 1_000_000) -> None:
        self.version = version
        self.capacity = capacity
        self.admitted = 0
        self.hashes = self.verifies = self.dummy_verifies = 0

    @asynccontextmanager
    async def admit(self):  # type: ignore[no-untyped-def]
        if self.admitted >= self.capacity:
            raise Overloaded("too many login attempts right now; try again in 1 seconds", 1)
        self.admitted += 1
        try:
            yield
        finally:
            self.admitted -= 1

    async def hash(self, password: str) -> str:
        self.hashes += 1
        return f"{self.version}${sha256(password.encode()).hexdigest()}"

    async def verify(self, password_hash: str, password: str) -> bool:
        self.verifies += 1
        return password_hash.split("$", 1)[-1] == sha256(password.encode()).hexdigest()

    async def verify_dummy(self, password: str) -> None:
        self.dummy_verifies += 1

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(f"{self.version}$")


class FakeTokenService:
    """Access tokens are readable strings; verification checks what the real one checks that matters here."""

    lifetime = 300

    def __init__(self) -> None:
        self.issued: dict[str, AccessClaims] = {}
        self._counter = 0

    def issue_access_token(self, member: BankingMember, session: Session, now: datetime) -> IssuedAccessToken:
        self._counter += 1
        token = f"at-{self._counter}"
        self.issued[token] = AccessClaims(
            member.customer_id, member.member_id, session.session_id, token, now, now + timedelta(seconds=self.lifetime)
        )
        return IssuedAccessToken(token, self.lifetime)

    def verify_access_token(self, token: str, now: datetime) -> AccessClaims:
        claims = self.issued.get(token)
        if claims is None or now >= claims.expires_at:
            raise InvalidToken()
        return claims

    def new_refresh_token(self) -> str:
        self._counter += 1
        return f"rt-{self._counter}"

    def refresh_token_digest(self, token: str) -> str:
        return sha256(token.encode()).hexdigest()


class FakeThrottle:
    def __init__(self, limit: int = 1_000_000) -> None:
        self.limit = limit
        self.counts: dict[str, int] = {}

    def check(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1
        if self.counts[key] > self.limit:
            raise Overloaded("too many attempts; try again in 1 seconds", 1)


class FakeAccountsDirectory:
    def __init__(self, snapshot: AccountsSnapshot | None = None) -> None:
        self.result = snapshot or AccountsSnapshot(AccountsSnapshotState.UNAVAILABLE)
        self.asked: list[str] = []

    async def snapshot(self, customer_id: str) -> AccountsSnapshot:
        self.asked.append(customer_id)
        return self.result


class FakeCommonPasswords:
    def __init__(self, entries: set[str] | None = None) -> None:
        self.entries = entries or {"password1234", "qwertyuiop123"}

    def __contains__(self, candidate: str) -> bool:
        return candidate.casefold() in self.entries


class FakeMemberStore(FakeStore):
    def __init__(self) -> None:
        super().__init__()
        self.members: dict[str, BankingMember] = {}
        self.sessions: dict[str, Session] = {}
        self.digests: dict[str, str] = {}  # every refresh digest ever issued -> session id
        self.standings: dict[str, CustomerStanding] = {}


class _FakeMembers:
    def __init__(self, store: FakeMemberStore, seen: list) -> None:
        self._store, self._seen = store, seen

    def _track(self, member: BankingMember | None) -> BankingMember | None:
        if member is None:
            return None
        for already in self._seen:
            if getattr(already, "member_id", None) == member.member_id and isinstance(already, BankingMember):
                return already
        copy_ = copy.deepcopy(member)
        self._seen.append(copy_)
        return copy_

    async def add(self, member: BankingMember) -> None:
        self._seen.append(member)

    async def get(self, member_id: str) -> BankingMember | None:
        return self._track(self._store.members.get(member_id))

    async def by_banking_id(self, banking_id: str) -> BankingMember | None:
        return self._track(next((m for m in self._store.members.values() if m.banking_id == banking_id), None))

    async def of_customer(self, customer_id: str) -> list[BankingMember]:
        return [self._track(m) for m in self._store.members.values() if m.customer_id == customer_id]  # type: ignore[misc]


class _FakeSessions:
    def __init__(self, store: FakeMemberStore, seen: list) -> None:
        self._store, self._seen = store, seen

    def _track(self, session: Session | None) -> Session | None:
        if session is None:
            return None
        for already in self._seen:
            if isinstance(already, Session) and already.session_id == session.session_id:
                return already
        copy_ = copy.deepcopy(session)
        self._seen.append(copy_)
        return copy_

    async def add(self, session: Session) -> None:
        self._seen.append(session)

    async def get(self, session_id: str) -> Session | None:
        return self._track(self._store.sessions.get(session_id))

    async def by_refresh_digest(self, digest: str) -> Session | None:
        session_id = self._store.digests.get(digest)
        return self._track(self._store.sessions.get(session_id)) if session_id else None

    async def active_of_member(self, member_id: str) -> list[Session]:
        return [
            self._track(s) for s in self._store.sessions.values() if s.member_id == member_id and s.revoked_at is None
        ]  # type: ignore[misc]


class _FakeStandings:
    def __init__(self, pending: dict[str, CustomerStanding], store: FakeMemberStore) -> None:
        self._pending, self._store = pending, store

    async def get(self, customer_id: str) -> CustomerStanding | None:
        return self._pending.get(customer_id) or copy.deepcopy(self._store.standings.get(customer_id))

    async def put(self, standing: CustomerStanding) -> None:
        held = await self.get(standing.customer_id)
        if held is None or held.version < standing.version:  # as the SQL upsert: only a newer version wins
            self._pending[standing.customer_id] = standing


class FakeMemberLookup:
    """The MemberLookup port: what the store holds (committed), as a copy nobody else changes."""

    def __init__(self, store: FakeMemberStore) -> None:
        self._store = store

    async def by_banking_id(self, banking_id: str) -> BankingMember | None:
        found = next((m for m in self._store.members.values() if m.banking_id == banking_id), None)
        return copy.deepcopy(found)


class FakeMemberUnitOfWork:
    def __init__(self, store: FakeMemberStore) -> None:
        self.store = store

    async def __aenter__(self) -> Self:
        self._seen: list = []
        self._standings: dict[str, CustomerStanding] = {}
        self.members = _FakeMembers(self.store, self._seen)
        self.sessions = _FakeSessions(self.store, self._seen)
        self.customers = _FakeStandings(self._standings, self.store)
        self.inbox = FakeInbox(self.store.processed)
        self._recorded: list[DomainEvent] = []
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        pass

    def record(self, *events: DomainEvent) -> None:
        self._recorded.extend(events)

    async def commit(self) -> None:
        owners = {m.banking_id: m.member_id for m in self.store.members.values()}
        for member in (a for a in self._seen if isinstance(a, BankingMember)):
            if owners.setdefault(member.banking_id, member.member_id) != member.member_id:
                raise AlreadyExists("already exists")  # as the unique index: nothing is committed
        for aggregate in self._seen:
            self.store.outbox.extend(aggregate.take_events())
            if isinstance(aggregate, BankingMember):
                self.store.members[aggregate.member_id] = copy.deepcopy(aggregate)
            else:
                for digest in (*aggregate.spent_digests, aggregate.refresh_digest):
                    self.store.digests[digest] = aggregate.session_id
                aggregate.spent_digests = ()
                self.store.sessions[aggregate.session_id] = copy.deepcopy(aggregate)
        self.store.outbox.extend(self._recorded)
        self._recorded = []
        self.store.standings.update(copy.deepcopy(self._standings))
        self.store.processed |= self.inbox.pending


# -- account context --------------------------------------------------------------------------------------

from domain.account.model import Account  # noqa: E402
from domain.account.ports import IdempotencyRecord  # noqa: E402
from domain.shared.errors import FailedPrecondition  # noqa: E402


class FakeAccessTokenVerifier:
    """Tokens are readable strings mapped to claims; expired or unknown ones are InvalidToken."""

    lifetime = timedelta(minutes=5)

    def __init__(self) -> None:
        self.claims: dict[str, AccessClaims] = {}

    def issue(self, customer_id: str, now: datetime) -> str:
        token = f"token-{len(self.claims) + 1}"
        self.claims[token] = AccessClaims(
            customer_id, f"member-{token}", f"sid-{token}", token, now, now + self.lifetime
        )
        return token

    def verify(self, token: str, now: datetime) -> AccessClaims:
        claims = self.claims.get(token)
        if claims is None or now >= claims.expires_at:
            raise InvalidToken()
        return claims


class FakeAccountStore(FakeStore):
    def __init__(self) -> None:
        super().__init__()
        self.accounts: dict[str, Account] = {}
        self.idempotency: dict[tuple[str, str], IdempotencyRecord] = {}
        self.standings: dict[str, CustomerStanding] = {}
        self.loads: list[str] = []  # account numbers in the order units of work loaded them (lock order)


class _FakeAccounts:
    """An identity map over copies of the stored accounts; each remembers the version it was loaded with."""

    def __init__(self, store: FakeAccountStore) -> None:
        self._store = store
        self.added: list[Account] = []
        self.loaded: dict[str, tuple[Account, int]] = {}

    async def add(self, account: Account) -> None:
        self.added.append(account)

    async def get(self, account_number: str) -> Account | None:
        self._store.loads.append(account_number)
        if account_number not in self.loaded:
            stored = self._store.accounts.get(account_number)
            if stored is None:
                return None
            self.loaded[account_number] = (copy.deepcopy(stored), stored.version)
        return self.loaded[account_number][0]


class _FakeIdempotency:
    def __init__(self, store: FakeAccountStore) -> None:
        self._store = store
        self.pending: dict[tuple[str, str], IdempotencyRecord] = {}

    async def get(self, customer_id: str, key: str) -> IdempotencyRecord | None:
        return self.pending.get((customer_id, key)) or self._store.idempotency.get((customer_id, key))

    async def add(self, record: IdempotencyRecord) -> None:
        if await self.get(record.customer_id, record.key) is not None:
            raise AlreadyExists("already exists")  # as the primary key
        self.pending[(record.customer_id, record.key)] = record


class FakeAccountUnitOfWork:
    def __init__(self, store: FakeAccountStore) -> None:
        self.store = store
        self.committed = False

    async def __aenter__(self) -> Self:
        self.accounts = _FakeAccounts(self.store)
        self.idempotency = _FakeIdempotency(self.store)
        self._standings: dict[str, CustomerStanding] = {}
        self.customers = _FakeStandings(self._standings, self.store)  # type: ignore[arg-type]
        self.inbox = FakeInbox(self.store.processed)
        self._recorded: list[DomainEvent] = []
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        pass  # uncommitted work is simply dropped

    def record(self, *events: DomainEvent) -> None:
        self._recorded.extend(events)

    async def commit(self) -> None:
        # Every check first, as the database's constraints would: a refused commit stores nothing.
        taken = set(self.store.accounts)
        for account in self.accounts.added:
            if account.account_number in taken:
                raise AlreadyExists("already exists")
            taken.add(account.account_number)
        for number, (account, loaded_version) in self.accounts.loaded.items():
            if account.version != loaded_version and self.store.accounts[number].version != loaded_version:
                raise FailedPrecondition("changed by another request at the same time; try again")
        for account in [*self.accounts.added, *(a for a, _ in self.accounts.loaded.values())]:
            self.store.outbox.extend(account.take_events())
            self.store.accounts[account.account_number] = copy.deepcopy(account)
        self.store.outbox.extend(self._recorded)
        self._recorded = []
        self.store.idempotency.update(self.idempotency.pending)
        self.store.standings.update(copy.deepcopy(self._standings))
        self.store.processed |= self.inbox.pending
        self.committed = True


# -- operator tokens --------------------------------------------------------------------------------------

from domain.shared.tokens import OperatorClaims  # noqa: E402


class FakeOperatorVerifier:
    """Operator tokens are readable strings mapped to claims; expired or unknown ones are InvalidToken."""

    def __init__(self) -> None:
        self.claims: dict[str, OperatorClaims] = {}

    def issue(self, operator: str, expires_at: datetime) -> str:
        token = f"operator-token-{len(self.claims) + 1}"
        self.claims[token] = OperatorClaims(operator, f"jti-{token}", expires_at)
        return token

    def verify(self, token: str, now: datetime) -> OperatorClaims:
        claims = self.claims.get(token)
        if claims is None or now >= claims.expires_at:
            raise InvalidToken()
        return claims


# -- my_accounts view -------------------------------------------------------------------------------------

from dataclasses import dataclass, field  # noqa: E402

from domain.my_accounts.model import ViewedAccount, ViewedAccountStatus  # noqa: E402


@dataclass
class FakeView:
    """The view in dicts: a ProjectionUnitOfWork factory (`uow`), a ViewReader, and the freshness mark.
    tests/contract/test_my_accounts_view.py holds it to the same contract as the SQL and Redis stores."""

    accounts: dict[str, ViewedAccount] = field(default_factory=dict)
    standings: dict[str, CustomerStanding] = field(default_factory=dict)
    sessions: dict[str, datetime] = field(default_factory=dict)
    members: dict[str, datetime] = field(default_factory=dict)
    caught_up: datetime | None = None
    processed: set[str] = field(default_factory=set)

    def uow(self) -> FakeProjectionUow:
        return FakeProjectionUow(self)

    async def mark_caught_up(self, at: datetime) -> None:
        self.caught_up = at

    # ViewReader
    async def accounts_of(self, customer_id: str) -> list[ViewedAccount]:
        mine = [
            a for a in self.accounts.values() if a.customer_id == customer_id and a.status is ViewedAccountStatus.OPEN
        ]
        return sorted(mine, key=lambda a: a.account_number)

    async def page(self, after: str, limit: int) -> list[ViewedAccount]:
        later = sorted((a for a in self.accounts.values() if a.account_number > after), key=lambda a: a.account_number)
        return later[: max(limit, 0)]

    async def standing(self, customer_id: str) -> CustomerStanding | None:
        return self.standings.get(customer_id)

    async def is_revoked(self, session_id: str, member_id: str, issued_at: datetime) -> bool:
        before = self.members.get(member_id)
        return session_id in self.sessions or (before is not None and before >= issued_at)

    async def caught_up_at(self) -> datetime | None:
        return self.caught_up


class _FakeViewedAccounts:
    def __init__(self, uow: FakeProjectionUow) -> None:
        self._uow = uow
        self.pending: dict[str, ViewedAccount] = {}

    async def get(self, account_number: str) -> ViewedAccount | None:
        return self.pending.get(account_number) or self._uow.view.accounts.get(account_number)

    async def put(self, account: ViewedAccount) -> None:
        held = await self.get(account.account_number)
        if held is None or account.sequence > held.sequence:
            self.pending[account.account_number] = account


class _FakeViewStandings:
    def __init__(self, uow: FakeProjectionUow) -> None:
        self._uow = uow
        self.pending: dict[str, CustomerStanding] = {}

    async def get(self, customer_id: str) -> CustomerStanding | None:
        return self.pending.get(customer_id) or self._uow.view.standings.get(customer_id)

    async def put(self, standing: CustomerStanding) -> None:
        if standing.is_newer_than(await self.get(standing.customer_id)):
            self.pending[standing.customer_id] = standing


class _FakeRevocations:
    def __init__(self) -> None:
        self.sessions: dict[str, datetime] = {}
        self.members: dict[str, datetime] = {}

    async def revoke_sessions(self, session_ids: tuple[str, ...], at: datetime) -> None:
        for session_id in session_ids:
            self.sessions.setdefault(session_id, at)

    async def revoke_member(self, member_id: str, before: datetime) -> None:
        self.members[member_id] = max(before, self.members.get(member_id, before))


class FakeProjectionUow:
    """One batch: writes wait for commit, which applies them all, each only if newer than what is held."""

    def __init__(self, view: FakeView) -> None:
        self.view = view

    async def __aenter__(self) -> Self:
        self.accounts = _FakeViewedAccounts(self)
        self.customers = _FakeViewStandings(self)
        self.revocations = _FakeRevocations()
        self.inbox = FakeInbox(self.view.processed)
        return self

    async def __aexit__(self, *exc: object) -> None:
        pass  # uncommitted work is simply dropped

    def record(self, *events: object) -> None:
        raise AssertionError("the view publishes nothing")

    async def commit(self) -> None:
        view = self.view
        for number, account in self.accounts.pending.items():
            held = view.accounts.get(number)
            if held is None or account.sequence > held.sequence:
                view.accounts[number] = account
        for customer_id, standing in self.customers.pending.items():
            if standing.is_newer_than(view.standings.get(customer_id)):
                view.standings[customer_id] = standing
        for session_id, at in self.revocations.sessions.items():
            view.sessions.setdefault(session_id, at)
        for member_id, before in self.revocations.members.items():
            view.members[member_id] = max(before, view.members.get(member_id, before))
        view.processed |= self.inbox.pending
        self.accounts.pending.clear()
        self.customers.pending.clear()
        self.inbox.pending.clear()
