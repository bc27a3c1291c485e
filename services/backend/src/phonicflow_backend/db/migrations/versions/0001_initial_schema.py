"""Learners, sessions, turns, reply audio and idempotency keys (replacing the JSON files).

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
UUID_TEXT = sa.String(length=36)


def upgrade() -> None:
    op.create_table(
        "learners",
        sa.Column("telegram_user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("label_consent", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("telegram_user_id", name=op.f("pk_learners")),
    )
    op.create_table(
        "sessions",
        sa.Column("session_id", UUID_TEXT, nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("last_activity", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["telegram_user_id"],
            ["learners.telegram_user_id"],
            name=op.f("fk_sessions_telegram_user_id_learners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_sessions")),
    )
    op.create_index(op.f("ix_sessions_last_activity"), "sessions", ["last_activity"])
    op.create_index(op.f("ix_sessions_telegram_user_id"), "sessions", ["telegram_user_id"])
    op.create_table(
        "turns",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("turn_id", UUID_TEXT, nullable=False),
        sa.Column("session_id", UUID_TEXT, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("user_text", sa.Text(), nullable=False),
        sa.Column("conversational", sa.Text(), nullable=False),
        sa.Column("coaching", sa.Text(), nullable=False),
        sa.Column("coaching_portuguese", sa.Text(), nullable=True),
        sa.Column("conversational_portuguese", sa.Text(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("target_text", sa.Text(), nullable=True),
        sa.Column("pronunciation", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.session_id"],
            name=op.f("fk_turns_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_turns")),
        sa.UniqueConstraint("turn_id", name=op.f("uq_turns_turn_id")),
    )
    op.create_index("ix_turns_session_seq", "turns", ["session_id", "seq"])
    op.create_table(
        "idempotency_keys",
        sa.Column("session_id", UUID_TEXT, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("heartbeat_at", TIMESTAMP, nullable=False),
        sa.Column("turn_id", UUID_TEXT, nullable=True),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.session_id"],
            name=op.f("fk_idempotency_keys_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["turn_id"],
            ["turns.turn_id"],
            name=op.f("fk_idempotency_keys_turn_id_turns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(op.f("ix_idempotency_keys_turn_id"), "idempotency_keys", ["turn_id"])
    op.create_table(
        "turn_audio",
        sa.Column("turn_id", UUID_TEXT, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("wav", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["turn_id"],
            ["turns.turn_id"],
            name=op.f("fk_turn_audio_turn_id_turns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("turn_id", "kind", name=op.f("pk_turn_audio")),
    )
    op.create_index(op.f("ix_turn_audio_created_at"), "turn_audio", ["created_at"])


def downgrade() -> None:
    for table in ("turn_audio", "idempotency_keys", "turns", "sessions", "learners"):
        op.drop_table(table)
