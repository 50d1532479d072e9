"""Teaching sessions: prepared cases, classes that answer them, scores against the teacher's reference.

No UI and no torch here: the store (SQLAlchemy, migrated by Alembic), the de-identified case files,
the scoring, the case-set zip, and the case's questions to the model (through a Session).
"""

from medrega_core.teaching.answers import (
    answer_case, case_rendering, case_session, continue_from_model_answer,
)
from medrega_core.teaching.bundle import export_case_set, import_case_set
from medrega_core.teaching.cases import CASE_TASKS, CaseError, LabelledBox, parse_boxes
from medrega_core.teaching.results import RESULT_COLUMNS, result_rows, results_csv
from medrega_core.teaching.scoring import HIT_IOU, BoxScore, pair_boxes
from medrega_core.teaching.store import CaseRecord, Scored, SessionRecord, TeachingStore, clean_code

__all__ = [
    "CASE_TASKS", "HIT_IOU", "RESULT_COLUMNS", "BoxScore", "CaseError", "CaseRecord", "LabelledBox", "Scored",
    "SessionRecord", "TeachingStore", "answer_case", "case_rendering", "case_session", "clean_code",
    "continue_from_model_answer", "export_case_set", "import_case_set", "pair_boxes", "parse_boxes", "result_rows", "results_csv",
]
