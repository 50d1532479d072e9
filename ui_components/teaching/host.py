"""What both teaching pages share: the store, the teacher's key and the app context."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import gradio as gr

from medrega_core.engine.base import stream_answer
from medrega_core.errors import N_, MedRegAError
from medrega_core.session import StreamRunner
from medrega_core.teaching import CaseError, TeachingStore
from ui_components import viewer
from ui_components.context import AppContext
from ui_components.state import SessionState

#: Where the class page lives, relative to the app's root (the join link).
CLASS_PATH = "class"
TEACH_PATH = "teach"


class TeacherKeyError(CaseError):
    """A teacher action without the teacher's password or token."""


class DataFolderError(MedRegAError):
    """The app's data folder (teaching database and cases) cannot be made or written."""


@dataclass(frozen=True)
class TeachingHost:
    """The teaching store of this process and the key that opens the teacher's page."""

    ctx: AppContext
    store: TeachingStore
    teacher_key: str
    #: True when the key was made up at start (printed on the console), not given as a password.
    key_generated: bool
    #: Encrypts what the pages keep in the browser (``gr.BrowserState``); kept in the data folder, so
    #: that a page reloaded after a restart of the app still reads it.
    browser_secret: str
    #: How the engine's answers are run (``spaces.GPU`` on ZeroGPU, as on the main page).
    runner: StreamRunner

    @classmethod
    def create(cls, ctx: AppContext, data_dir: Path, database_url: str | None, teacher_password: str | None
               ) -> "TeachingHost":
        """Raises :class:`DataFolderError` or the store's ``TeachingDatabaseError`` when the app cannot start."""
        try:
            (data_dir / "cases").mkdir(parents=True, exist_ok=True)
            browser_secret = lasting_secret(data_dir / "browser-secret")
        except OSError:
            raise DataFolderError(N_("The data folder {path} cannot be created or written; choose another with "
                                     "--data-dir."), path=str(data_dir)) from None
        store = TeachingStore(database_url or TeachingStore.default_url(data_dir), data_dir / "cases")
        key = teacher_password or secrets.token_urlsafe(12)
        return cls(ctx, store, key, teacher_password is None, browser_secret, ctx.on_gpu(stream_answer))

    def check_teacher(self, key: str | None) -> None:
        if not hmac.compare_digest(str(key or "").encode(), self.teacher_key.encode()):
            raise TeacherKeyError(N_("The teacher's password or token is wrong."))

    def work_folder(self) -> Path:
        """Scratch space for exported files (the app's temporary root, served for downloads)."""
        folder = self.ctx.work_root / "teaching"
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def lasting_secret(path: Path) -> str:
    """A random secret made once and kept in ``path`` (readable by this user only)."""
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32), encoding="ascii")
        path.chmod(0o600)
    return path.read_text(encoding="ascii").strip()


def unchanged(components: Iterable[Any]) -> dict[Any, Any]:
    """An event's answer that leaves every one of its outputs as it is (an empty dict would be one value)."""
    return {component: gr.skip() for component in components}


def keep_language(demo: gr.Blocks, language: gr.Radio, host: TeachingHost, storage_key: str) -> None:
    """The page's language is each person's choice, kept in their browser: a reloaded page (after a
    restart of the app) comes back in it. Setting the radio runs its own change event (the relabelling)."""
    kept = gr.BrowserState("en", storage_key=storage_key, secret=host.browser_secret)
    language.change(lambda lang: lang, language, kept, api_name=False, show_progress="hidden")
    demo.load(lambda lang: lang if lang in ("en", "zh") and lang != "en" else gr.skip(), kept, language,
              api_name=False)


def follow_viewer(view: SessionState, evt: gr.EventData) -> None:
    """The viewer's ``viewer_change`` event: take the view and boxes it reports as the page's."""
    try:
        viewer.adopt_viewer_state(view, evt._data)
    except MedRegAError:
        pass  # a report of a view this scan lacks (it changed meanwhile): the next one will do
