"""Viewer panel: upload, series choice, window presets and manual centre/width, plane, slice,
frame, zoom, orientation letters, and the de-identified metadata.

The picture itself is shown in the region canvas (:mod:`ui_components.regions`), so the boxes a
user draws are in the same picture pixels the model will see.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gradio as gr

from medrega_core.errors import N_, MedRegAError
from medrega_core.i18n import translator
from medrega_core.intake import MultipleSeriesError, View, Window, open_scan, render
from ui_components.context import AppContext
from ui_components.labels import Texts, Translate, choices, plain_error, user_error
from ui_components.state import SessionState

if TYPE_CHECKING:
    from ui_components.page import Page

#: Window preset names of the intake layer -> English label (msgid).
PRESET_LABELS = {
    "auto": N_("Automatic"),
    "header": N_("From the file"),
    "soft_tissue": N_("Soft tissue"),
    "lung": N_("Lung"),
    "liver": N_("Liver"),
    "bone": N_("Bone"),
    "brain": N_("Brain"),
}
#: Zoom of the annotated picture: the page sets ``--zoom`` on its container and this rule scales the
#: picture to that multiple of the panel width (scrolling inside the panel); clicks keep mapping to
#: picture pixels because Gradio measures them against the displayed size.
ZOOM_CSS = ("#annotated-picture img {width: calc(var(--zoom, 1) * 100%) !important; max-width: none !important;"
            " max-height: none !important; height: auto !important; object-fit: contain}"
            " #annotated-picture .image-frame {width: 100%; height: 100%; overflow: auto; display: block}")
ZOOM_JS = "(zoom) => { document.querySelector('#annotated-picture').style.setProperty('--zoom', zoom); return []; }"
PLANE_LABELS = {"axial": N_("Axial"), "coronal": N_("Coronal"), "sagittal": N_("Sagittal")}


@dataclass(frozen=True)
class ViewerHandles:
    upload: gr.File
    series: gr.Dropdown
    preset: gr.Dropdown
    center: gr.Number
    width: gr.Number
    apply_window: gr.Button
    plane: gr.Radio
    slice: gr.Slider
    frame: gr.Slider
    zoom: gr.Slider
    orientation: gr.Markdown
    metadata: gr.JSON


def texts(_: Translate, state: SessionState | None = None) -> Texts:
    scan = state.scan if state else None
    presets = scan.presets if scan is not None else list(PRESET_LABELS)
    planes = scan.planes if scan is not None else list(PLANE_LABELS)
    return {
        "upload": {"label": _("Scan: one file, several files of a series, or a zip")},
        "series": {"label": _("Series"), "info": _("The upload holds several series; choose one.")},
        "preset": {"label": _("Window preset"), "choices": choices({p: PRESET_LABELS.get(p, p) for p in presets}, _)},
        "center": {"label": _("Window centre")},
        "width": {"label": _("Window width")},
        "apply_window": {"value": _("Apply window")},
        "plane": {"label": _("Plane"), "choices": choices({p: PLANE_LABELS[p] for p in planes}, _)},
        "slice": {"label": _("Slice")},
        "frame": {"label": _("Frame or time point")},
        "zoom": {"label": _("Zoom of the annotated picture")},
        "metadata": {"label": _("Scan information (no patient identifiers)")},
    }


def create_viewer(ctx: AppContext) -> ViewerHandles:
    """Lay out the viewer widgets (events are wired by :func:`wire_viewer` once the canvas exists)."""
    t = texts(lambda m, **p: m)
    upload = gr.File(file_count="multiple", type="filepath", elem_id="scan-upload", **t["upload"])
    series = gr.Dropdown(visible=False, elem_id="series-choice", **t["series"])
    with gr.Row():
        preset = gr.Dropdown(value=None, elem_id="window-preset", **t["preset"])
        center = gr.Number(elem_id="window-center", **t["center"])
        width = gr.Number(minimum=1, elem_id="window-width", **t["width"])
        apply_window = gr.Button(size="sm", elem_id="apply-window", **t["apply_window"])
    with gr.Row():
        plane = gr.Radio(value="axial", visible=False, elem_id="plane", **t["plane"])
        slice_ = gr.Slider(0, 1, step=1, value=0, visible=False, elem_id="slice-slider", **t["slice"])
        frame = gr.Slider(0, 1, step=1, value=0, visible=False, elem_id="frame-slider", **t["frame"])
        zoom = gr.Slider(0.5, 3, step=0.25, value=1, elem_id="zoom", **t["zoom"])
    orientation = gr.Markdown(elem_id="orientation")
    metadata = gr.JSON(elem_id="metadata", **t["metadata"])
    return ViewerHandles(upload, series, preset, center, width, apply_window, plane, slice_, frame, zoom,
                         orientation, metadata)


EDGE_LABELS = {"top": N_("top"), "bottom": N_("bottom"), "left": N_("left"), "right": N_("right")}


def orientation_text(rendering: Any, _: Translate) -> str:
    """The four edge letters of the current picture, e.g. ``top A · bottom P · left R · right L``."""
    letters = rendering.orientation or {}
    return " · ".join(f"**{_(label)}** {letters[edge]}" for edge, label in EDGE_LABELS.items() if letters.get(edge))


def view_controls(state: SessionState) -> dict[str, Any]:
    """Update kwargs for the navigation widgets of the loaded scan (ranges, visibility, values)."""
    scan, view, rendering = state.scan, state.view, state.rendering
    window = rendering.window
    slices = scan.num_slices(view.plane) if scan.kind == "volume" else 1
    over_time = scan.num_timepoints > 1  # a 4-D volume: the frame slider moves through time
    steps = scan.num_timepoints if over_time else scan.num_frames
    return {
        "plane": gr.update(visible=scan.kind == "volume" and len(scan.planes) > 1, value=view.plane),
        "slice": gr.update(visible=slices > 1, maximum=max(slices - 1, 1), value=view.slice_index),
        "frame": gr.update(visible=steps > 1, maximum=max(steps - 1, 1),
                           value=view.timepoint if over_time else view.frame),
        "center": gr.update(value=None if window is None else round(window.center, 1)),
        "width": gr.update(value=None if window is None else round(window.width, 1)),
    }


def show(state: SessionState, view: Any) -> None:
    """Render ``view`` of the session's scan into ``state`` (one core call)."""
    state.rendering = render(state.scan, view)
    state.view = state.rendering.view


def load_files(state: SessionState, paths: list[str], series_uid: str | None = None) -> list[Any] | None:
    """Open an upload into ``state``; returns the series choices when the upload holds several series."""
    try:
        scan = open_scan(paths, series_uid=series_uid)
    except MultipleSeriesError as error:
        return list(error.choices)
    state.reset_scan()
    state.scan, state.scan_paths = scan, list(paths)
    show(state, scan.default_view())
    return None


def metadata_of(state: SessionState) -> dict[str, Any]:
    """The de-identified scan information for the metadata panel."""
    return state.scan.info.to_dict()


def view_from_widgets(state: SessionState, preset: str | None, center: float | None, width: float | None,
                      plane: str, slice_index: int, frame: int, manual: bool) -> Any:
    """The View the widgets ask for. ``manual`` takes centre/width; otherwise a chosen preset, else the
    window already shown (so moving through slices keeps the user's window)."""
    window: Any = preset or (state.view.window if state.view is not None else None)
    if manual and center is not None and width:
        window = Window(float(center), float(width))
    same_plane = state.view is not None and plane == state.view.plane
    step = int(frame or 0)
    over_time = state.scan.num_timepoints > 1
    return View(plane=plane or "axial", slice_index=int(slice_index) if same_plane else None,
                frame=0 if over_time else step, timepoint=step if over_time else 0, window=window)


def scan_updates(page: "Page", state: SessionState, ctx: AppContext) -> dict[Any, Any]:
    """Updates of every widget that shows the scan, its picture, or the conversation about it."""
    from ui_components import chat, regions

    _ = translator(state.lang)
    h = page.viewer
    controls = view_controls(state)
    updates = {getattr(h, name): update for name, update in controls.items()}
    updates.update({
        h.preset: gr.update(choices=texts(_, state)["preset"]["choices"],
                            value=state.view.window if isinstance(state.view.window, str) else None),
        h.series: gr.update(visible=False),
        h.orientation: orientation_text(state.rendering, _),
        h.metadata: metadata_of(state),
    })
    updates.update(regions.picture_updates(page.regions, state, ctx, _))
    updates.update(chat.cleared(page.chat, state))
    return updates


def series_updates(page: "Page", state: SessionState, series: list[Any]) -> dict[Any, Any]:
    """Show the series choice (largest first) and ask the user to pick one."""
    return {page.viewer.series: gr.update(
        visible=True, value=None,
        choices=[(f"{s.description or s.uid} · {s.modality} · {s.count}", s.uid) for s in series])}


def open_files(page: "Page", ctx: AppContext, files: list[str] | str | None, state: SessionState,
               series_uid: str | None = None) -> dict[Any, Any]:
    """Open uploaded (or example) files into the session; updates for the page."""
    if not files:
        return {}
    paths = [files] if isinstance(files, str) else list(files)
    try:
        series = load_files(state, paths, series_uid or None)
    except MedRegAError as error:
        raise user_error(error, state.lang) from None
    if series is not None:
        state.scan_paths = paths
        return series_updates(page, state, series)
    return scan_updates(page, state, ctx)


def scan_outputs(page: "Page") -> set[Any]:
    """Every widget :func:`open_files` may update."""
    r, c = page.regions, page.chat
    return {*(getattr(page.viewer, f.name) for f in dataclasses.fields(page.viewer)),
            r.canvas, r.overlay, r.table, r.selected, c.chatbot, c.answer, c.speed}


def wire_viewer(page: "Page", ctx: AppContext) -> None:
    from ui_components import regions

    h, state_holder = page.viewer, page.state

    def on_files(files: list[str] | None, state: SessionState) -> dict[Any, Any]:
        return open_files(page, ctx, files, state)

    def on_series(uid: str | None, state: SessionState) -> dict[Any, Any]:
        return open_files(page, ctx, state.scan_paths, state, uid) if uid else {}

    def on_view(state: SessionState, preset: str | None, center: float | None, width: float | None,
                plane: str, slice_index: int, frame: int, manual: bool = False) -> dict[Any, Any]:
        if state.scan is None:
            raise plain_error(N_("Load a scan first."), state.lang)
        size = (state.rendering.geometry.width, state.rendering.geometry.height)
        try:
            show(state, view_from_widgets(state, preset, center, width, plane, slice_index, frame, manual))
        except MedRegAError as error:
            raise user_error(error, state.lang) from None
        if (state.rendering.geometry.width, state.rendering.geometry.height) != size:
            state.user_boxes = []  # boxes belong to a picture of another size
        updates = {getattr(h, name): update for name, update in view_controls(state).items()}
        updates[h.orientation] = orientation_text(state.rendering, translator(state.lang))
        updates.update(regions.picture_updates(page.regions, state, ctx, translator(state.lang)))
        return updates

    def on_manual(state: SessionState, *values: Any) -> dict[Any, Any]:
        return {**on_view(state, *values, manual=True), h.preset: gr.update(value=None)}

    view_inputs = [state_holder, h.preset, h.center, h.width, h.plane, h.slice, h.frame]
    view_outputs = {h.plane, h.slice, h.frame, h.center, h.width, h.orientation, page.regions.canvas,
                    page.regions.overlay, page.regions.table, page.regions.selected}
    # Progress and errors show on the canvas only, so a failed request does not cover the other panels.
    shown_on = [page.regions.canvas]
    page.refresh_prompt(h.upload.upload(on_files, [h.upload, state_holder], scan_outputs(page), api_name="load_scan",
                                        show_progress_on=shown_on))
    page.refresh_prompt(h.series.input(on_series, [h.series, state_holder], scan_outputs(page),
                                       api_name="choose_series", show_progress_on=shown_on))
    page.refresh_prompt(gr.on([h.preset.input, h.plane.input, h.slice.release, h.frame.release], on_view,
                              view_inputs, view_outputs, api_name="set_view", show_progress_on=shown_on))
    page.refresh_prompt(gr.on([h.apply_window.click, h.center.submit, h.width.submit], on_manual, view_inputs,
                              view_outputs | {h.preset}, api_name="set_window", show_progress_on=shown_on))
    # Zoom is display only (the browser scales the annotated picture; picture pixels stay the same),
    # so it runs in the page without a server round trip. See ZOOM_CSS.
    h.zoom.change(None, h.zoom, None, js=ZOOM_JS, api_name=False, queue=False)
