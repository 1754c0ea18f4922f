"""Alembic environment of the customer service: its tables' metadata (see ../../migrate.py)."""

from alembic import context

from adapters.outbound.sqlalchemy import customer as tables
from adapters.outbound.sqlalchemy.migrate import run_env

run_env(context, tables.metadata)
