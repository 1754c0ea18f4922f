"""One banking member per customer: members.customer_id becomes unique (it was only indexed).

The handlers already refuse a second enrollment; on PostgreSQL two enrollments racing at READ COMMITTED could
both find no member, and this index stops the second one at commit.

Revision ID: 0002
Revises: 0001

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_members_customer_id"))
        batch_op.create_index(batch_op.f("ix_members_customer_id"), ["customer_id"], unique=True)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_members_customer_id"))
        batch_op.create_index(batch_op.f("ix_members_customer_id"), ["customer_id"], unique=False)
