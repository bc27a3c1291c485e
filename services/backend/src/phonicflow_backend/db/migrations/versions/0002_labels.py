"""Labelled examples: a learner's correction of a verdict, with their note (with consent).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "labels",
        sa.Column(
            "label_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=False),
        sa.Column("turn_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("word_index", sa.Integer(), nullable=False),
        sa.Column("word", sa.String(length=100), nullable=False),
        sa.Column("verdict", sa.String(length=64), nullable=True),
        sa.Column("correction", sa.String(length=64), nullable=False),
        sa.Column("target_text", sa.Text(), nullable=True),
        sa.Column("transcript", sa.Text(), nullable=False),
        sa.Column("pronunciation", sa.JSON(), nullable=True),
        sa.Column("note_wav", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["telegram_user_id"],
            ["learners.telegram_user_id"],
            name=op.f("fk_labels_telegram_user_id_learners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("label_id", name=op.f("pk_labels")),
    )
    op.create_index(op.f("ix_labels_telegram_user_id"), "labels", ["telegram_user_id"])


def downgrade() -> None:
    op.drop_table("labels")
