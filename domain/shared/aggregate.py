"""What every aggregate has: the events it recorded since it was loaded, for the unit of work to publish."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.shared.events import DomainEvent


@dataclass(kw_only=True)
class Aggregate:
    pending_events: list[DomainEvent] = field(default_factory=list, repr=False, compare=False)

    def take_events(self) -> list[DomainEvent]:
        """The recorded events, handed over once."""
        events, self.pending_events = self.pending_events, []
        return events
