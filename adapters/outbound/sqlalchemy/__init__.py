"""SQLAlchemy (Core, async) persistence: engines, the unit of work with outbox and inbox, repositories."""
