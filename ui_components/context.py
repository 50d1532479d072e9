"""The read-only context shared by every panel: server options and the one engine of this process.

Nothing here belongs to a user. The engine is loaded once, in a background thread, so the page is
served within seconds; panels ask :class:`EngineHost` for it and get a clear, translatable error
while it is loading or when it cannot run here. With ``--server`` the engine is a client of a vLLM
server: no weights load here, and many answers run at once.
"""

from __future__ import annotations

import enum
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from medrega_core.errors import N_, EngineError, MedRegAError
from medrega_core.export import public_model_name
from medrega_core.pacs import PacsSettings
from ui_components.viewer_data import ScanRegistry

if TYPE_CHECKING:  # the engine (torch) is imported only when the model loads
    from medrega_core.engine import Engine, LoadReport

#: Every model event shares this concurrency group: one generation at a time with the in-process model,
#: ``--server-concurrency`` at a time with a vLLM server (:attr:`EngineHost.concurrency_limit`).
MODEL_CONCURRENCY_ID = "medrega-model"


class ModelUnavailableError(EngineError):
    """A model action was asked for while no model can answer (loading, missing weights, no GPU)."""


@dataclass(frozen=True)
class ServerOptions:
    """Command-line options of ``python app.py`` (see ``docs/APP.md``)."""

    checkpoint: str | None = None
    quant: str = "auto"
    device: str = "auto"
    host: str = "127.0.0.1"
    port: int = 7860
    max_upload_mb: int = 512
    auth: tuple[str, str] | None = None
    share: bool = False
    max_queue: int = 16
    max_new_tokens: int = 400
    #: DICOMweb root of a PACS (``--dicomweb``) and its login; None: no PACS panel.
    dicomweb_url: str | None = None
    dicomweb_user: str | None = None
    dicomweb_password: str | None = field(default=None, repr=False)
    dicomweb_token: str | None = field(default=None, repr=False)
    server: str | None = None
    api_key: str | None = None
    server_concurrency: int = 16
    server_timeout: float = 60.0
    #: The app's lasting data (teaching database, cases), the teaching database URL and the teacher's password.
    data_dir: Path | None = None
    teaching_db: str | None = None
    teacher_password: str | None = field(default=None, repr=False)
    #: The language of the app's console lines (``--lang``); each page has its own switch.
    lang: str = "en"

    def pacs_settings(self) -> PacsSettings | None:
        """The PACS the server was started with (``--dicomweb``), or None."""
        if not self.dicomweb_url:
            return None
        return PacsSettings(self.dicomweb_url, self.dicomweb_user, self.dicomweb_password, self.dicomweb_token)


class LoadState(str, enum.Enum):
    """Where the background model load stands."""

    NOT_CONFIGURED = "not-configured"
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


@dataclass
class LoadProgress:
    """The latest progress report of the engine load (the fields of the engine's ``LoadReport``): a
    fraction in [0, 1], a short English message and, while the weights load, their bytes and the time left."""

    fraction: float = 0.0
    message: str = ""
    loaded_bytes: int = 0
    total_bytes: int = 0
    seconds_left: float | None = None


@dataclass
class EngineHost:
    """Owns the process's single engine and loads it in a background thread.

    Parameters
    ----------
    options:
        Server options; ``options.checkpoint`` None means "no model configured".
    """

    options: ServerOptions
    state: LoadState = LoadState.NOT_CONFIGURED
    progress: LoadProgress = field(default_factory=LoadProgress)
    error: MedRegAError | None = None
    _engine: Engine | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        """Begin loading the engine in a daemon thread (no-op when no checkpoint or server is configured)."""
        if not (self.options.checkpoint or self.options.server):
            return
        self.state = LoadState.LOADING
        threading.Thread(target=self._load, name="medrega-engine-load", daemon=True).start()

    def _report(self, report: LoadReport) -> None:
        """Keep the engine's latest ``LoadReport`` (copied: this module does not import the engine)."""
        self.progress = LoadProgress(float(report.fraction), str(report.message), int(report.loaded_bytes),
                                     int(report.total_bytes), report.seconds_left)

    def _load(self) -> None:
        try:
            engine = self._server_engine() if self.options.server else self._local_engine()
        except MedRegAError as error:
            self.error, self.state = error, LoadState.FAILED
            return
        except (ImportError, OSError, RuntimeError, ValueError) as error:
            # Hardware or library trouble (CUDA, bitsandbytes): shown with its type, never a traceback.
            self.error = ModelUnavailableError(
                N_("The model could not be loaded on this machine ({reason})."), reason=type(error).__name__
            )
            self.state = LoadState.FAILED
            return
        with self._lock:
            self._engine = engine
        self.state = LoadState.READY

    def _local_engine(self) -> Engine:
        from medrega_core.engine import EngineSettings, MedRegAEngine

        settings = EngineSettings(
            checkpoint=self.options.checkpoint, device=self.options.device, quant=self.options.quant,
            max_new_tokens=self.options.max_new_tokens,
        )
        return MedRegAEngine.load(settings, progress=self._report)

    def _server_engine(self) -> Engine:
        from medrega_core.engine import ServerEngine, ServerSettings

        options = self.options
        return ServerEngine.connect(ServerSettings(
            server=options.server, api_key=options.api_key, checkpoint=options.checkpoint,
            max_new_tokens=options.max_new_tokens, timeout=options.server_timeout))

    @property
    def concurrency_limit(self) -> int:
        """Answers generated at once: one for the in-process model, the option's count for a server."""
        return self.options.server_concurrency if self.options.server else 1

    def require(self) -> Engine:
        """The loaded engine, or raise :class:`ModelUnavailableError` saying what is missing and how to fix it."""
        if self.state is LoadState.READY:
            return self._engine
        if self.state is LoadState.NOT_CONFIGURED:
            raise ModelUnavailableError(
                N_(
                    "No model is loaded: start the app with --checkpoint PATH (a MedRegA checkpoint in "
                    "safetensors). The viewer and region tools work without it."
                )
            )
        if self.state is LoadState.LOADING:
            raise ModelUnavailableError(
                N_("The model is still loading ({percent}%). Please try again in a moment."),
                percent=round(100 * self.progress.fraction),
            )
        raise self.error  # FAILED: the load error names the cause and the fix

    def describe(self) -> dict[str, Any]:
        """The engine's own description (model id, quantization, device, GPU memory), or {} while unloaded;
        a local checkpoint is named by its folder's name."""
        if self.state is not LoadState.READY:
            return {}
        info = dict(self._engine.describe())
        if info.get("checkpoint"):
            info["checkpoint"] = public_model_name(str(info["checkpoint"]))
        return info


def gpu_decorator() -> Callable[[Callable], Callable]:
    """``spaces.GPU`` on a Hugging Face ZeroGPU Space, identity elsewhere so local runs are unaffected."""
    if os.environ.get("SPACE_ID"):
        try:
            import spaces
        except ImportError:
            pass
        else:
            return spaces.GPU(duration=120)
    return lambda function: function


@dataclass(frozen=True)
class AppContext:
    """What every panel may read: options, the engine host, the GPU decorator, the sessions' folder
    root and the open scans the viewer reads (each session reaches only its own, by its token)."""

    options: ServerOptions
    host: EngineHost
    on_gpu: Callable[[Callable], Callable]
    work_root: Path
    scans: ScanRegistry

    @classmethod
    def create(cls, options: ServerOptions, work_root: Path) -> "AppContext":
        work_root.mkdir(parents=True, exist_ok=True)
        return cls(options=options, host=EngineHost(options), on_gpu=gpu_decorator(), work_root=work_root,
                   scans=ScanRegistry())
