"""Progress per learner (days, sound families, mastery), their settings, and reminders sent.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
UUID_TEXT = sa.String(length=36)


def _learner_key(table: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["telegram_user_id"],
            ["learners.telegram_user_id"],
            name=op.f(f"fk_{table}_telegram_user_id_learners"),
            ondelete="CASCADE",
        ),
    ]


def upgrade() -> None:
    # ADD COLUMN with a default: no table rebuild on SQLite, existing learners get goal 5
    with op.batch_alter_table("learners") as batch:
        batch.add_column(
            sa.Column("daily_goal", sa.Integer(), server_default=sa.text("5"), nullable=False)
        )
        batch.add_column(sa.Column("reminder_time", sa.String(length=5), nullable=True))
        batch.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("weekly_summary", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(sa.Column("blocked_at", TIMESTAMP, nullable=True))
        batch.add_column(sa.Column("next_reminder_at", TIMESTAMP, nullable=True))
    op.create_index(op.f("ix_learners_next_reminder_at"), "learners", ["next_reminder_at"])
    op.create_table(
        "practice_days",
        *_learner_key("practice_days"),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("notes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("telegram_user_id", "day", name=op.f("pk_practice_days")),
    )
    op.create_table(
        "sound_days",
        *_learner_key("sound_days"),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("family", sa.String(length=32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("right", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("telegram_user_id", "day", "family", name=op.f("pk_sound_days")),
    )
    op.create_table(
        "sound_progress",
        *_learner_key("sound_progress"),
        sa.Column("family", sa.String(length=32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("right", sa.Integer(), nullable=False),
        sa.Column("recent", sa.String(length=16), nullable=False),
        sa.Column("mastered_at", TIMESTAMP, nullable=True),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("telegram_user_id", "family", name=op.f("pk_sound_progress")),
    )
    op.create_table(
        "reminders",
        *_learner_key("reminders"),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("claim_id", UUID_TEXT, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", TIMESTAMP, nullable=False),
        sa.Column("lease_until", TIMESTAMP, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint(
            "telegram_user_id", "local_date", "kind", name=op.f("pk_reminders")
        ),
        sa.UniqueConstraint("claim_id", name=op.f("uq_reminders_claim_id")),
    )
    op.create_index(op.f("ix_reminders_due_at"), "reminders", ["due_at"])
    op.create_index("ix_reminders_status_lease", "reminders", ["status", "lease_until"])


def downgrade() -> None:
    for table in ("reminders", "sound_progress", "sound_days", "practice_days"):
        op.drop_table(table)
    op.drop_index(op.f("ix_learners_next_reminder_at"), table_name="learners")
    with op.batch_alter_table("learners") as batch:
        for column in (
            "next_reminder_at", "blocked_at", "weekly_summary", "time_zone", "reminder_time",
            "daily_goal",
        ):  # fmt: skip
            batch.drop_column(column)
