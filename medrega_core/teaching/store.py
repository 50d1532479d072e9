"""The teaching store: cases, case sets, class sessions and answers in a SQLAlchemy database.

``TeachingStore(url, files_root)`` opens (and migrates, with Alembic, to the newest schema) any
SQLAlchemy database; the app's default is a SQLite file in its data folder. Case files live under
``files_root``, de-identified. Every change is committed before the call returns, so a restart of
the app loses nothing; the store keeps no other state than a small cache of opened scans.
"""

from __future__ import annotations

import secrets
import shutil
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, make_url, select, update
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from medrega_core.errors import N_, MedRegAError
from medrega_core.intake import Scan, open_scan
from medrega_core.tasks import Task
from medrega_core.teaching.casefiles import store_deidentified
from medrega_core.teaching.cases import (
    CaseError, LabelledBox, case_prompt, case_task, parse_boxes, parse_view, picture_size, view_dict,
)
from medrega_core.teaching.models import TITLE_LENGTH, Answer, Case, CaseSet, ClassSession, Participant, utc_now
from medrega_core.teaching.scoring import HIT_IOU, pair_boxes

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: Join codes: letters and digits that cannot be mistaken for each other when read off a projector.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
MAX_NAME_LENGTH = 40
#: Opened scans kept in memory (a class shows one case at a time; the teacher may prepare another).
SCAN_CACHE_SIZE = 8


class TeachingDatabaseError(MedRegAError):
    """The teaching database cannot be opened: its URL, its driver or its server."""


def migrate(engine: Any) -> None:
    """Bring the database at ``engine`` to the newest schema (Alembic ``upgrade head``)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def shown_url(url: URL) -> str:
    """The database URL as a message may show it: without password and query (which may hold secrets)."""
    return url.set(query={}).render_as_string(hide_password=True)


def open_database(url: str) -> Engine:
    """An engine on the database at ``url``, migrated to the newest schema.

    Raises :class:`TeachingDatabaseError` naming the problem (an unreadable URL, an unknown database, a
    driver not installed, a database that does not answer); its message never holds the password.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise TeachingDatabaseError(N_("The teaching database URL cannot be read; write it as "
                                       "dialect+driver://user:password@host/database.")) from None
    shown = shown_url(parsed)
    sqlite = parsed.get_backend_name() == "sqlite"
    try:
        # A class submits at once: SQLite then serialises writers, who wait instead of failing.
        engine = create_engine(parsed, connect_args={"timeout": 60, "check_same_thread": False} if sqlite else {})
    except NoSuchModuleError:
        raise TeachingDatabaseError(N_("The teaching database URL {url} names a database kind that SQLAlchemy "
                                       "does not know."), url=shown) from None
    except ImportError as error:
        raise TeachingDatabaseError(N_("The driver of the teaching database {url} is not installed (Python module "
                                       "{module}): install it beside the app."), url=shown,
                                    module=error.name or parsed.get_driver_name()) from None
    if sqlite:
        event.listen(engine, "connect", _sqlite_wal)
    try:
        migrate(engine)
    except DBAPIError:
        # The driver's own message may quote the login: only the URL without its password is named.
        engine.dispose()
        raise TeachingDatabaseError(N_("The teaching database {url} cannot be opened: is its server running, and are "
                                       "the address, user, password and database name right?"), url=shown) from None
    return engine


def _utc(moment: datetime) -> datetime:
    """SQLite returns naive datetimes: they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class CaseRecord:
    """A stored case, detached from the database."""

    id: int
    set_title: str
    folder: Path
    files: tuple[str, ...]
    view: dict[str, Any]
    picture_size: tuple[int, int]
    reference_boxes: tuple[LabelledBox, ...]
    question: str
    task: str
    reference_answer: str
    lang: str
    prompt: str
    model_answer: str | None

    @property
    def paths(self) -> list[Path]:
        return [self.folder / name for name in self.files]

    @property
    def shown_boxes(self) -> tuple[LabelledBox, ...]:
        """Boxes residents see with the question: the box a "what is in this box" case asks about."""
        return self.reference_boxes[:1] if self.task == Task.REGION_TO_TEXT.value else ()

    @property
    def scores_boxes(self) -> bool:
        return bool(self.reference_boxes) and not self.shown_boxes

    def public(self) -> dict[str, Any]:
        """What a resident may see before submitting: never the reference or the model's answer."""
        return {"case_id": self.id, "view": self.view, "picture_size": list(self.picture_size), "task": self.task,
                "question": self.question, "boxes": [b.to_dict() for b in self.shown_boxes]}


@dataclass(frozen=True)
class SessionRecord:
    code: str
    case_ids: tuple[int, ...]
    current: int
    revealed: tuple[int, ...]

    @property
    def current_case_id(self) -> int:
        return self.case_ids[self.current]

    @property
    def is_revealed(self) -> bool:
        return self.current_case_id in self.revealed


@dataclass(frozen=True)
class Scored:
    """A resident's submitted answer with its score: one IoU per box (0: no matching reference box)."""

    name: str
    case_id: int
    boxes: tuple[LabelledBox, ...]
    ious: tuple[float, ...]
    seconds: float
    answer: str

    @property
    def hits(self) -> tuple[bool, ...]:
        return tuple(value >= HIT_IOU for value in self.ious)


def _case_record(case: Case, files_root: Path) -> CaseRecord:
    return CaseRecord(case.id, case.case_set.title, files_root / case.folder, tuple(case.files), dict(case.view),
                      (int(case.picture_size[0]), int(case.picture_size[1])),
                      tuple(LabelledBox.from_dict(b) for b in case.reference_boxes), case.question, case.task,
                      case.reference_answer, case.lang, case.prompt, case.model_answer)


def _session_record(row: ClassSession) -> SessionRecord:
    return SessionRecord(row.code, tuple(row.case_ids), row.current, tuple(row.revealed or ()))


def _scored(row: Answer, name: str) -> Scored:
    boxes = tuple(LabelledBox.from_dict(b) for b in row.boxes)
    return Scored(name, row.case_id, boxes, tuple(row.ious), float(row.seconds or 0.0), row.text)


def clean_name(name: str | None) -> str:
    """A display name as typed, trimmed; refused when empty, too long or holding control characters."""
    text = " ".join(str(name or "").split())
    if not text or len(text) > MAX_NAME_LENGTH or not text.isprintable():
        raise CaseError(N_("Type a display name of 1 to {count} characters."), count=MAX_NAME_LENGTH)
    return text


def clean_title(title: str | None) -> str:
    """A case set's name, trimmed; refused when empty or longer than the database keeps."""
    text = str(title or "").strip()
    if not text or len(text) > TITLE_LENGTH:
        raise CaseError(N_("Name the case set in 1 to {count} characters."), count=TITLE_LENGTH)
    return text


def clean_code(code: str | None) -> str:
    return "".join(str(code or "").split()).upper()


class TeachingStore:
    """Cases, sessions and answers in the database at ``url``; case files under ``files_root``."""

    def __init__(self, url: str, files_root: Path) -> None:
        """Raises :class:`TeachingDatabaseError` when the database cannot be opened (see :func:`open_database`)."""
        self.files_root = Path(files_root)
        self.files_root.mkdir(parents=True, exist_ok=True)  # first: the default SQLite file lies in its parent
        self.engine = open_database(url)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self._scans: OrderedDict[int, Scan] = OrderedDict()
        self._scan_lock = threading.Lock()

    @staticmethod
    def default_url(data_dir: Path) -> str:
        return f"sqlite:///{Path(data_dir) / 'teaching.sqlite'}"

    # ---- cases ----

    def add_case(self, set_title: str, paths: Sequence[str | Path], view: dict[str, Any] | None, boxes: Any,
                 question: str, task: str | None, reference_answer: str = "", lang: str = "en",
                 series_uid: str | None = None) -> int:
        """Store a case: its files de-identified, the view and boxes checked against the scan."""
        chosen = case_task(task)
        set_title = clean_title(set_title)
        open_scan([str(p) for p in paths], series_uid=series_uid)  # the upload itself opens (series chosen)
        folder = uuid.uuid4().hex
        try:
            files = store_deidentified(paths, self.files_root / folder, series_uid)
            scan = open_scan([str(self.files_root / folder / name) for name in files])
            resolved = parse_view(scan, view)
            size = picture_size(scan, resolved)
            marked = parse_boxes(boxes, size)
            question = str(question or "").strip()
            prompt = case_prompt(chosen, question, marked, size, lang)
            with self._session.begin() as db:
                case_set = db.scalar(select(CaseSet).where(CaseSet.title == set_title)) or CaseSet(title=set_title)
                case = Case(case_set=case_set, folder=folder, files=files, view=view_dict(resolved, scan),
                            picture_size=list(size), reference_boxes=[b.to_dict() for b in marked], question=question,
                            task=chosen.value, reference_answer=str(reference_answer or "").strip(), lang=lang,
                            prompt=prompt)
                db.add(case)
                db.flush()
                return case.id
        except BaseException:
            shutil.rmtree(self.files_root / folder, ignore_errors=True)
            raise

    def set_model_answer(self, case_id: int, answer: str) -> None:
        with self._session.begin() as db:
            self._case_row(db, case_id).model_answer = answer

    def case(self, case_id: int) -> CaseRecord:
        with self._session() as db:
            return _case_record(self._case_row(db, case_id), self.files_root)

    def case_sets(self) -> list[tuple[str, list[int]]]:
        """Every case set: (title, its case ids in order of saving)."""
        with self._session() as db:
            return [(s.title, [c.id for c in s.cases]) for s in db.scalars(select(CaseSet).order_by(CaseSet.id))]

    def scan(self, case_id: int) -> Scan:
        """The case's scan, opened once and kept in a small cache (scans are immutable)."""
        with self._scan_lock:
            if case_id in self._scans:
                self._scans.move_to_end(case_id)
                return self._scans[case_id]
        scan = open_scan([str(p) for p in self.case(case_id).paths])
        with self._scan_lock:
            self._scans[case_id] = scan
            while len(self._scans) > SCAN_CACHE_SIZE:
                self._scans.popitem(last=False)
        return scan

    @staticmethod
    def _case_row(db: Session, case_id: int) -> Case:
        case = db.get(Case, int(case_id))
        if case is None:
            raise CaseError(N_("There is no case {case}."), case=case_id)
        return case

    # ---- sessions ----

    def start_session(self, case_ids: Sequence[int]) -> str:
        """Start a class on these cases (in this order); returns its join code."""
        ids = [int(c) for c in case_ids or ()]
        if not ids:
            raise CaseError(N_("Choose at least one case."))
        if len(set(ids)) != len(ids):
            raise CaseError(N_("A session shows each case once."))
        with self._session.begin() as db:
            for case_id in ids:
                self._case_row(db, case_id)
            while True:
                code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
                if db.scalar(select(ClassSession).where(ClassSession.code == code)) is None:
                    break
            db.add(ClassSession(code=code, case_ids=ids, current=0, revealed=[]))
        return code

    def session(self, code: str) -> SessionRecord:
        with self._session() as db:
            return _session_record(self._session_row(db, code))

    @staticmethod
    def _session_row(db: Session, code: str) -> ClassSession:
        row = db.scalar(select(ClassSession).where(ClassSession.code == clean_code(code)))
        if row is None:
            raise CaseError(N_("No session has the code {code}."), code=clean_code(code)[:12])
        return row

    def next_case(self, code: str) -> SessionRecord:
        """Show the next case of the session to everyone."""
        with self._session.begin() as db:
            row = self._session_row(db, code)
            if row.current + 1 >= len(row.case_ids):
                raise CaseError(N_("This is the last case of the session."))
            row.current += 1
            return _session_record(row)

    def reveal(self, code: str) -> SessionRecord:
        """Show the current case's reference and model answer to every resident (answers close)."""
        with self._session.begin() as db:
            row = self._session_row(db, code)
            row.revealed = sorted({*(row.revealed or ()), row.case_ids[row.current]})
            return _session_record(row)

    # ---- residents ----

    def join(self, code: str, name: str) -> tuple[SessionRecord, CaseRecord]:
        """Join (or rejoin, with the same name) a session; the current case counts as shown from now."""
        record = self.session(code)
        self.shown(code, name, record.current_case_id)
        return record, self.case(record.current_case_id)

    def shown(self, code: str, name: str, case_id: int) -> None:
        """Note that ``case_id`` is on the resident's screen (the first time only: it starts the clock)."""
        name = clean_name(name)
        for attempt in range(2):  # two first calls at once: one creates the rows, the other reads them
            try:
                with self._session.begin() as db:
                    self._answer_row(db, code, name, case_id)
                return
            except IntegrityError:
                if attempt:
                    raise

    def _answer_row(self, db: Session, code: str, name: str, case_id: int) -> Answer:
        row = self._session_row(db, code)
        if int(case_id) not in row.case_ids:
            raise CaseError(N_("There is no case {case}."), case=case_id)
        participant = db.scalar(select(Participant).where(Participant.session_id == row.id, Participant.name == name))
        if participant is None:
            participant = Participant(session_id=row.id, name=name)
            db.add(participant)
            db.flush()
        answer = db.scalar(select(Answer).where(Answer.participant_id == participant.id,
                                                Answer.case_id == int(case_id)))
        if answer is None:
            answer = Answer(participant_id=participant.id, case_id=int(case_id), boxes=[], text="", ious=[],
                            submitted=False)
            db.add(answer)
            db.flush()
        return answer

    def submit(self, code: str, name: str, boxes: Any, text: str, case_id: int | None = None) -> Scored:
        """Score and store a resident's answer to ``case_id`` (default: the current case), once."""
        name = clean_name(name)
        record = self.session(code)
        case = self.case(record.current_case_id if case_id is None else case_id)
        if case.id in record.revealed:
            raise CaseError(N_("The teacher has shown the answer to this case; answers are closed."))
        marked = parse_boxes(boxes, case.picture_size)
        text = str(text or "").strip()
        if not marked and not text:
            raise CaseError(N_("Mark a box or type an answer before submitting."))
        ious = tuple(s.iou for s in pair_boxes([b.box for b in marked], [b.box for b in case.reference_boxes])) \
            if case.scores_boxes else ()
        self.shown(code, name, case.id)
        with self._session.begin() as db:
            answer = self._answer_row(db, code, name, case.id)
            now = utc_now()
            # One statement that matches an answer not yet submitted: of two submits at once (two tabs, a
            # double click) the database lets one through and the other matches nothing, which reading
            # ``submitted`` first and writing after would not guarantee.
            stored = db.execute(update(Answer).where(Answer.id == answer.id, Answer.submitted.is_(False)).values(
                submitted=True, submitted_at=now, boxes=[b.to_dict() for b in marked], text=text,
                ious=[round(v, 4) for v in ious], seconds=round((now - _utc(answer.shown_at)).total_seconds(), 1),
            ).execution_options(synchronize_session=False))
            if stored.rowcount != 1:
                raise CaseError(N_("You have already answered this case."))
            db.refresh(answer)
            return _scored(answer, name)

    def answer_of(self, code: str, name: str, case_id: int) -> Scored | None:
        """The resident's submitted answer to ``case_id``, or None before a submit."""
        name = clean_name(name)
        with self._session() as db:
            row = self._session_row(db, code)
            found = db.execute(select(Answer).join(Participant).where(
                Participant.session_id == row.id, Participant.name == name, Answer.case_id == int(case_id),
                Answer.submitted.is_(True))).scalar()
            return None if found is None else _scored(found, name)

    # ---- the teacher's view ----

    def answers(self, code: str, case_id: int | None = None) -> tuple[list[str], list[Scored]]:
        """Everyone in the session (names in joining order) and the submitted answers, of one case or all."""
        with self._session() as db:
            row = self._session_row(db, code)
            names = [p.name for p in row.participants]
            query = select(Answer, Participant.name).join(Participant).where(
                Participant.session_id == row.id, Answer.submitted.is_(True)).order_by(Answer.case_id, Participant.id)
            if case_id is not None:
                query = query.where(Answer.case_id == int(case_id))
            return names, [_scored(answer, name) for answer, name in db.execute(query)]


def _sqlite_wal(connection: Any, _record: Any) -> None:
    """Write-ahead logging: residents' reads never wait for a writer."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()
