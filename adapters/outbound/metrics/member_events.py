"""Login outcomes and lockouts, counted from the member context's committed events: LoginSucceeded,
LoginFailed (with its reason) and MemberLocked. The domain stays free of metrics; this adapter is wired as
the member service's `Storage.on_events`.

LoginFailed is also what a wrong current password in ChangePassword records (it counts toward the lockout),
so it is counted here too: it is a failed proof of the password either way. Logins refused before the
domain decides (throttled or shed: RESOURCE_EXHAUSTED) make no event; `bank_rpc_shed_total` counts them."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.common.metrics import LOGIN_ATTEMPTS, MEMBER_LOCKOUTS
from domain.member.events import LoginFailed, LoginFailureReason, LoginSucceeded, MemberLocked
from domain.shared.events import DomainEvent


def initialize() -> None:
    """Every outcome at 0 from the start, so rate() and increase() see the first one."""
    LOGIN_ATTEMPTS.labels("success", "")
    for reason in LoginFailureReason:
        LOGIN_ATTEMPTS.labels("failure", reason.value.lower())
    for kind in ("temporary", "permanent"):
        MEMBER_LOCKOUTS.labels(kind)


def count_member_events(events: Sequence[DomainEvent]) -> None:
    for event in events:
        if isinstance(event, LoginSucceeded):
            LOGIN_ATTEMPTS.labels("success", "").inc()
        elif isinstance(event, LoginFailed):
            LOGIN_ATTEMPTS.labels("failure", LoginFailureReason(event.reason).value.lower()).inc()
        elif isinstance(event, MemberLocked):
            MEMBER_LOCKOUTS.labels("permanent" if event.locked_until is None else "temporary").inc()
