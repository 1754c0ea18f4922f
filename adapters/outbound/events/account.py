"""The account context's domain events as `bank.account.v1` integration events."""

from __future__ import annotations

from adapters.common.protobuf import timestamp
from adapters.outbound.events.cloudevents import EventEncoder
from bank.account.v1 import events_pb2 as pb
from domain.account import events

TOPIC = "bank.account.events.v1"


def _balance_changed(e: events.BalanceChanged) -> pb.BalanceChanged:
    return pb.BalanceChanged(
        account_number=e.account_number,
        customer_id=e.customer_id,
        balance=e.balance,
        delta=e.delta,
        sequence=e.sequence,
        kind=pb.BalanceChangeKind.Value(f"BALANCE_CHANGE_KIND_{e.kind.value}"),
        correlation_id=e.correlation_id,
        occurred_at=timestamp(e.occurred_at),
    )


account_events = EventEncoder(
    TOPIC,
    "/bank/account",
    {
        events.AccountOpened: lambda e: pb.AccountOpened(
            account_number=e.account_number,
            customer_id=e.customer_id,
            product_code=e.product_code,
            sequence=e.sequence,
            occurred_at=timestamp(e.occurred_at),
        ),
        events.BalanceChanged: _balance_changed,
        events.AccountClosed: lambda e: pb.AccountClosed(
            account_number=e.account_number,
            customer_id=e.customer_id,
            sequence=e.sequence,
            occurred_at=timestamp(e.occurred_at),
        ),
    },
)
