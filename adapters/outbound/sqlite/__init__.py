"""Reads on SQLite's own driver (sqlite3) where SQLAlchemy's per-statement work cost more than the read."""
