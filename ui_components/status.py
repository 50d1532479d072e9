"""Status panel: an honest account of the model (loading progress, quantization, device, GPU
memory) and the research-only notice. Queue positions are shown by Gradio on the waiting widgets."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gradio as gr

from medrega_core.errors import MedRegAError
from medrega_core.i18n import translator
from ui_components.context import AppContext, LoadProgress, LoadState
from ui_components.labels import Texts, Translate
from ui_components.links import PageLinks
from ui_components.state import SessionState

#: Seconds between status refreshes in the browser.
REFRESH_SECONDS = 2.0


@dataclass(frozen=True)
class StatusHandles:
    notice: gr.Markdown
    status: gr.Markdown
    timer: gr.Timer


def notice_text(_: Translate) -> str:
    return _("**For research and teaching only — not for diagnosis.** Answers may be wrong; a clinician must "
             "check every finding.")


def status_text(ctx: AppContext, _: Translate) -> str:
    """One line on the model: what is loaded and how, or what is missing and how to fix it."""
    host = ctx.host
    if host.state is LoadState.READY:
        info = host.describe()
        if "server" in info:
            return server_status_text(info, _)
        text = _("Model ready: {model} · quantization {quant} · device {device}", model=info.get("checkpoint", "?"),
                 quant=info.get("quantization", "?"), device=info.get("device", "?"))
        if "gpu_memory_total_gib" in info:
            text += " · " + _("GPU memory {used} of {total} GiB", used=info.get("gpu_memory_reserved_gib", "?"),
                              total=info["gpu_memory_total_gib"])
        return text
    if host.state is LoadState.LOADING:
        return loading_text(host.progress, _)
    try:
        host.require()
    except MedRegAError as error:
        return "⚠ " + _(error.message, **error.params)
    return ""


def loading_text(progress: LoadProgress, _: Translate) -> str:
    """The loading line: weight bytes of the total and the time left while the weights arrive, else the step."""
    if not progress.total_bytes:
        return _("Loading the model: {percent}% {step}", percent=round(100 * progress.fraction),
                 step=_(progress.message) if progress.message else "")
    unit, scale = ("GB", 1e9) if progress.total_bytes >= 1e9 else ("MB", 1e6)
    sizes = {"loaded": f"{progress.loaded_bytes / scale:.1f}", "total": f"{progress.total_bytes / scale:.1f}",
             "unit": unit}
    if progress.seconds_left is None:
        return _("Loading the model: {loaded} of {total} {unit}", **sizes)
    if progress.seconds_left < 60:
        return _("Loading the model: {loaded} of {total} {unit}, less than a minute left", **sizes)
    return _("Loading the model: {loaded} of {total} {unit}, about {minutes} min left",
             minutes=math.ceil(progress.seconds_left / 60), **sizes)

def server_status_text(info: dict[str, Any], _: Translate) -> str:
    """The server backend's line: server, model and queue, or that the server is not answering."""
    if not info.get("reachable"):
        return "⚠ " + _("Model server {server} is not answering; questions fail until it is back.",
                        server=info["server"])
    return _("Model served by {server}: {model} · {running} answering, {waiting} waiting", server=info["server"],
             model=info.get("checkpoint", "?"), running=info.get("running", "?"), waiting=info.get("waiting", "?"))


def texts(_: Translate, state: SessionState | None = None) -> Texts:
    return {"notice": {"value": notice_text(_)}}


def create_status(ctx: AppContext) -> StatusHandles:
    notice = gr.Markdown(notice_text(lambda m, **p: m), elem_id="notice")
    # Empty until the page's load event fills it: a value computed here would be the one of the
    # moment the page was built ("Loading the model: 0%") on every later page load.
    status = gr.Markdown("", elem_id="status")
    timer = gr.Timer(REFRESH_SECONDS)
    return StatusHandles(notice, status, timer)


def wire_status(h: StatusHandles, ctx: AppContext, links: PageLinks) -> None:
    def refresh(state: SessionState) -> str:
        return status_text(ctx, translator(state.lang))

    h.timer.tick(refresh, [links.state], h.status, api_name="status", queue=False, show_progress="hidden")
    # A new page is in English; its status is right on first paint, not after the first tick.
    gr.on(None, lambda: status_text(ctx, translator("en")), None, h.status, api_name="status_on_load", queue=False,
          show_progress="hidden")


def refreshed(h: StatusHandles, ctx: AppContext, _: Translate) -> dict[Any, Any]:
    return {h.status: status_text(ctx, _)}
