"""Viewer panel: the upload, the series choice, and one Cornerstone3D viewer (``viewer_frontend/``).

The scan is decoded once, by :mod:`medrega_core.intake`; the browser fetches the values of each
picture from :mod:`ui_components.viewer_data` and windows them itself. Python keeps what the model
needs: which picture is shown (plane, slice, frame), the user's boxes on it, and, at the moment of a
question, the window, so the server renders exactly the pixels the user sees.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import gradio as gr

from medrega_core.errors import N_, MedRegAError
from medrega_core.export import PLANE_TITLES, Measurement
from medrega_core.i18n import translate, translator
from medrega_core.intake import (
    MultipleSeriesError, Scan, ScanKind, SeriesChoice, View, Window, WindowPreset, picture_frame, render, resolve_window,
)
from medrega_core.render import propose_box
from medrega_core.tasks import PixelBox
from ui_components.context import AppContext
from ui_components.labels import Texts, Translate, plain_error, user_error
from ui_components.links import PageLinks, opening
from ui_components.state import SessionState, UserBox
from ui_components.viewer_data import URL_PREFIX

BUNDLE = Path(__file__).resolve().parent / "viewer_frontend" / "dist" / "medrega-viewer.js"

#: Window preset names of the intake layer -> English label (msgid).
PRESET_LABELS = {
    "soft_tissue": N_("Soft tissue"),
    "lung": N_("Lung"),
    "liver": N_("Liver"),
    "bone": N_("Bone"),
    "brain": N_("Brain"),
    "header": N_("From the file"),
    "auto": N_("Automatic"),
}

#: What the viewer's own text says (its keys are the bundle's), as English msgids.
VIEWER_TEXTS = {
    "tool.window": N_("Window"),
    "tool.window.hint": N_("Left drag: window (width sideways, level up and down)"),
    "tool.box": N_("Box"),
    "tool.box.hint": N_("Drag to draw a box, click to propose one around a structure"),
    "tool.length": N_("Length"),
    "tool.length.hint": N_("Drag to measure a distance in mm"),
    "tool.probe": N_("Probe"),
    "tool.probe.hint": N_("Click to read the value under the pointer"),
    "tool.pan": N_("Pan"),
    "tool.pan.hint": N_("Left drag: move the picture"),
    "tool.reset": N_("Reset"),
    "tool.reset.hint": N_("Fit the picture and restore the window (r)"),
    "tool.cine": N_("Cine"),
    "tool.cine.hint": N_("Play through frames, time points or slices (space)"),
    "tool.help": N_("?"),
    "tool.help.hint": N_("Mouse and keyboard"),
    "help.title": N_("Mouse and keyboard"),
    "help.line.1": N_("Left drag: the chosen tool (window/level at first)"),
    "help.line.2": N_("Middle drag: pan · right drag: zoom · wheel: next or previous slice"),
    "help.line.3": N_("Arrow keys: one slice · Page Up/Down: a tenth of the slices · Home/End: first/last"),
    "help.line.4": N_("1 to 5: window presets · r: reset the view · space: cine"),
    "help.line.5": N_("Box tool: drag to draw, click to propose a box; drag a corner to resize"),
    "help.line.6": N_("Double-click a box to name it; click it and press Delete to remove it"),
    "help.line.7": N_("Click a model box to ask a follow-up question about that region"),
    "overlay.slice": N_("Slice"),
    "overlay.frame": N_("Frame"),
    "overlay.time": N_("Time"),
    "overlay.window": N_("W/L"),
    "overlay.zoom": N_("Zoom"),
    "overlay.loading": N_("Loading"),
    "plane.wait": N_("This plane is cut across the slices: it appears once every slice has loaded."),
    "box.name": N_("Name of this box"),
    "error.load": N_("This picture could not be loaded from the server; try again."),
    "plane.axial": N_("Axial"),
    "plane.coronal": N_("Coronal"),
    "plane.sagittal": N_("Sagittal"),
    "empty.hint": N_("No scan yet: upload one above (DICOM, NIfTI, MetaImage or a picture), or open one of the "
                     "examples on the right."),
}

#: gr.HTML's script: one viewer in this element; Python's values arrive through ``watch``. The two
#: event names appear quoted here so that Gradio gives the component those events.
VIEWER_JS = """
const events = ['viewer_change', 'select_region'];
const viewer = window.MedRegAViewer.mount(element, {trigger: (name, data) => events.includes(name) && trigger(name, data), server});
window.medregaViewer = viewer;
viewer.update(props.value);
watch('value', () => viewer.update(props.value));
"""

#: Ask and export read the viewer's state at the moment of the click (the first input is replaced).
WITH_VIEWER_STATE_JS = "(...args) => [window.medregaViewer ? window.medregaViewer.state() : null, ...args.slice(1)]"


@dataclass(frozen=True)
class ViewerHandles:
    upload: gr.File
    series: gr.Dropdown
    scan_line: gr.Markdown
    viewer: gr.HTML
    viewer_state: gr.JSON
    metadata_box: gr.Accordion
    metadata: gr.JSON
    # Inputs of the script-only endpoints /set_view and /set_boxes (never shown).
    api_view: gr.JSON
    api_boxes: gr.JSON
    api_view_button: gr.Button
    api_boxes_button: gr.Button


def texts(_: Translate, state: SessionState | None = None) -> Texts:
    return {
        "upload": {"label": _("Scan: one file, several files of a series, or a zip")},
        "series": {"label": _("Series"), "info": _("The upload holds several series; choose one.")},
        "metadata_box": {"label": _("Scan information (no patient identifiers)")},
    }


def bundle_head() -> str:
    """The script tag of the viewer bundle, versioned by its content so browsers never run a stale copy."""
    version = hashlib.sha256(BUNDLE.read_bytes()).hexdigest()[:12]
    return f'<script src="gradio_api/file={BUNDLE}?v={version}"></script>'


def create_viewer(ctx: AppContext) -> ViewerHandles:
    """Lay out the upload, the series choice and the viewer."""
    t = texts(lambda m, **p: m)
    upload = gr.File(file_count="multiple", type="filepath", elem_id="scan-upload", height=120, **t["upload"])
    series = gr.Dropdown(visible=False, elem_id="series-choice", **t["series"])
    scan_line = gr.Markdown(elem_id="scan-line")
    viewer = scan_viewer(ctx)
    viewer_state = gr.JSON(visible=False, elem_id="viewer-state")
    with gr.Accordion(open=False, elem_id="metadata-box", **t["metadata_box"]) as metadata_box:
        metadata = gr.JSON(elem_id="metadata", show_label=False)
    api_view, api_boxes = gr.JSON(visible=False), gr.JSON(visible=False)
    api_view_button, api_boxes_button = gr.Button(visible=False), gr.Button(visible=False)
    return ViewerHandles(upload, series, scan_line, viewer, viewer_state, metadata_box, metadata, api_view, api_boxes,
                         api_view_button, api_boxes_button)


def scan_viewer(ctx: AppContext, elem_id: str = "scan-viewer") -> gr.HTML:
    """The Cornerstone3D viewer component (one per page: its script is ``window.medregaViewer``)."""
    gr.set_static_paths([str(BUNDLE.parent)])
    return gr.HTML(value=empty_value(), html_template="", js_on_load=VIEWER_JS, head=bundle_head(), elem_id=elem_id,
                   # Gradio's prose styles would win over the viewer's own (dark letters, large buttons).
                   apply_default_css=False, server_functions=[ctx_propose(ctx)])


def empty_value(lang: str = "en") -> dict[str, Any]:
    return {"scan": None, "view": None, "userBoxes": None, "modelBoxes": [], "selectedRegion": None,
            "texts": viewer_texts(translator(lang), lang)}


def viewer_texts(_: Translate, lang: str) -> dict[str, str]:
    return {**{key: _(msgid) for key, msgid in VIEWER_TEXTS.items()}, "lang": lang}


# ---- what the viewer is told ----

def plane_info(scan: Scan) -> dict[str, dict[str, Any]]:
    """Per plane: picture size, slice count, mm per pixel and edge letters (of the middle slice), known
    from the geometry alone (no values read: a series still loading has them at once)."""
    info = {}
    for plane in scan.planes:
        frame = picture_frame(scan, View(plane=plane))
        spacing = frame.geometry.mm_per_picture_pixel
        info[plane.value] = {"width": frame.geometry.width, "height": frame.geometry.height,
                             "slices": scan.num_slices(plane), "spacing": spacing[0] if spacing else None,
                             "orientation": frame.orientation}
    return info


def is_loading(scan: Scan) -> bool:
    """True while slices of a series opened in the background are still being decoded."""
    return scan.loading is not None and not scan.loading.complete


def ready_presets(scan: Scan) -> list[str]:
    """The window presets the viewer gets now: the automatic window needs every value of the scan, so
    it comes once a series has loaded."""
    loading = is_loading(scan)
    return [name for name in scan.presets if not (loading and name == WindowPreset.AUTO.value)]


def window_value(window: Window | None) -> dict[str, float] | None:
    return None if window is None else {"center": float(window.center), "width": float(window.width)}


def frame_time_ms(scan: Scan) -> float | None:
    """Time between cine frames the file states: DICOM Frame Time, else Cine Rate; None without either."""
    header = scan.dicom_header
    if header is None:
        return None
    for keyword, to_ms in (("FrameTime", float), ("CineRate", lambda rate: 1000 / float(rate))):
        try:
            value = to_ms(header.get(keyword))
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if 0 < value < 10_000:
            return value
    return None


def plane_labels(scan: Scan, planes: dict[str, Any], _: Translate) -> dict[str, Any]:
    """``planes`` with each plane's label for the viewer's overlay: what its pictures show (a 2-D
    picture's own plane from its geometry, "Projection" for a radiograph, nothing for a photo)."""
    names = {plane: scan.plane_name(plane) for plane in planes}
    return {plane: {**info, "label": _(PLANE_TITLES[names[plane]]) if names[plane] else ""}
            for plane, info in planes.items()}


def scan_descriptor(scan: Scan, token: str, planes: dict[str, Any], _: Translate) -> dict[str, Any]:
    presets = [{"key": name, "label": _(PRESET_LABELS.get(name, name)), **window_value(resolve_window(scan, name))}
               for name in ready_presets(scan)]
    steps = scan.num_frames if scan.kind is ScanKind.FRAMES else scan.num_timepoints
    return {"key": token, "url": f"{URL_PREFIX}/{token}", "kind": scan.kind.value, "modality": scan.metadata.modality,
            "unit": scan.metadata.value_unit, "colour": scan.is_colour, "invert": scan.invert,
            "planes": plane_labels(scan, planes, _), "steps": steps, "frameTimeMs": frame_time_ms(scan),
            "presets": presets, "defaultWindow": window_value(scan.default_window), "loading": is_loading(scan)}


def view_request(state: SessionState) -> dict[str, Any]:
    view = state.view
    window = None if state.scan.is_colour else resolve_window(state.scan, view.window)
    step = view.frame if state.scan.kind is ScanKind.FRAMES else view.timepoint
    return {"serial": state.view_serial, "plane": str(view.plane), "slice": view.slice_index or 0, "frame": step,
            "window": window_value(window)}


def model_boxes(state: SessionState) -> list[dict[str, Any]]:
    """The latest answer's boxes, on the picture that answer was about, in its phrases' colours."""
    from medrega_core.render import palette_hex

    exchange = state.exchanges[-1] if state.exchanges else None
    if state.parsed is None or exchange is None or exchange.rendering is None:
        return []
    rendering = exchange.rendering
    view, g = rendering.view, rendering.geometry
    step = view.frame if state.scan.kind is ScanKind.FRAMES else view.timepoint
    boxes = []
    for i, region in enumerate(state.parsed.regions):
        for box in region.pixel_boxes(g.width, g.height):
            boxes.append({"region": i, "tag": str(i + 1), "label": region.name or "", "color": palette_hex(i),
                          **box_json(box), "plane": str(view.plane),
                          "slice": view.slice_index or 0, "frame": step})
    return boxes


def viewer_value(state: SessionState, push_view: bool = False, push_boxes: bool = False) -> dict[str, Any]:
    """The viewer component's value for the session. ``push_view``/``push_boxes`` make the viewer
    adopt the server's view or box list (after a script's /set_view or /set_boxes, or a new scan)."""
    value = empty_value(state.lang)
    if state.scan is None:
        return value
    if push_view:
        state.view_serial += 1
    if push_boxes:
        state.boxes_serial += 1
    boxes = [user_box_json(u) for u in state.user_boxes]
    value.update({
        "scan": scan_descriptor(state.scan, state.scan_token, state.planes, translator(state.lang)),
        "view": view_request(state),
        "userBoxes": {"serial": state.boxes_serial, "boxes": boxes},
        "modelBoxes": model_boxes(state),
        "selectedRegion": state.selected_region,
    })
    return value


def scan_line_text(state: SessionState, _: Translate) -> str:
    """One line about the open scan: description, modality, and how many pictures it holds."""
    if state.scan is None:
        return ""
    scan, info = state.scan, state.scan.info
    description = next((d for d in (info.series_description, info.study_description) if words(d)), _("Scan"))
    if scan.kind is ScanKind.VOLUME:  # counted as the viewer counts them: slices of the axial plane it shows first
        count = _("{count} axial slices", count=scan.num_slices(scan.planes[0]))
        steps = _("{count} time points", count=scan.num_timepoints) if scan.num_timepoints > 1 else ""
    else:
        count = _("{count} images", count=scan.num_frames) if scan.num_frames > 1 else _("1 image")
        steps = ""
    parts = [description, info.modality, count, steps, f"{info.size[0]} × {info.size[1]}"]
    return " · ".join(p for p in parts if p)


#: A description that is only a number or a piece of one ("e+1", "10"): it says nothing to a reader.
_NUMBER_LIKE = re.compile(r"[\s\d.,+-]*(?:[eE][+-]?\d*)?[\s\d.,+-]*")


def words(description: str) -> str:
    """``description`` when it says something, else "" (empty, or number-like)."""
    text = description.strip()
    return "" if _NUMBER_LIKE.fullmatch(text) else text


# ---- the view and boxes the viewer reports ----

def view_from_viewer(scan: Scan, reported: dict[str, Any]) -> View:
    """The :class:`View` of a ``medregaViewer.state()`` report (window included when it has one)."""
    window = reported.get("window")
    frame = int(reported.get("frame") or 0)
    frames = scan.kind is ScanKind.FRAMES
    return View(plane=str(reported.get("plane") or scan.planes[0].value), slice_index=int(reported.get("slice") or 0),
                frame=frame if frames else 0, timepoint=0 if frames else frame,
                window=Window(float(window["center"]), float(window["width"])) if window else None)


def box_json(box: PixelBox) -> dict[str, float]:
    """A box's corners as the contract writes them (``Box`` of the schema)."""
    return {"xmin": box.x1, "ymin": box.y1, "xmax": box.x2, "ymax": box.y2}


def user_box_json(user_box: UserBox) -> dict[str, Any]:
    """A user's box with its label, as the contract writes it."""
    return {"label": user_box.label, **box_json(user_box.box)}


def user_boxes_of(boxes: list[dict[str, Any]] | None) -> list[UserBox]:
    """Boxes in the contract's one format, ``{xmin, ymin, xmax, ymax, label}`` in picture pixels (the browser's
    reports and the scripted API alike); raises KeyError, TypeError or ValueError on anything else."""
    return [UserBox(PixelBox(float(b["xmin"]), float(b["ymin"]), float(b["xmax"]), float(b["ymax"])),
                    str(b.get("label") or "")) for b in boxes or []]


#: Points of each measurement kind the viewer reports.
MEASUREMENT_POINTS = {"length": 2, "probe": 1}


def measurements_from_viewer(reported: dict[str, Any]) -> list[Measurement]:
    """The length and probe marks of a viewer report (malformed ones are left out)."""
    marks = []
    for mark in reported.get("measurements") or []:
        try:
            points = tuple((float(x), float(y)) for x, y in mark["points"])
        except (KeyError, TypeError, ValueError):
            continue
        if MEASUREMENT_POINTS.get(mark.get("kind")) == len(points):
            marks.append(Measurement(mark["kind"], points))
    return marks


def adopt_viewer_state(state: SessionState, reported: dict[str, Any] | None) -> None:
    """Take the view and the boxes the browser shows as the session's (checked against the scan)."""
    if state.scan is None or not reported or reported.get("scanKey") != state.scan_token:
        return  # a report about a scan this session no longer has open
    state.set_view(view_from_viewer(state.scan, reported))
    state.measurements = measurements_from_viewer(reported)
    ids = [b.get("id") for b in reported.get("boxes") or []]
    selected = reported.get("selectedBox")
    state.set_boxes(user_boxes_of(reported.get("boxes")), selected=ids.index(selected) if selected in ids else None)


def ctx_propose(ctx: AppContext) -> Any:
    """The viewer's server function: a box around the clicked pixel, proposed on the windowed picture."""
    def propose_box_at(request: dict[str, Any]) -> dict[str, Any]:
        lang = str(request.get("lang") or "en")
        scan = ctx.scans.get(str(request.get("key") or ""))
        if scan is None:
            return {"error": translate(N_("Load a scan first."), lang)}
        try:
            rendering = render(scan, view_from_viewer(scan, request))
            box = propose_box(rendering.rgb, float(request["x"]), float(request["y"]))
        except MedRegAError as error:
            return {"error": error.localized(lang)}
        except (KeyError, TypeError, ValueError):
            return {"error": translate(N_("The viewer sent a request the server could not read."), lang)}
        return {"box": {"label": "", **box_json(box)}}
    propose_box_at.__name__ = "propose_box"
    return propose_box_at


# ---- opening scans ----

def load_files(state: SessionState, ctx: AppContext, paths: list[str],
               series_uid: str | None = None) -> list[SeriesChoice] | None:
    """Open an upload into ``state`` and give the viewer a key to its pictures; returns the series
    choices when the upload holds several series. Raises the intake's error when it cannot be opened."""
    previous = state.scan_token
    try:
        state.open(paths, series_uid=series_uid, background=True)
    except MultipleSeriesError as error:
        return list(error.choices)
    give_viewer_the_scan(state, ctx, previous)
    return None


def adopt_scan(state: SessionState, ctx: AppContext, scan: Scan, view: View) -> None:
    """Make an opened ``scan`` the session's, shown at ``view`` (the previous scan is closed)."""
    previous = state.scan_token
    state.show_scan(scan, view=view)
    give_viewer_the_scan(state, ctx, previous)


def give_viewer_the_scan(state: SessionState, ctx: AppContext, previous_token: str | None) -> None:
    """A key to the pictures of the session's new scan for the viewer; the previous scan's go."""
    ctx.scans.remove(previous_token)
    state.scan_token = ctx.scans.add(state.scan)
    state.planes = plane_info(state.scan)  # fixed per scan: computed once, sent with every viewer value


def series_label(series: Any, _: Translate) -> str:
    """How a series is named in the chooser: description, modality, number, image count and date,
    never its UID (which means nothing to a reader)."""
    count = _("{count} images", count=series.count) if series.count != 1 else _("1 image")
    parts = [series.description or _("Series without description"), series.modality,
             _("series {number}", number=series.number) if series.number else "", count, series.date]
    return " · ".join(p for p in parts if p)


def series_updates(h: ViewerHandles, series: list[Any], _: Translate) -> dict[Any, Any]:
    """Show the series choice (largest first) and ask the user to pick one."""
    return {h.series: gr.update(visible=True, value=None, choices=[(series_label(s, _), s.uid) for s in series])}


def opened_updates(h: ViewerHandles, state: SessionState) -> dict[Any, Any]:
    """The viewer's own widgets once a scan is open: the upload box empties (the scan line names the
    scan; the next upload is a new case of its own)."""
    return {h.upload: None, h.series: gr.update(visible=False), h.scan_line: scan_line_text(state, translator(state.lang)),
            h.metadata: state.scan.info.to_dict()}


def loaded_updates(state: SessionState, links: PageLinks) -> dict[Any, Any]:
    """Once the series opened in the background has every slice decoded: the viewer's value again (the
    automatic window preset, reformatted planes ready). Slices that could not be decoded are reported in
    a warning; the others stay viewable. Nothing when no series was loading or another scan was opened
    meanwhile."""
    scan = state.scan
    failed = None if scan is None or scan.loading is None else scan.loading.settle()
    if failed is None or state.scan is not scan:
        return {}
    if failed:
        reason = failed[0].localized(state.lang) if isinstance(failed[0], MedRegAError) else ""
        gr.Warning(html.escape(translate(N_("{count} of the {total} slices cannot be shown. {reason}"), state.lang,
                                         count=len(failed), total=scan.loading.count, reason=reason), quote=False))
    return links.picture_updates(state)


def parse_api_view(state: SessionState, request: dict[str, Any] | None) -> View:
    """The View of a script's /set_view request ``{plane, slice, frame, preset | center + width}``."""
    request = request or {}
    window: Window | str | None = request.get("preset") or None
    if request.get("center") is not None and request.get("width") is not None:
        window = Window(float(request["center"]), float(request["width"]))
    reported = {"plane": request.get("plane") or str(state.view.plane), "slice": request.get("slice", state.view.slice_index),
                "frame": request.get("frame", 0)}
    return dataclasses.replace(view_from_viewer(state.scan, reported), window=window or state.view.window)


def wire_viewer(h: ViewerHandles, ctx: AppContext, links: PageLinks) -> None:
    state_holder = links.state

    def on_files(files: list[str] | None, state: SessionState) -> Iterator[dict[Any, Any]]:
        yield from opening(lambda: links.open_files(files, state))

    def on_series(series_uid: str | None, state: SessionState) -> Iterator[dict[Any, Any]]:
        # Closing the dropdown without a choice sends no series: nothing changes.
        yield from opening(lambda: links.open_files(state.pending_paths if series_uid else None, state, series_uid))

    def on_loaded(state: SessionState) -> dict[Any, Any]:
        return loaded_updates(state, links)

    def on_viewer_change(state: SessionState, evt: gr.EventData) -> dict[Any, Any]:
        try:
            adopt_viewer_state(state, evt._data)
        except MedRegAError:
            pass  # a report of a view this scan lacks (it changed meanwhile): the next one will do
        return links.region_updates(state)

    def on_select_region(state: SessionState, evt: gr.EventData) -> dict[Any, Any]:
        region = (evt._data or {}).get("region")
        if state.parsed is not None and isinstance(region, int) and 0 <= region < len(state.parsed.regions):
            state.selected_region = region
        return links.picture_updates(state)

    def on_api_view(state: SessionState, view: dict[str, Any] | None) -> dict[Any, Any]:
        if state.scan is None:
            raise plain_error(N_("Load a scan first."), state.lang)
        try:
            state.set_view(parse_api_view(state, view))
        except MedRegAError as error:
            raise user_error(error, state.lang) from None
        except (TypeError, ValueError):
            raise plain_error(N_("The view request could not be read."), state.lang) from None
        return links.picture_updates(state, push_view=True)

    def on_api_boxes(state: SessionState, boxes: list[dict[str, Any]] | None) -> dict[Any, Any]:
        if state.scan is None:
            raise plain_error(N_("Load a scan first."), state.lang)
        try:
            given = user_boxes_of(boxes)
        except (KeyError, TypeError, ValueError):
            raise plain_error(N_("Boxes are a list of {{xmin, ymin, xmax, ymax, label}} in picture pixels."),
                              state.lang) from None
        state.set_boxes(given, selected=len(given) - 1 if given else None)  # the last box given
        return links.picture_updates(state, push_boxes=True)

    picture_outputs = links.picture_outputs
    for opened in (h.upload.upload(on_files, [h.upload, state_holder], links.scan_outputs, api_name="load_scan",
                                   show_progress_on=[h.viewer]),
                   h.series.input(on_series, [h.series, state_holder], links.scan_outputs, api_name="choose_series",
                                  show_progress_on=[h.viewer])):
        links.refresh_prompt(opened)
        # The open's event ends with the first picture; the rest of a series arrives in its own quiet event.
        opened.then(on_loaded, [state_holder], picture_outputs, api_name=False, show_progress="hidden")
    links.refresh_prompt(h.viewer.viewer_change(on_viewer_change, [state_holder], picture_outputs - {h.viewer},
                                               api_name=False, show_progress="hidden", trigger_mode="always_last"))
    links.refresh_prompt(h.viewer.select_region(on_select_region, [state_holder], picture_outputs, api_name=False,
                                               show_progress="hidden"))
    links.refresh_prompt(h.api_view_button.click(on_api_view, [state_holder, h.api_view], picture_outputs,
                                                api_name="set_view", show_progress="hidden"))
    links.refresh_prompt(h.api_boxes_button.click(on_api_boxes, [state_holder, h.api_boxes], picture_outputs,
                                                 api_name="set_boxes", show_progress="hidden"))
