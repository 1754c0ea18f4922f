"""The member context's domain events as `bank.member.v1` integration events."""

from __future__ import annotations

from typing import Any

from adapters.common.protobuf import timestamp
from adapters.outbound.events.cloudevents import EventEncoder
from bank.member.v1 import events_pb2 as pb
from domain.member import events

TOPIC = "bank.member.events.v1"


def _common(e: events.MemberEvent) -> dict[str, Any]:
    return {"member_id": e.member_id, "customer_id": e.customer_id, "occurred_at": timestamp(e.occurred_at)}


def _locked(e: events.MemberLocked) -> pb.MemberLocked:
    message = pb.MemberLocked(**_common(e), permanent=e.locked_until is None)
    if e.locked_until is not None:
        message.locked_until.CopyFrom(timestamp(e.locked_until))
    return message


member_events = EventEncoder(
    TOPIC,
    "/bank/member",
    {
        events.MemberEnrolled: lambda e: pb.MemberEnrolled(**_common(e)),
        events.LoginSucceeded: lambda e: pb.LoginSucceeded(**_common(e), session_id=e.session_id),
        events.LoginFailed: lambda e: pb.LoginFailed(
            **_common(e),
            reason=pb.LoginFailureReason.Value(f"LOGIN_FAILURE_REASON_{e.reason.value}"),
            consecutive_failures=e.consecutive_failures,
        ),
        events.MemberLocked: _locked,
        events.MemberUnlocked: lambda e: pb.MemberUnlocked(**_common(e)),
        events.MemberTerminated: lambda e: pb.MemberTerminated(**_common(e)),
        events.SessionsRevoked: lambda e: pb.SessionsRevoked(
            **_common(e),
            session_ids=list(e.session_ids),
            all_sessions=e.all_sessions,
            reason=pb.RevocationReason.Value(f"REVOCATION_REASON_{e.reason.value}"),
        ),
        events.PasswordChanged: lambda e: pb.PasswordChanged(**_common(e)),
    },
)
