"""The teaching database: case sets, cases, class sessions, participants and their answers.

Plain SQLAlchemy 2 declarative models; the schema itself is created and upgraded by the Alembic
migrations in ``migrations/`` (never by ``create_all``), so a department's PostgreSQL database and the
default SQLite file move to a new version the same way.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


#: Most characters of a case set's name (PostgreSQL refuses longer ones; SQLite would keep them).
TITLE_LENGTH = 200


class Base(DeclarativeBase):
    pass


class CaseSet(Base):
    """A named list of cases a teacher runs a session from (or shares as one zip)."""

    __tablename__ = "case_sets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_LENGTH), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    cases: Mapped[list["Case"]] = relationship(back_populates="case_set", order_by="Case.id")


class Case(Base):
    """One prepared question on one scan: the de-identified files (a folder under the store's root),
    the view residents start from, the teacher's reference and, optionally, the model's stored answer."""

    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_set_id: Mapped[int] = mapped_column(ForeignKey("case_sets.id"))
    folder: Mapped[str] = mapped_column(String(100))  # relative to the store's file root
    files: Mapped[list[str]] = mapped_column(JSON)
    view: Mapped[dict[str, Any]] = mapped_column(JSON)  # {plane, slice, frame, window: {center, width} | preset}
    picture_size: Mapped[list[int]] = mapped_column(JSON)  # [width, height] of that view's picture
    reference_boxes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{xmin, ymin, xmax, ymax, label}]
    question: Mapped[str] = mapped_column(Text, default="")
    task: Mapped[str] = mapped_column(String(40))
    reference_answer: Mapped[str] = mapped_column(Text, default="")
    lang: Mapped[str] = mapped_column(String(8), default="en")  # the language of the prompt
    prompt: Mapped[str] = mapped_column(Text, default="")  # the exact text the model is (or was) sent
    model_answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    case_set: Mapped[CaseSet] = relationship(back_populates="cases")


class ClassSession(Base):
    """A running (or finished) class: its join code, the ordered case ids and which one is shown."""

    __tablename__ = "class_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    case_ids: Mapped[list[int]] = mapped_column(JSON)
    current: Mapped[int] = mapped_column(Integer, default=0)  # index into case_ids
    revealed: Mapped[list[int]] = mapped_column(JSON, default=list)  # case ids revealed to all
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    participants: Mapped[list["Participant"]] = relationship(back_populates="session", order_by="Participant.id")


class Participant(Base):
    """A resident in one session, known only by the display name typed when joining."""

    __tablename__ = "participants"
    __table_args__ = (UniqueConstraint("session_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("class_sessions.id"))
    name: Mapped[str] = mapped_column(String(80))
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    session: Mapped[ClassSession] = relationship(back_populates="participants")


class Answer(Base):
    """One resident and one case: created when the case is first shown to the resident, completed
    by the submit (boxes, text, per-box IoU with the matched reference box, seconds)."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("participant_id", "case_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    shown_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    boxes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    text: Mapped[str] = mapped_column(Text, default="")
    ious: Mapped[list[float]] = mapped_column(JSON, default=list)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    submitted: Mapped[bool] = mapped_column(Boolean, default=False)
    participant: Mapped[Participant] = relationship()
