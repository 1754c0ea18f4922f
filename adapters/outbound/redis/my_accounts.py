"""The my_accounts view in Redis: the same ports as the SQL store (adapters/outbound/sqlalchemy/my_accounts.py),
the projector's unit of work and the ViewReader, so a deployment picks whichever store fits it.

Keys (P is the key prefix, MY_ACCOUNTS_REDIS_PREFIX: one per environment, test run or rebuilt generation, e.g.
"bank:my_accounts"):

    P:account:<account number>   hash    customer_id, product_code, balance, sequence, status (OPEN|CLOSED),
                                          as_of (microseconds since the Unix epoch, UTC)
    P:accounts                   zset    every account number, open and closed, all with score 0: Redis orders
                                          equal scores by the member's bytes, so ZRANGE BYLEX pages by number
                                          (page(); the same order as SQL's BINARY collation)
    P:open:<customer id>         zset    the customer's OPEN account numbers, score 0 (accounts_of(), in order)
    P:standing:<customer id>     hash    status, version
    P:revoked_sessions           hash    session id -> revoked at (µs); the first revocation is kept
    P:revoked_members            hash    member id -> every session issued at or before this (µs) is revoked;
                                          only ever moves later
    P:inbox:<event id>           string  when it was applied (µs); optional expiry (inbox_ttl)
    P:caught_up_at               string  when the projector last had applied everything published (µs)

Writes: a unit of work reads through to Redis but keeps every write of its batch in memory (so a handler later
in the batch reads what an earlier one wrote); commit() sends them all in ONE Lua script, which Redis runs
atomically: either the whole batch, inbox entries included, is applied or nothing is. The script first checks
that none of the batch's event ids is in the inbox yet (another projector, or a retry of this very commit after
a lost reply, got there first: it then writes nothing and the commit raises ConcurrentProjection, so the
runner re-applies the records one by one and finds them duplicates), then writes each account, standing and
member revocation only if it is newer than what Redis holds (sequence, version, time), comparing inside the
script, so two projectors racing during a rebalance can never move the view backwards. Numbers travel as
decimal strings and are compared as such (length, then digits): exact for any non-negative 64-bit value.
(Redis does not roll back a script that fails half-way; only a foreign key of the wrong type under P could
make this one fail after its first write.)

Reads: accounts_of() and page() are one read-only Lua script each (the sorted-set range and every account's
hash in one atomic step: a consistent snapshot in one round trip); standing, is_revoked and caught_up_at are
plain reads. Connection faults surface as DependencyUnavailable, like the SQL store's.

Deployment: standalone Redis (or a primary with replicas/Sentinel). The scripts also touch keys they derive
from the data, so on a Redis Cluster every key must be in one slot: give the prefix a hash tag, e.g.
"{bank:my_accounts}" (each script names P:accounts as its key, so a cluster client routes it to that slot);
not tried on a cluster here. Run Redis with maxmemory-policy noeviction: an evicted key would silently
vanish from the view (scripts/redis-local.sh does so)."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Self

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from domain.my_accounts.model import ViewedAccount, ViewedAccountStatus
from domain.shared.clock import Clock
from domain.shared.errors import DependencyUnavailable
from domain.shared.standing import CustomerStanding, CustomerStatus

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ACCOUNT_FIELDS = ("customer_id", "product_code", "balance", "sequence", "status", "as_of")

# KEYS[1] = P:accounts (names the slot); ARGV[1] = P, ARGV[2] = the batch (JSON, every number a decimal string),
# ARGV[3] = the inbox entries' expiry in ms ("0": none). Returns {1} when applied, {0, event id} when an event
# of the batch was already in the inbox (then nothing is written).
_COMMIT = """
local p = ARGV[1]
local batch = cjson.decode(ARGV[2])
local ttl = tonumber(ARGV[3])
local function newer(a, b)  -- non-negative integers as decimal strings: is a > b?
  if b == false or b == nil then return true end
  if #a ~= #b then return #a > #b end
  return a > b
end
for _, id in ipairs(batch.inbox) do
  if redis.call('EXISTS', p .. ':inbox:' .. id) == 1 then return {0, id} end
end
for _, a in ipairs(batch.accounts) do
  local key = p .. ':account:' .. a.number
  local held = redis.call('HMGET', key, 'sequence', 'customer_id')
  if newer(a.sequence, held[1]) then
    redis.call('HSET', key, 'customer_id', a.customer_id, 'product_code', a.product_code, 'balance', a.balance,
      'sequence', a.sequence, 'status', a.status, 'as_of', a.as_of)
    redis.call('ZADD', KEYS[1], 0, a.number)
    if held[2] and held[2] ~= a.customer_id then redis.call('ZREM', p .. ':open:' .. held[2], a.number) end
    if a.status == 'OPEN' then
      redis.call('ZADD', p .. ':open:' .. a.customer_id, 0, a.number)
    else
      redis.call('ZREM', p .. ':open:' .. a.customer_id, a.number)
    end
  end
end
for _, s in ipairs(batch.standings) do
  local key = p .. ':standing:' .. s.customer_id
  if newer(s.version, redis.call('HGET', key, 'version')) then
    redis.call('HSET', key, 'status', s.status, 'version', s.version)
  end
end
for _, r in ipairs(batch.sessions) do
  redis.call('HSETNX', p .. ':revoked_sessions', r[1], r[2])
end
for _, r in ipairs(batch.members) do
  if newer(r[2], redis.call('HGET', p .. ':revoked_members', r[1])) then
    redis.call('HSET', p .. ':revoked_members', r[1], r[2])
  end
end
for _, id in ipairs(batch.inbox) do
  if ttl > 0 then
    redis.call('SET', p .. ':inbox:' .. id, batch.now, 'PX', ttl)
  else
    redis.call('SET', p .. ':inbox:' .. id, batch.now)
  end
end
return {1}
"""

# KEYS[1] = P:accounts (names the slot); ARGV[1] = P, ARGV[2] = the sorted set to range over,
# ARGV[3] = the exclusive lower bound ("" for the start), ARGV[4] = at most this many ("0": all).
# Returns number, then the ACCOUNT_FIELDS, per account, flat.
_READ_ACCOUNTS = """
local p = ARGV[1]
local low = '-'
if ARGV[3] ~= '' then low = '(' .. ARGV[3] end
local numbers
if ARGV[4] == '0' then
  numbers = redis.call('ZRANGE', ARGV[2], low, '+', 'BYLEX')
else
  numbers = redis.call('ZRANGE', ARGV[2], low, '+', 'BYLEX', 'LIMIT', 0, tonumber(ARGV[4]))
end
local out = {}
for _, n in ipairs(numbers) do
  local h = redis.call('HMGET', p .. ':account:' .. n,
    'customer_id', 'product_code', 'balance', 'sequence', 'status', 'as_of')
  if h[1] then
    out[#out + 1] = n
    for i = 1, 6 do out[#out + 1] = h[i] end
  end
end
return out
"""


class ConcurrentProjection(Exception):
    """An event of the batch was applied by someone else meanwhile: nothing of this batch was written."""


def micros(at: datetime) -> int:
    return (at - EPOCH) // timedelta(microseconds=1)


def from_micros(value: str | int) -> datetime:
    return EPOCH + timedelta(microseconds=int(value))


def _count(value: int, what: str) -> str:
    """A non-negative integer as the decimal string the scripts compare."""
    if value < 0:
        raise ValueError(f"{what} must not be negative")
    return str(int(value))


@contextlib.contextmanager
def _faults() -> Iterator[None]:
    """Redis being away (or full) is the dependency's fault, not the record's: DependencyUnavailable, with the
    driver's text kept out of the message."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError) as exc:
        log.warning("redis unavailable: %s", type(exc).__name__)
        raise DependencyUnavailable("the view's store is unavailable; nothing was changed") from None
    except ResponseError as exc:
        if not str(exc).startswith(("OOM", "LOADING", "MASTERDOWN", "READONLY")):
            raise
        log.warning("redis refused: %s", str(exc).split(" ", 1)[0])
        raise DependencyUnavailable("the view's store is unavailable; nothing was changed") from None


class RedisView:
    """The view's keys on one Redis: the projector's units of work, the freshness mark, and the reader."""

    def __init__(self, client: Redis, prefix: str, clock: Clock, inbox_ttl: timedelta | None = None) -> None:
        if not prefix:
            raise ValueError("a key prefix is required")
        self.client = client
        self.prefix = prefix
        self.clock = clock
        self.inbox_ttl = inbox_ttl
        self._commit = client.register_script(_COMMIT)
        self._read_accounts = client.register_script(_READ_ACCOUNTS)
        self.reader = RedisViewReader(self)

    @classmethod
    def from_url(cls, url: str, prefix: str, clock: Clock, inbox_ttl: timedelta | None = None) -> RedisView:
        client = Redis.from_url(url, decode_responses=True, socket_timeout=5.0, socket_connect_timeout=2.0)
        return cls(client, prefix, clock, inbox_ttl)

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def unit_of_work(self) -> RedisProjectionUnitOfWork:
        return RedisProjectionUnitOfWork(self)

    async def ping(self) -> None:
        """Raises unless the server answers (readiness)."""
        with _faults():
            await self.client.ping()

    async def mark_caught_up(self, at: datetime) -> None:
        """Record that the projector has applied everything published up to `at`."""
        with _faults():
            await self.client.set(self.key("caught_up_at"), micros(at))

    async def close(self) -> None:
        await self.client.aclose()

    async def apply(self, batch: dict[str, Any]) -> None:
        ttl = 0 if self.inbox_ttl is None else max(1, self.inbox_ttl // timedelta(milliseconds=1))
        with _faults():
            outcome = await self._commit(keys=[self.key("accounts")], args=[self.prefix, json.dumps(batch), ttl])
        if int(outcome[0]) != 1:
            raise ConcurrentProjection("an event of this batch was already applied; nothing was written")

    async def read_accounts(self, zset: str, after: str, limit: int) -> list[ViewedAccount]:
        with _faults():
            flat = await self._read_accounts(keys=[self.key("accounts")], args=[self.prefix, zset, after, limit])
        width = 1 + len(ACCOUNT_FIELDS)
        return [_account(flat[i], flat[i + 1 : i + width]) for i in range(0, len(flat), width)]


def _account(number: str, fields: list[str]) -> ViewedAccount:
    customer_id, product_code, balance, sequence, status, as_of = fields
    return ViewedAccount(
        number,
        customer_id,
        product_code,
        int(balance),
        int(sequence),
        ViewedAccountStatus(status),
        from_micros(as_of),
    )


class _Inbox:
    def __init__(self, uow: RedisProjectionUnitOfWork) -> None:
        self._uow = uow

    async def first_delivery(self, message_id: str) -> bool:
        if message_id in self._uow.pending_inbox:
            return False
        with _faults():
            if await self._uow.view.client.exists(self._uow.view.key("inbox", message_id)):
                return False
        self._uow.pending_inbox.append(message_id)
        return True


class _Accounts:
    def __init__(self, uow: RedisProjectionUnitOfWork) -> None:
        self._uow = uow

    async def get(self, account_number: str) -> ViewedAccount | None:
        if account_number in self._uow.pending_accounts:
            return self._uow.pending_accounts[account_number]
        view = self._uow.view
        with _faults():
            fields = await view.client.hmget(view.key("account", account_number), list(ACCOUNT_FIELDS))
        return None if fields[0] is None else _account(account_number, fields)

    async def put(self, account: ViewedAccount) -> None:
        """Stored on commit unless Redis then holds this sequence or a newer one."""
        held = self._uow.pending_accounts.get(account.account_number)
        if held is None or account.sequence > held.sequence:
            self._uow.pending_accounts[account.account_number] = account


class _Standings:
    def __init__(self, uow: RedisProjectionUnitOfWork) -> None:
        self._uow = uow

    async def get(self, customer_id: str) -> CustomerStanding | None:
        if customer_id in self._uow.pending_standings:
            return self._uow.pending_standings[customer_id]
        return await self._uow.view.reader.standing(customer_id)

    async def put(self, standing: CustomerStanding) -> None:
        """Stored on commit unless Redis then holds this version or a newer one."""
        if standing.is_newer_than(self._uow.pending_standings.get(standing.customer_id)):
            self._uow.pending_standings[standing.customer_id] = standing


class _Revocations:
    def __init__(self, uow: RedisProjectionUnitOfWork) -> None:
        self._uow = uow

    async def revoke_sessions(self, session_ids: tuple[str, ...], at: datetime) -> None:
        for session_id in session_ids:
            self._uow.pending_sessions.setdefault(session_id, at)

    async def revoke_member(self, member_id: str, before: datetime) -> None:
        held = self._uow.pending_members.get(member_id)
        self._uow.pending_members[member_id] = before if held is None else max(held, before)


class RedisProjectionUnitOfWork:
    """One batch of the projector: reads go to Redis (and see this batch's own writes), writes wait for
    commit(), which applies them all, inbox entries included, in one atomic script. Leaving the block without
    commit drops them: nothing reached Redis."""

    def __init__(self, view: RedisView) -> None:
        self.view = view
        self.accounts = _Accounts(self)
        self.customers = _Standings(self)
        self.revocations = _Revocations(self)
        self.inbox = _Inbox(self)
        self._reset()

    def _reset(self) -> None:
        self.pending_inbox: list[str] = []
        self.pending_accounts: dict[str, ViewedAccount] = {}
        self.pending_standings: dict[str, CustomerStanding] = {}
        self.pending_sessions: dict[str, datetime] = {}
        self.pending_members: dict[str, datetime] = {}

    async def __aenter__(self) -> Self:
        self._reset()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._reset()  # whatever was not committed is simply dropped

    def record(self, *events: object) -> None:
        raise NotImplementedError("the my_accounts view publishes no events")

    async def commit(self) -> None:
        batch = {
            "now": str(micros(self.view.clock.now())),
            "inbox": self.pending_inbox,
            "accounts": [
                {
                    "number": a.account_number,
                    "customer_id": a.customer_id,
                    "product_code": a.product_code,
                    "balance": str(a.balance),
                    "sequence": _count(a.sequence, "sequence"),
                    "status": a.status.value,
                    "as_of": str(micros(a.as_of)),
                }
                for a in self.pending_accounts.values()
            ],
            "standings": [
                {"customer_id": s.customer_id, "status": s.status.value, "version": _count(s.version, "version")}
                for s in self.pending_standings.values()
            ],
            "sessions": [[sid, str(micros(at))] for sid, at in self.pending_sessions.items()],
            "members": [[mid, _count(micros(at), "revocation time")] for mid, at in self.pending_members.items()],
        }
        if any(batch[k] for k in ("inbox", "accounts", "standings", "sessions", "members")):
            await self.view.apply(batch)
        self._reset()


class RedisViewReader:
    """Reads for queries: a consistent snapshot per call, never blocking the projector for long."""

    def __init__(self, view: RedisView) -> None:
        self._view = view

    async def accounts_of(self, customer_id: str) -> list[ViewedAccount]:
        return await self._view.read_accounts(self._view.key("open", customer_id), "", 0)

    async def page(self, after: str, limit: int) -> list[ViewedAccount]:
        if limit <= 0:
            return []
        return await self._view.read_accounts(self._view.key("accounts"), after, limit)

    async def standing(self, customer_id: str) -> CustomerStanding | None:
        with _faults():
            status, version = await self._view.client.hmget(
                self._view.key("standing", customer_id), ["status", "version"]
            )
        return None if status is None else CustomerStanding(customer_id, CustomerStatus(status), int(version))

    async def is_revoked(self, session_id: str, member_id: str, issued_at: datetime) -> bool:
        with _faults():
            async with self._view.client.pipeline(transaction=True) as pipe:
                pipe.hexists(self._view.key("revoked_sessions"), session_id)
                pipe.hget(self._view.key("revoked_members"), member_id)
                session_revoked, revoked_before = await pipe.execute()
        return bool(session_revoked) or (revoked_before is not None and int(revoked_before) >= micros(issued_at))

    async def caught_up_at(self) -> datetime | None:
        with _faults():
            value = await self._view.client.get(self._view.key("caught_up_at"))
        return None if value is None else from_micros(value)
