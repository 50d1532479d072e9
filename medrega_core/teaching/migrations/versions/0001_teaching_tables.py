"""The teaching tables: case sets, cases, class sessions, participants, answers.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_sets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_set_id", sa.Integer, sa.ForeignKey("case_sets.id"), nullable=False),
        sa.Column("folder", sa.String(100), nullable=False),
        sa.Column("files", sa.JSON, nullable=False),
        sa.Column("view", sa.JSON, nullable=False),
        sa.Column("picture_size", sa.JSON, nullable=False),
        sa.Column("reference_boxes", sa.JSON, nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("task", sa.String(40), nullable=False),
        sa.Column("reference_answer", sa.Text, nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("model_answer", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "class_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(12), nullable=False, unique=True),
        sa.Column("case_ids", sa.JSON, nullable=False),
        sa.Column("current", sa.Integer, nullable=False),
        sa.Column("revealed", sa.JSON, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "participants",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.Integer, sa.ForeignKey("class_sessions.id"), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("session_id", "name"),
    )
    op.create_table(
        "answers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("participant_id", sa.Integer, sa.ForeignKey("participants.id"), nullable=False),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("shown_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("boxes", sa.JSON, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("ious", sa.JSON, nullable=False),
        sa.Column("seconds", sa.Float, nullable=True),
        sa.Column("submitted", sa.Boolean, nullable=False),
        sa.UniqueConstraint("participant_id", "case_id"),
    )


def downgrade() -> None:
    for table in ("answers", "participants", "class_sessions", "cases", "case_sets"):
        op.drop_table(table)
