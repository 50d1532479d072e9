"""MedRegA Workbench: the Gradio app (composition root).

``python app.py --checkpoint PATH`` serves the page; see ``docs/APP.md`` for the options, the
element ids, the API endpoints and the serving model.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import gradio as gr

from medrega_core.errors import N_, MedRegAError
from medrega_core.i18n import normalize_language, translate
from ui_components.context import AppContext, ServerOptions
from ui_components.page import PANEL_CSS, SWITCH_GRADIO_LOCALE_JS, Page, create_page, gradio_strings
from ui_components.teaching import CLASS_QUEUE_ROOM, NO_NAVBAR_CSS, TeachingHost, mount_teaching_pages
from ui_components.viewer_data import ROUTE

#: The app's lasting data (teaching database and cases) when neither --data-dir nor MEDREGA_DATA_DIR says.
DEFAULT_DATA_DIR = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "medrega-workbench"
#: Gradio deletes cached uploads older than this many seconds, checking as often.
UPLOAD_TTL_SECONDS = 3600
CSS = ("#notice {border-left: 4px solid #d55e00; padding-left: 8px} #title h2 {margin: 0}"
       " #status, #notice {margin: 0}"
       # Gradio 6 writes a toast's type ("Error") in English whatever the locale; its locale is the
       # page's lang attribute, which the language switch sets (ui_components.page).
       " :lang(zh) span.toast-title.error {font-size: 0; visibility: hidden}"
       " :lang(zh) span.toast-title.error::before {content: '\\9519\\8BEF'; font-size: var(--text-md);"
       " visibility: visible}" + PANEL_CSS)


def build_demo(ctx: AppContext, teaching: TeachingHost | None = None) -> tuple[gr.Blocks, Page]:
    """Lay out the panels, wire their events, and return the (not yet launched) Blocks and its page;
    with ``teaching``, the teacher's and the class pages too (``docs/TEACHING.md``)."""
    with gr.Blocks(title="MedRegA Workbench", delete_cache=(UPLOAD_TTL_SECONDS, UPLOAD_TTL_SECONDS)) as demo:
        page = create_page(ctx)
        # Gradio's own strings start in the page's language, not the browser's.
        demo.load(None, [page.language], None, js=SWITCH_GRADIO_LOCALE_JS)
    bound = ctx.options.max_queue + ctx.host.concurrency_limit
    if teaching is not None:
        mount_teaching_pages(demo, teaching)
        bound += CLASS_QUEUE_ROOM
    # Gradio counts an event as waiting until its turn comes, also one the model starts at once: a class
    # asking together through a server would fill the bound before the first answers begin. The bound
    # is the requests that may wait (--max-queue) plus those answered at once, plus a class's own room.
    demo.queue(max_size=bound, default_concurrency_limit=4)
    return demo, page


def parse_options(argv: list[str] | None = None) -> ServerOptions:
    parser = argparse.ArgumentParser(description="MedRegA Workbench: explore a scan with MedRegA in a browser.")
    parser.add_argument("--checkpoint", default=os.environ.get("MEDREGA_CHECKPOINT"),
                        help="MedRegA checkpoint folder or Hugging Face id (without it: viewer and regions only)")
    parser.add_argument("--quant", default="auto", help="quantization: auto, nf4, nf4-all, int8, bf16 or none")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), help="address to listen on (0.0.0.0 for a LAN)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--max-upload-mb", type=int, default=512, help="largest upload accepted, in MB")
    parser.add_argument("--max-queue", type=int, default=16, help="requests that may wait for the model")
    parser.add_argument("--max-new-tokens", type=int, default=400, help="longest answer, in tokens")
    parser.add_argument("--server", default=os.environ.get("MEDREGA_SERVER"), metavar="URL",
                        help="answer through this vLLM server (python -m medrega_core vllm-serve): no weights or GPU "
                             "here; --checkpoint then only names the tokenizer and the expected model")
    parser.add_argument("--api-key", default=os.environ.get("MEDREGA_SERVER_API_KEY"), help="the server's API key")
    parser.add_argument("--server-concurrency", type=int, default=16, help="answers sent to the server at once")
    parser.add_argument("--server-timeout", type=float, default=60.0, help="seconds to wait for the server")
    parser.add_argument("--auth", default=None, metavar="USER:PASSWORD", help="require this login")
    parser.add_argument("--share", action="store_true", help="open a public gradio.live link (off by default)")
    parser.add_argument("--dicomweb", default=os.environ.get("MEDREGA_DICOMWEB_URL"), metavar="URL",
                        help="DICOMweb root of a PACS to open studies from and store reports in (see docs/PACS.md)")
    parser.add_argument("--dicomweb-user", default=os.environ.get("MEDREGA_DICOMWEB_USER"),
                        help="PACS user (HTTP basic authentication)")
    parser.add_argument("--dicomweb-password", default=os.environ.get("MEDREGA_DICOMWEB_PASSWORD"),
                        help="PACS password (better: the MEDREGA_DICOMWEB_PASSWORD environment variable)")
    parser.add_argument("--dicomweb-token", default=os.environ.get("MEDREGA_DICOMWEB_TOKEN"),
                        help="bearer token for the PACS, instead of user and password")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("MEDREGA_DATA_DIR", DEFAULT_DATA_DIR)),
                        help="folder of the app's lasting data: the teaching database and cases")
    parser.add_argument("--teaching-db", default=os.environ.get("MEDREGA_TEACHING_DB"), metavar="URL",
                        help="SQLAlchemy URL of the teaching database (default: a SQLite file in --data-dir)")
    parser.add_argument("--teacher-password", default=os.environ.get("MEDREGA_TEACHER_PASSWORD"),
                        help="opens the teacher's page (default: a token printed at start)")
    parser.add_argument("--lang", default="en", help="language of the console's messages: en or zh (the page has "
                                                     "its own switch)")
    args = parser.parse_args(argv)
    auth = None
    if args.auth:
        user, sep, password = args.auth.partition(":")
        if not sep or not user or not password:
            parser.error("--auth takes USER:PASSWORD")
        auth = (user, password)
    return ServerOptions(checkpoint=args.checkpoint, quant=args.quant, device=args.device, host=args.host,
                         port=args.port, max_upload_mb=args.max_upload_mb, auth=auth, share=args.share,
                         max_queue=args.max_queue, max_new_tokens=args.max_new_tokens, dicomweb_url=args.dicomweb,
                         dicomweb_user=args.dicomweb_user, dicomweb_password=args.dicomweb_password,
                         dicomweb_token=args.dicomweb_token, server=args.server, api_key=args.api_key,
                         server_concurrency=args.server_concurrency, server_timeout=args.server_timeout,
                         data_dir=args.data_dir, teaching_db=args.teaching_db, teacher_password=args.teacher_password,
                         lang=normalize_language(args.lang))


def main(argv: list[str] | None = None) -> None:
    options = parse_options(argv)
    work_root = Path(tempfile.gettempdir()) / "medrega-workbench"
    ctx = AppContext.create(options, work_root)
    try:
        teaching = TeachingHost.create(ctx, options.data_dir, options.teaching_db, options.teacher_password)
    except MedRegAError as error:  # a database that cannot be opened: one line, no traceback, no password
        print(error.localized(options.lang), file=sys.stderr, flush=True)
        sys.exit(2)
    ctx.host.start()  # the model loads only once the app can start
    demo, _page = build_demo(ctx, teaching)
    app, _local, _share = demo.launch(
        server_name=options.host, server_port=options.port, share=options.share, auth=options.auth,
        max_file_size=f"{options.max_upload_mb}mb", allowed_paths=[str(work_root)], css=CSS + NO_NAVBAR_CSS,
        show_error=True, footer_links=["api", "settings"], prevent_thread_lock=True, i18n=gradio_strings())
    # The viewer's slice values come from memory, not files: one route beside Gradio's own.
    app.add_route(ROUTE, ctx.scans.endpoint(), methods=["GET"])
    if teaching.key_generated:
        print(translate(N_("Teacher's page: /teach (token {token})"), options.lang, token=teaching.teacher_key),
              flush=True)
    demo.block_thread()


if __name__ == "__main__":
    main()
