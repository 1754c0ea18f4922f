"""A Session: what one successful login opened. Its refresh token rotates on every use; a spent refresh
token presented again means it was stolen (or replayed), so the whole session is revoked. A revoked or
expired session's access tokens are refused by the member service at once and by my_accounts as soon as
the SessionsRevoked event reaches it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.member.events import RevocationReason, SessionsRevoked
from domain.shared.aggregate import Aggregate
from domain.shared.ids import new_id

REFRESH_LIFETIME = timedelta(hours=12)


@dataclass(kw_only=True)
class Session(Aggregate):
    session_id: str
    member_id: str
    customer_id: str
    refresh_digest: str  # digest of the one current refresh token
    created_at: datetime
    expires_at: datetime  # the refresh token's end; access tokens are shorter
    revoked_at: datetime | None = None
    version: int = 1
    spent_digests: tuple[str, ...] = ()  # rotated out during this unit of work, for the repository to keep

    @classmethod
    def open(cls, member_id: str, customer_id: str, refresh_digest: str, now: datetime) -> Session:
        return cls(
            session_id=new_id(),
            member_id=member_id,
            customer_id=customer_id,
            refresh_digest=refresh_digest,
            created_at=now,
            expires_at=now + REFRESH_LIFETIME,
        )

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at

    def rotate(self, new_digest: str) -> None:
        """Spend the current refresh token and make `new_digest` the current one."""
        self.spent_digests = (*self.spent_digests, self.refresh_digest)
        self.refresh_digest = new_digest
        self.version += 1

    def revoke(self, reason: RevocationReason, now: datetime, *, announce: bool = True) -> None:
        """End the session; records SessionsRevoked once, unless the caller announces a batch itself."""
        if self.revoked_at is not None:
            return
        self.revoked_at = now
        self.version += 1
        if not announce:
            return
        self.pending_events.append(
            SessionsRevoked(
                event_id=new_id(),
                occurred_at=now,
                customer_id=self.customer_id,
                member_id=self.member_id,
                session_ids=(self.session_id,),
                all_sessions=False,
                reason=reason,
            )
        )
