"""What the my_accounts view follows, translated from integration events into the view's own facts: the
anti-corruption layer between the producers' contracts and the view."""

from __future__ import annotations

from typing import Any

from adapters.common.protobuf import from_timestamp
from adapters.inbound.kafka.customer_events import TOPIC as CUSTOMER_TOPIC
from adapters.inbound.kafka.customer_events import customer_status_routes
from adapters.inbound.kafka.runner import PoisonMessage, Route
from bank.account.v1 import events_pb2 as account_pb
from bank.member.v1 import events_pb2 as member_pb
from domain.my_accounts import events
from domain.my_accounts.handlers import Projector

ACCOUNT_TOPIC = "bank.account.events.v1"
MEMBER_TOPIC = "bank.member.events.v1"
TOPICS = [CUSTOMER_TOPIC, MEMBER_TOPIC, ACCOUNT_TOPIC]


def _time(ts: Any) -> Any:
    """The event's time; one outside the Timestamp range (year 1-9999) makes the event poison, not a
    handler failure to retry."""
    try:
        return from_timestamp(ts)
    except (ValueError, OverflowError):
        raise PoisonMessage("invalid-timestamp") from None


def projection_routes(projector: Projector) -> dict[str, Route]:
    async def opened(e: account_pb.AccountOpened, tx: Any) -> None:
        await projector.account_opened(
            events.AccountOpened(e.account_number, e.customer_id, e.product_code, e.sequence, _time(e.occurred_at)),
            tx,
        )

    async def changed(e: account_pb.BalanceChanged, tx: Any) -> None:
        await projector.balance_changed(
            events.BalanceChanged(e.account_number, e.customer_id, e.balance, e.sequence, _time(e.occurred_at)),
            tx,
        )

    async def closed(e: account_pb.AccountClosed, tx: Any) -> None:
        await projector.account_closed(
            events.AccountClosed(e.account_number, e.customer_id, e.sequence, _time(e.occurred_at)), tx
        )

    async def revoked(e: member_pb.SessionsRevoked, tx: Any) -> None:
        await projector.sessions_revoked(
            events.SessionsRevoked(
                e.member_id, e.customer_id, tuple(e.session_ids), e.all_sessions, _time(e.occurred_at)
            ),
            tx,
        )

    async def terminated(e: member_pb.MemberTerminated, tx: Any) -> None:
        # Also announced by SessionsRevoked(all_sessions); applying both is harmless and guards against order.
        await projector.sessions_revoked(
            events.SessionsRevoked(e.member_id, e.customer_id, (), True, _time(e.occurred_at)), tx
        )

    routes = {
        "bank.account.v1.AccountOpened": Route(account_pb.AccountOpened, opened),
        "bank.account.v1.BalanceChanged": Route(account_pb.BalanceChanged, changed),
        "bank.account.v1.AccountClosed": Route(account_pb.AccountClosed, closed),
        "bank.member.v1.SessionsRevoked": Route(member_pb.SessionsRevoked, revoked),
        "bank.member.v1.MemberTerminated": Route(member_pb.MemberTerminated, terminated),
    }
    return routes | customer_status_routes(projector.customer_status)
