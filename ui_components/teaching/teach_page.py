"""The teacher's page (``/teach``): prepare cases, run a session, watch the class, export results.

Every action takes the teacher's key (``--teacher-password``, or the token printed at start) from
the key field. The running session's code sits in a field of the page, so the overview keeps
working after a restart of the app.
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import gradio as gr
from PIL import Image

from medrega_core.errors import N_, MedRegAError
from medrega_core.examples import list_examples
from medrega_core.i18n import normalize_language, translator
from medrega_core.tasks import TASK_TITLES
from medrega_core.teaching import (
    CASE_TASKS, answer_case, case_rendering, export_case_set, import_case_set, result_rows, results_csv,
)
from medrega_core.teaching.overview import IOU_BINS, class_picture, score_spread
from ui_components import pacs, viewer
from ui_components.chat import answer_html
from ui_components.context import MODEL_CONCURRENCY_ID
from ui_components.labels import Texts, Translate, merge_updates, plain_error, relabel, user_error
from ui_components.pacs import PacsHandles, PacsTarget
from ui_components.page import LANGUAGE_CHOICES, SWITCH_GRADIO_LOCALE_JS
from ui_components.state import SessionState, delete_session
from ui_components.teaching.host import CLASS_PATH, TeachingHost, follow_viewer, keep_language, unchanged

#: Seconds between two refreshes of the overview.
OVERVIEW_SECONDS = 2.0
DEFAULT_SET_TITLE = "Cases"


@dataclass
class Teacher:
    """The teacher's page: the scan being prepared (the viewer's session), its series, the case saved last."""

    view: SessionState = field(default_factory=SessionState)
    series_uid: str | None = None
    saved_case: int | None = None

    @property
    def lang(self) -> str:
        return self.view.lang


@dataclass(frozen=True)
class TeachHandles:
    state: gr.State
    language: gr.Radio
    title: gr.Markdown
    key: gr.Textbox
    remembered: gr.BrowserState
    tabs: gr.Tabs
    prepare: gr.Tab
    run: gr.Tab
    upload: gr.File
    series: gr.Dropdown
    example: gr.Dropdown
    viewer: gr.HTML
    viewer_state: gr.JSON
    task: gr.Radio
    question: gr.Textbox
    reference: gr.Textbox
    set_title: gr.Textbox
    ask_model: gr.Checkbox
    save: gr.Button
    saved: gr.Markdown
    case_set: gr.Dropdown
    start: gr.Button
    session_code: gr.Textbox
    join_line: gr.Markdown
    next: gr.Button
    reveal: gr.Button
    show_names: gr.Checkbox
    progress: gr.Markdown
    picture: gr.Image
    scores: gr.Markdown
    compare: gr.Markdown
    results: gr.Button
    result_files: gr.File
    export: gr.Button
    export_file: gr.File
    import_file: gr.File
    imported: gr.Markdown
    timer: gr.Timer
    #: The workbench's PACS panel, or None when the app runs without ``--dicomweb``.
    pacs: PacsHandles | None = None


def texts(_: Translate) -> Texts:
    return {
        "title": {"value": "## " + _("Teaching: prepare cases and run a session")},
        "key": {"label": _("Teacher's password or token")},
        "prepare": {"label": _("Prepare cases")},
        "run": {"label": _("Run a session")},
        "upload": {"label": _("Scan: one file, several files of a series, or a zip")},
        "series": {"label": _("Series")},
        "example": {"label": _("Or open an example")},
        "task": {"label": _("Question type"), "choices": [(_(TASK_TITLES[t]), t.value) for t in CASE_TASKS]},
        "question": {"label": _("Question for the residents (objects to locate, comma-separated, for 'Find objects')")},
        "reference": {"label": _("Reference answer (optional)")},
        "set_title": {"label": _("Case set")},
        "ask_model": {"label": _("Let the model answer now (stored with the case)")},
        "save": {"value": _("Save case (view and named boxes as shown)")},
        "case_set": {"label": _("Case set to run")},
        "start": {"value": _("Start session")},
        "session_code": {"label": _("Session code")},
        "next": {"value": _("Next case")},
        "reveal": {"value": _("Reveal to all")},
        "show_names": {"label": _("Show names")},
        "picture": {"label": _("Every resident's boxes (dashed), the reference and the model")},
        "results": {"value": _("Export results (CSV and JSON)")},
        "result_files": {"label": _("Results")},
        "export": {"value": _("Export the case set")},
        "export_file": {"label": _("Case set file")},
        "import_file": {"label": _("Import a case set (zip)")},
    }


def create_teach_page(host: TeachingHost) -> TeachHandles:
    t = texts(lambda m, **p: m)
    with gr.Column(elem_id="teach-page"):
        state = gr.State(Teacher(), delete_callback=lambda t: delete_session(t.view, host.ctx.scans))
        with gr.Row(equal_height=True):
            title = gr.Markdown(elem_id="teach-title", **t["title"])
            language = gr.Radio(LANGUAGE_CHOICES, value="en", show_label=False, elem_id="teach-language", scale=0,
                                min_width=220, container=False)
        key = gr.Textbox(type="password", elem_id="teach-key", **t["key"])
        # The browser keeps the key and the running session (encrypted): a reloaded page carries on.
        remembered = gr.BrowserState({"key": "", "code": ""}, storage_key="medrega-teach", secret=host.browser_secret)
        with gr.Tabs(elem_id="teach-tabs") as tabs:
            with gr.Tab(id="prepare", elem_id="teach-prepare", **t["prepare"]) as prepare:
                with gr.Row():
                    with gr.Column(scale=6):
                        with gr.Row():
                            upload = gr.File(file_count="multiple", type="filepath", elem_id="teach-upload", height=100,
                                             **t["upload"])
                            example = gr.Dropdown(example_choices("en"), value=None, elem_id="teach-example",
                                                  **t["example"])
                        pacs_h = (pacs.create_pacs(host.ctx, "teach-pacs", opened=False)
                                  if host.ctx.options.dicomweb_url else None)
                        series = gr.Dropdown(visible=False, elem_id="teach-series", **t["series"])
                        scan_viewer = viewer.scan_viewer(host.ctx, "teach-viewer")
                        viewer_state = gr.JSON(visible=False)  # filled in the browser at the save click
                    with gr.Column(scale=4):
                        task = gr.Radio(value=CASE_TASKS[0].value, elem_id="teach-task", **t["task"])
                        question = gr.Textbox(lines=2, elem_id="teach-question", **t["question"])
                        reference = gr.Textbox(lines=3, elem_id="teach-reference", **t["reference"])
                        set_title = gr.Textbox(value=DEFAULT_SET_TITLE, elem_id="teach-set-title", **t["set_title"])
                        ask_model = gr.Checkbox(value=False, elem_id="teach-ask-model", **t["ask_model"])
                        save = gr.Button(variant="primary", elem_id="teach-save", **t["save"])
                        saved = gr.Markdown(elem_id="teach-saved")
            with gr.Tab(id="run", elem_id="teach-run", **t["run"]) as run:
                with gr.Row(equal_height=True):
                    case_set = gr.Dropdown(choices=[], value=None, elem_id="teach-set", **t["case_set"])
                    start = gr.Button(variant="primary", elem_id="teach-start", **t["start"])
                    session_code = gr.Textbox(elem_id="teach-session-code", max_length=12, **t["session_code"])
                join_line = gr.Markdown(elem_id="teach-join")
                with gr.Row():
                    next_button = gr.Button(elem_id="teach-next", **t["next"])
                    reveal = gr.Button(elem_id="teach-reveal", **t["reveal"])
                    show_names = gr.Checkbox(value=False, elem_id="teach-show-names", **t["show_names"])
                with gr.Column(elem_id="teach-overview"):
                    progress = gr.Markdown(elem_id="teach-progress")
                    with gr.Row():
                        picture = gr.Image(type="pil", interactive=False, elem_id="teach-picture", height=480,
                                           format="png", **t["picture"])
                        with gr.Column():
                            scores = gr.Markdown(elem_id="teach-scores")
                            compare = gr.Markdown(elem_id="teach-compare")
                with gr.Row():
                    results = gr.Button(elem_id="teach-results", **t["results"])
                    result_files = gr.File(file_count="multiple", interactive=False, elem_id="teach-result-files",
                                           **t["result_files"])
                with gr.Row():
                    export = gr.Button(elem_id="teach-export", **t["export"])
                    export_file = gr.File(interactive=False, elem_id="teach-export-file", **t["export_file"])
                    import_file = gr.File(file_types=[".zip"], type="filepath", elem_id="teach-import",
                                          **t["import_file"])
                imported = gr.Markdown(elem_id="teach-imported")
        timer = gr.Timer(OVERVIEW_SECONDS)
    return TeachHandles(state, language, title, key, remembered, tabs, prepare, run, upload, series, example,
                        scan_viewer, viewer_state, task, question, reference, set_title, ask_model, save, saved,
                        case_set, start, session_code, join_line, next_button,
                        reveal, show_names, progress, picture, scores, compare, results, result_files, export,
                        export_file, import_file, imported, timer, pacs_h)


# ---- what the teacher sees ----

def example_choices(lang: str) -> list[tuple[str, int]]:
    """The app's examples by title in ``lang``; the value is the example's place in the catalog."""
    return [(example.title.get(lang) or example.title["en"], index) for index, example in enumerate(list_examples())]


def join_text(code: str, _: Translate) -> str:
    link = f"/{CLASS_PATH}?code={code}"
    return (f"# {code}\n" + _("Residents open {link} on this server and type their name.",
                              link=f"[{link}]({link})"))


def overview(host: TeachingHost, code: str, show_names: bool, _: Translate) -> tuple[str, Any, str, str]:
    """Progress line, the class picture, the score spread and the model beside the reference."""
    store = host.store
    session = store.session(code)
    case = store.case(session.current_case_id)
    names, answers = store.answers(code, case.id)
    progress = _("Case {number} of {count} · {done} of {joined} residents submitted", number=session.current + 1,
                 count=len(session.case_ids), done=len(answers), joined=len(names))
    if session.is_revealed:
        progress += " · " + _("revealed to all")
    who = ", ".join(html.escape(a.name) for a in answers) if show_names else ""
    picture = Image.fromarray(class_picture(case_rendering(store, case), case, answers, show_names, _("reference")))
    spread = score_spread(answers)
    rows = [f"| {IOU_BINS[i]:.2f}-{IOU_BINS[i + 1]:.2f} | {count} |" for i, count in enumerate(spread.counts)]
    scores = "\n".join([
        "#### " + _("Scores"),
        _("{hits} of {boxes} boxes hit (IoU >= 0.5)", hits=spread.hits, boxes=spread.boxes)
        + (" · " + _("mean IoU {iou}", iou=f"{spread.mean_iou:.2f}") if spread.mean_iou is not None else ""),
        "", "| IoU | " + _("boxes") + " |", "|---|---|", *rows, "",
        *([_("Submitted: {names}", names=who)] if who else [])])
    model = answer_html(case.model_answer) if case.model_answer else _("The model was not asked about this case.")
    compare = "\n".join(["#### " + _("Teacher's reference"), html.escape(case.reference_answer or "-"), "",
                         "#### " + _("Model's answer"), model])
    return progress, picture, scores, compare


# ---- events ----

def wire_teach_page(h: TeachHandles, host: TeachingHost, demo: gr.Blocks) -> None:
    store, ctx = host.store, host.ctx
    overview_outputs = [h.progress, h.picture, h.scores, h.compare]

    def guarded(action: Callable[..., Any]) -> Callable[..., Any]:
        """Run a teacher action with the key checked; errors become toasts in the page's language."""
        def run(key: str, *args: Any, lang: str = "en") -> Any:
            try:
                host.check_teacher(key)
                return action(*args)
            except MedRegAError as error:
                raise user_error(error, lang) from None
        return run

    def set_choices(key: str, teacher: Teacher) -> dict[Any, Any]:
        try:
            host.check_teacher(key)
        except MedRegAError:
            return {h.case_set: gr.update(choices=[], value=None)}
        titles = [title for title, _ids in store.case_sets()]
        return {h.case_set: gr.update(choices=titles, value=titles[-1] if titles else None)}

    def set_case_ids(title: str | None) -> list[int]:
        ids = dict(store.case_sets()).get(title or "")
        if not ids:
            raise MedRegAError(N_("Choose at least one case."))
        return ids

    def on_files(files: list[str] | None, teacher: Teacher, series_uid: str | None = None) -> dict[Any, Any]:
        if not files:
            return {h.series: gr.update()}
        paths = [files] if isinstance(files, str) else list(files)
        state = teacher.view
        try:
            series = viewer.load_files(state, ctx, paths, series_uid or None)
        except MedRegAError as error:
            raise user_error(error, state.lang) from None
        if series is not None:
            state.scan_paths = paths
            _ = translator(teacher.lang)
            return {h.series: gr.update(visible=True, value=None,
                                        choices=[(viewer.series_label(s, _), s.uid) for s in series]), h.upload: None}
        teacher.series_uid = series_uid
        return {h.viewer: viewer.viewer_value(state, True, True), h.series: gr.update(visible=False), h.upload: None}

    def on_series(uid: str | None, teacher: Teacher) -> dict[Any, Any]:
        return on_files(teacher.view.scan_paths if uid else None, teacher, uid)

    def on_example(index: int | None, teacher: Teacher) -> dict[Any, Any]:
        if index is None:
            return unchanged([h.viewer, h.series, h.upload])
        example = list_examples()[int(index)]
        return on_files([str(p) for p in example.paths], teacher)

    def on_viewer_change(teacher: Teacher, evt: gr.EventData) -> None:
        follow_viewer(teacher.view, evt)

    def on_save(reported: Any, key: str, task: str, question: str, reference: str, title: str, teacher: Teacher
                ) -> dict[Any, Any]:
        state = teacher.view
        _ = translator(teacher.lang)
        if state.scan is None:
            raise plain_error(N_("Load a scan first."), state.lang)
        viewer.adopt_viewer_state(state, reported)
        view = state.view
        step = view.frame or view.timepoint
        window = view.window
        request = {"plane": str(getattr(view.plane, "value", view.plane)), "slice": view.slice_index or 0,
                   "frame": step, "window": {"center": window.center, "width": window.width}
                   if hasattr(window, "center") else window}
        boxes = [viewer.user_box_json(u) for u in state.user_boxes]
        case_id = guarded(store.add_case)(key, (title or DEFAULT_SET_TITLE).strip(), state.scan_paths, request, boxes,
                                          question, task, reference, state.lang, teacher.series_uid, lang=teacher.lang)
        teacher.saved_case = case_id
        return {h.saved: _("Case {case} saved in the set {title}.", case=case_id, title=html.escape(title)),
                **set_choices(key, teacher)}

    def on_model_answer(key: str, ask: bool, teacher: Teacher) -> Any:
        if not ask or teacher.saved_case is None:
            return
        _ = translator(teacher.lang)
        case_id = teacher.saved_case
        answer = guarded(answer_case_now)(key, host, case_id, lang=teacher.lang)
        yield {h.saved: _("Case {case} saved; the model answered:", case=case_id) + "\n\n" + answer_html(answer)}

    def on_start(key: str, title: str | None, teacher: Teacher) -> dict[Any, Any]:
        code = guarded(lambda: store.start_session(set_case_ids(title)))(key, lang=teacher.lang)
        return {h.session_code: code, h.join_line: join_text(code, translator(teacher.lang))}

    def on_next(key: str, code: str, teacher: Teacher) -> None:
        guarded(store.next_case)(key, code, lang=teacher.lang)

    def on_reveal(key: str, code: str, teacher: Teacher) -> None:
        guarded(store.reveal)(key, code, lang=teacher.lang)

    def on_overview(key: str, code: str, show_names: bool, teacher: Teacher) -> Any:
        if not (code or "").strip():
            return unchanged(overview_outputs)
        try:
            host.check_teacher(key)
            values = overview(host, code, show_names, translator(teacher.lang))
        except MedRegAError:
            return unchanged(overview_outputs)
        return dict(zip(overview_outputs, values))

    def on_results(key: str, code: str, teacher: Teacher) -> list[str]:
        return guarded(write_results)(key, host, code, lang=teacher.lang)

    def on_export(key: str, title: str | None, teacher: Teacher) -> str:
        return guarded(lambda: str(write_case_set(host, title or "", set_case_ids(title))))(key, lang=teacher.lang)

    def on_import(key: str, file: str | None, teacher: Teacher) -> dict[Any, Any]:
        if not file:
            return unchanged([h.imported, h.import_file, h.case_set])
        title, ids = guarded(import_case_set)(key, store, Path(file), lang=teacher.lang)
        _ = translator(teacher.lang)
        return {h.imported: _("Imported {count} cases as the set {title}.", count=len(ids), title=html.escape(title)),
                h.import_file: None, **set_choices(key, teacher)}

    def on_language(lang: str, key: str, code: str, show_names: bool, teacher: Teacher) -> dict[Any, Any]:
        teacher.view.lang = normalize_language(lang)
        _ = translator(teacher.lang)
        updates = merge_updates(relabel(h, texts(_)), {h.example: gr.update(choices=example_choices(teacher.lang))})
        if h.pacs is not None:
            updates.update(relabel(h.pacs, pacs.texts(_)))
        if teacher.view.scan is not None:
            updates[h.viewer] = gr.update(value=viewer.viewer_value(teacher.view))
        if (code or "").strip():
            updates[h.join_line] = gr.update(value=join_text(code.strip().upper(), _))
            updates = merge_updates(updates, on_overview(key, code, show_names, teacher))
        return updates

    def remember(key: str, code: str) -> dict[str, str]:
        return {"key": key or "", "code": (code or "").strip().upper()}

    def on_load(remembered: dict[str, str] | None) -> dict[Any, Any]:
        known = remembered or {}
        if not known.get("code"):  # nothing to resume; what the teacher typed meanwhile stays
            return {h.key: known.get("key") or gr.skip(), h.session_code: gr.skip(), h.join_line: gr.skip(),
                    h.tabs: gr.skip()}
        return {h.key: known.get("key", ""), h.session_code: known["code"],
                h.join_line: join_text(known["code"], translator("en")), h.tabs: gr.Tabs(selected="run")}

    h.key.change(set_choices, [h.key, h.state], [h.case_set], api_name=False)
    demo.load(on_load, [h.remembered], [h.key, h.session_code, h.join_line, h.tabs], api_name=False)
    for trigger in (h.key.change, h.session_code.change):
        trigger(remember, [h.key, h.session_code], [h.remembered], api_name=False, show_progress="hidden")
    h.upload.upload(on_files, [h.upload, h.state], [h.viewer, h.series, h.upload], api_name=False)
    h.series.input(on_series, [h.series, h.state], [h.viewer, h.series, h.upload], api_name=False)
    h.example.input(on_example, [h.example, h.state], [h.viewer, h.series, h.upload], api_name=False)
    if h.pacs is not None:  # a series opens as an upload does; the workbench's page names the endpoints
        pacs.wire_pacs(h.pacs, ctx, PacsTarget(h.state, lambda teacher: teacher.view, on_files,
                                                {h.viewer, h.series, h.upload}, h.viewer, api=False))
    h.viewer.viewer_change(on_viewer_change, [h.state], None, api_name=False, show_progress="hidden",
                           trigger_mode="always_last")
    h.save.click(on_save, [h.viewer_state, h.key, h.task, h.question, h.reference, h.set_title, h.state],
                 [h.saved, h.case_set], api_name=False, js=viewer.WITH_VIEWER_STATE_JS).success(
        on_model_answer, [h.key, h.ask_model, h.state], [h.saved], api_name=False,
        concurrency_id=MODEL_CONCURRENCY_ID, concurrency_limit=ctx.host.concurrency_limit)
    h.start.click(on_start, [h.key, h.case_set, h.state], [h.session_code, h.join_line], api_name=False)
    h.next.click(on_next, [h.key, h.session_code, h.state], None, api_name=False).then(
        on_overview, [h.key, h.session_code, h.show_names, h.state], overview_outputs, api_name=False)
    h.reveal.click(on_reveal, [h.key, h.session_code, h.state], None, api_name=False).then(
        on_overview, [h.key, h.session_code, h.show_names, h.state], overview_outputs, api_name=False)
    for trigger in (h.timer.tick, h.show_names.change, h.session_code.submit):
        trigger(on_overview, [h.key, h.session_code, h.show_names, h.state], overview_outputs, api_name=False,
                show_progress="hidden")
    h.results.click(on_results, [h.key, h.session_code, h.state], [h.result_files], api_name=False)
    h.export.click(on_export, [h.key, h.case_set, h.state], [h.export_file], api_name=False)
    h.import_file.upload(on_import, [h.key, h.import_file, h.state], [h.imported, h.import_file, h.case_set],
                         api_name=False)
    keep_language(demo, h.language, host, "medrega-teach-language")
    h.language.change(on_language, [h.language, h.key, h.session_code, h.show_names, h.state],
                      list(dict.fromkeys([*(getattr(h, k) for k in texts(str)), *pacs_texts_outputs(h.pacs),
                                          h.viewer, h.join_line, *overview_outputs])),
                      api_name=False, js=SWITCH_GRADIO_LOCALE_JS)
    wire_teach_api(host)


def pacs_texts_outputs(h: PacsHandles | None) -> list[Any]:
    """The PACS panel's widgets with language-dependent text (none without the panel)."""
    return [getattr(h, name) for name in pacs.texts(str)] if h is not None else []


def answer_case_now(host: TeachingHost, case_id: int) -> str:
    """Let the model answer a case now and store the answer with it."""
    return answer_case(host.store, case_id, host.ctx.host.require(), host.runner)


def write_results(host: TeachingHost, code: str) -> list[str]:
    """The session's results as CSV and JSON files (for download)."""
    rows = result_rows(host.store, code)
    folder = host.work_folder() / f"results-{code.strip().upper()}-{time.strftime('%Y%m%d-%H%M%S')}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.csv").write_text(results_csv(rows), encoding="utf-8")
    (folder / "results.json").write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")
    return [str(folder / "results.csv"), str(folder / "results.json")]


def write_case_set(host: TeachingHost, title: str, case_ids: list[int]) -> Path:
    folder = host.work_folder() / f"export-{time.strftime('%Y%m%d-%H%M%S')}-{len(case_ids)}"
    folder.mkdir(parents=True, exist_ok=True)
    return export_case_set(host.store, title or DEFAULT_SET_TITLE, case_ids, folder / "case-set.zip")


# ---- the scripts' endpoints ----

def wire_teach_api(host: TeachingHost) -> None:
    """The teacher's endpoints for scripts (hidden widgets; JSON in and out); each takes the key first."""
    store = host.store

    def endpoint(name: str, inputs: list[Any], action: Callable[..., Any], output: Any = None, **options: Any) -> None:
        def run(key: str, *args: Any) -> Any:
            try:
                host.check_teacher(key)
                return action(*args)
            except MedRegAError as error:
                raise user_error(error, "en") from None
        run.__name__ = name
        gr.Button(visible=False).click(run, [gr.Textbox(visible=False), *inputs],
                                       output if output is not None else gr.JSON(visible=False), api_name=name,
                                       **options)

    text, files = (lambda: gr.Textbox(visible=False)), (lambda: gr.File(file_count="multiple", visible=False))
    endpoint("teach_save_case", [files(), gr.JSON(visible=False), gr.JSON(visible=False), text(), text(), text(),
                                 text(), text(), text()],
             lambda paths, view, boxes, question, task, reference, title, lang, series: store.add_case(
                 (title or DEFAULT_SET_TITLE).strip(), [paths] if isinstance(paths, str) else list(paths or []),
                 view, boxes, question, task, reference, normalize_language(lang or "en"), series or None))
    endpoint("teach_model_answer", [gr.Number(visible=False, precision=0)],
             lambda case_id: answer_case_now(host, int(case_id)), text(), concurrency_id=MODEL_CONCURRENCY_ID,
             concurrency_limit=host.ctx.host.concurrency_limit)
    endpoint("teach_start", [gr.JSON(visible=False)], lambda ids: store.start_session(ids or []), text())
    endpoint("teach_next", [text()], lambda code: store.next_case(code).current + 1)
    endpoint("teach_reveal", [text()], lambda code: store.reveal(code).current + 1)
    endpoint("teach_results", [text()], lambda code: result_rows(store, code))
    endpoint("teach_export_set", [text(), gr.JSON(visible=False)],
             lambda title, ids: str(write_case_set(host, title or "", [int(i) for i in ids or []])),
             gr.File(visible=False))
    endpoint("teach_import_set", [gr.File(visible=False, type="filepath")],
             lambda file: dict(zip(("title", "case_ids"), import_case_set(store, Path(file)))))
