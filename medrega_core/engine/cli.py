"""``python -m medrega_core batch`` (MedRegA demo jsonl in, results JSON out), ``ask`` (streams one
answer), both in-process or through a vLLM server (``--server URL``), and ``vllm-serve`` (starts one).

Torch and transformers are imported only when a command runs, so building the parser stays cheap.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from medrega_core.engine.errors import N_, EngineError
from medrega_core.engine.settings import DECODE_CHOICES, DTYPE_CHOICES, QUANT_CHOICES, EngineSettings


class BatchInputError(EngineError):
    """The batch file or one of its images cannot be used."""


@dataclass(frozen=True)
class BatchCase:
    """One line of a MedRegA demo jsonl: the first human turn and the expected answer."""

    id: object
    image: Path
    question: str
    gt_answer: str


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default=None,
                        help="checkpoint folder or Hugging Face id (with --server: its tokenizer, no weights)")
    parser.add_argument("--server", default=None, metavar="URL",
                        help="answer through this vLLM server (python -m medrega_core vllm-serve) instead of in-process")
    parser.add_argument("--api-key", default=None, help="the server's API key (vllm serve --api-key)")
    parser.add_argument("--server-timeout", type=float, default=60.0, help="seconds to wait for the server")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--dtype", choices=DTYPE_CHOICES, default=None, help="compute dtype")
    parser.add_argument("--quant", choices=QUANT_CHOICES, default="auto", help="weight format")
    parser.add_argument("--max-new-tokens", type=int, default=400, help="upper bound on generated tokens")
    parser.add_argument("--decode", choices=DECODE_CHOICES, default="auto",
                        help="greedy decoding path; cuda-graph is faster on CUDA (docs/ENGINE.md)")  # fmt: skip


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``batch`` and ``ask`` sub-commands."""
    batch = subparsers.add_parser("batch", help="answer every case of a MedRegA demo jsonl file")
    _add_model_options(batch)
    batch.add_argument("--data", required=True, type=Path, help="jsonl file (MedRegA demo format)")
    batch.add_argument("--out", required=True, type=Path, help="results JSON file to write")
    batch.add_argument("--image-root", type=Path, default=None, help="folder image paths are relative to")
    batch.add_argument("--with-token-ids", action="store_true", help="also write prompt and output token ids")
    batch.set_defaults(func=run_batch)

    ask = subparsers.add_parser("ask", help="ask one question about one image; the answer streams out")
    _add_model_options(ask)
    ask.add_argument("--image", required=True, type=Path, help="picture file (PNG, JPEG, ...)")
    ask.add_argument("--prompt", required=True, help="question; <image> is prepended when absent")
    ask.set_defaults(func=run_ask)

    serve = subparsers.add_parser(
        "vllm-serve", help="start a vLLM server for a MedRegA checkpoint (run with the Python of vLLM's environment); "
                           "other options go to vllm serve")
    serve.add_argument("--checkpoint", required=True, help="checkpoint folder or Hugging Face id")
    serve.add_argument("--host", default=None, help="address to listen on (vLLM's default: all)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--max-model-len", type=int, default=None,
                       help="context length (default: the language model's max_position_embeddings)")
    serve.set_defaults(func=run_vllm_serve, pass_through=True)


@contextlib.contextmanager
def _loaded_engine(args: argparse.Namespace) -> Iterator[Any]:
    """The in-process engine, or a client of ``--server`` (same interface) whose connections close at the end."""
    if args.server:
        from medrega_core.engine.remote import ServerEngine, ServerSettings

        with ServerEngine.connect(ServerSettings(server=args.server, api_key=args.api_key, checkpoint=args.checkpoint,
                                                 max_new_tokens=args.max_new_tokens,
                                                 timeout=args.server_timeout)) as engine:
            yield engine
        return
    if not args.checkpoint:
        raise BatchInputError(N_("Give --checkpoint (a MedRegA checkpoint) or --server (a vLLM server's URL)."))
    from medrega_core.engine.engine import MedRegAEngine

    yield MedRegAEngine.load(_settings(args))


def _settings(args: argparse.Namespace) -> EngineSettings:
    return EngineSettings(
        checkpoint=args.checkpoint,
        device=args.device,
        quant=args.quant,
        dtype=args.dtype,
        max_new_tokens=args.max_new_tokens,
        decode=args.decode,
    )


def _parse_case(line: str, number: int, image_root: Path) -> BatchCase:
    try:
        record = json.loads(line)
        turns = record["conversations"]
        question = next(t["value"] for t in turns if t["from"] == "human")
        gt_answer = next((t["value"] for t in turns if t["from"] == "gpt"), "")
        image = image_root / record["image"]
        case_id = record.get("id", number)
    except (ValueError, KeyError, TypeError, StopIteration) as error:
        raise BatchInputError(
            N_("Line {line} of the batch file is not a MedRegA case (id, image, conversations): {reason}"),
            line=number,
            reason=f"{type(error).__name__}: {error}",
        ) from error
    if not image.is_file():
        raise BatchInputError(N_("Line {line} of the batch file names a missing image: {path}"), line=number,
                              path=str(image))
    return BatchCase(id=case_id, image=image, question=question, gt_answer=gt_answer)


def read_cases(data: Path, image_root: Path | None) -> list[BatchCase]:
    """All cases of a jsonl file, checked before the model loads.

    Raises
    ------
    BatchInputError
        For an unreadable file, a malformed line (its number is given) or a missing image.
    """
    try:
        lines = data.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise BatchInputError(N_("The batch file {path} cannot be read: {reason}"), path=str(data),
                              reason=str(error)) from error
    root = image_root if image_root is not None else data.parent
    cases = [_parse_case(line, number, root) for number, line in enumerate(lines, start=1) if line.strip()]
    if not cases:
        raise BatchInputError(N_("The batch file {path} holds no cases."), path=str(data))
    return cases


def open_picture(path: Path) -> Any:
    """The picture at ``path`` as a PIL image (loaded, so the file is closed)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            return image.copy()
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as error:
        raise BatchInputError(N_("The image {path} cannot be read as a picture."), path=str(path)) from error


def run_batch(args: argparse.Namespace) -> int:
    """Answer every case and write ``[{id, question, pred_answer, gt_answer, ...}]`` to ``--out``."""
    cases = read_cases(args.data, args.image_root)  # checked before torch is imported
    results = []
    with _loaded_engine(args) as engine:
        for index, case in enumerate(cases, start=1):
            result = engine.generate(open_picture(case.image), case.question)
            entry: dict[str, Any] = {
                "id": case.id,
                "question": case.question,
                "pred_answer": result.text,
                "gt_answer": case.gt_answer,
            }
            if args.with_token_ids:
                entry.update(input_ids=result.input_ids, output_ids=result.output_ids)
            results.append(entry)
            print(f"[{index}/{len(cases)}] {result.finish_reason} {len(result.output_ids)} tokens", file=sys.stderr)
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    except OSError as error:
        raise BatchInputError(N_("The results file {path} cannot be written: {reason}"), path=str(args.out),
                              reason=str(error)) from error
    return 0


def run_ask(args: argparse.Namespace) -> int:
    """Stream one answer to standard output."""
    import threading

    picture = open_picture(args.image)  # before torch is imported: a bad file fails fast
    cancel = threading.Event()
    shown = ""
    with _loaded_engine(args) as engine:
        try:
            for text in engine.stream(picture, args.prompt, cancel=cancel):
                # The text only grows; were it ever rewritten, start a fresh line rather than garble it.
                sys.stdout.write(text[len(shown):] if text.startswith(shown) else "\n" + text)
                sys.stdout.flush()
                shown = text
        except KeyboardInterrupt:
            cancel.set()
            return 130
    sys.stdout.write("\n")
    return 0


def run_vllm_serve(args: argparse.Namespace) -> int:
    """Start the vLLM server in this process (``medrega_vllm.serve``) with the remaining options."""
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        raise EngineError(
            N_("vLLM is not installed for {python}. Run this command with the Python of vLLM's environment, "
               "for example /opt/medrega-vllm/bin/python -m medrega_core vllm-serve ... (docs/ENGINE.md)."),
            python=sys.executable)
    from medrega_vllm.serve import PluginNotInstalledError, serve

    try:
        return serve(args.checkpoint, host=args.host, port=args.port, model_len=args.max_model_len, extra=args.extra)
    except PluginNotInstalledError as error:
        raise EngineError(N_("The MedRegA vLLM plugin is not installed in vLLM's environment; install it with: "
                             "{command}"), command=f"{sys.executable} -m {error}") from error
