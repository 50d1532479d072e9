"""Serving a class: the in-process engine against a vLLM server on the same checkpoint, side by side.

For 1, 4 and 16 clients asking at once (each client asks ``--questions`` questions, one after the
other, about the shared conformance pictures), both backends are measured in one run:

- aggregate tokens/s: generated tokens of all answers / wall time of the round;
- time to first token (median): from the question to the first streamed text, queueing included;
- p95 time per answer: from the question to the last token.

The in-process engine answers one question at a time (its lock, like the app's ``concurrency_limit=1``);
the server batches them. Both decode greedily, so both produce the same tokens for each question.

Run: start a server (``/opt/medrega-vllm/bin/python -m medrega_core vllm-serve --checkpoint DIR --port 8000
--dtype float32``), then ``python bench/serving.py --server http://127.0.0.1:8000 [--checkpoint DIR]
[--device cpu|cuda] [--max-new-tokens 64] [--questions 2] [--clients 1 4 16]``. Ratios are server / engine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medrega_core.engine.remote import ServerEngine, ServerSettings  # noqa: E402

CONFORMANCE = Path(__file__).resolve().parent.parent.parent / "shared" / "conformance"


@dataclass(frozen=True)
class Answer:
    tokens: int
    first_token_s: float
    total_s: float


@dataclass(frozen=True)
class Round:
    tokens_per_s: float
    first_token_median_s: float
    answer_p95_s: float


def questions(folder: Path) -> list[tuple[Image.Image, str]]:
    lines = (folder / "cases.jsonl").read_text(encoding="utf-8").splitlines()
    cases = [json.loads(line) for line in lines if line.strip()]
    return [(Image.open(folder / case["image"]).convert("RGB"), case["conversations"][0]["value"]) for case in cases]


def ask(engine: Any, image: Image.Image, question: str, max_new_tokens: int) -> Answer:
    started = time.perf_counter()
    first: float | None = None
    finished: list[Any] = []
    for _ in engine.stream(image, question, max_new_tokens=max_new_tokens, on_finish=finished.append):
        first = first if first is not None else time.perf_counter() - started
    total = time.perf_counter() - started
    return Answer(len(finished[0].output_ids), total if first is None else first, total)


def run_round(engine: Any, pool: list[tuple[Image.Image, str]], clients: int, per_client: int,
              max_new_tokens: int) -> Round:
    answers: list[Answer] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        for turn in range(per_client):
            image, question = pool[(index * per_client + turn) % len(pool)]
            answer = ask(engine, image, question, max_new_tokens)
            with lock:
                answers.append(answer)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    times = sorted(a.total_s for a in answers)
    return Round(tokens_per_s=sum(a.tokens for a in answers) / wall,
                 first_token_median_s=statistics.median(a.first_token_s for a in answers),
                 answer_p95_s=times[min(len(times) - 1, round(0.95 * (len(times) - 1)))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True, help="URL of a vllm-serve server on the same checkpoint")
    parser.add_argument("--checkpoint", default=str(CONFORMANCE / "checkpoint"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--questions", type=int, default=2, help="questions per client")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    args = parser.parse_args()

    from medrega_core.engine import EngineSettings, MedRegAEngine

    pool = questions(CONFORMANCE)
    backends = {
        "engine": MedRegAEngine.load(EngineSettings(args.checkpoint, device=args.device, dtype=args.dtype,
                                                    quant="none" if args.device == "cpu" else "auto")),
        "server": ServerEngine.connect(ServerSettings(args.server, checkpoint=args.checkpoint)),
    }
    for backend in backends.values():  # warm-up: first-call costs are not serving costs
        ask(backend, *pool[0], max_new_tokens=4)
    print(f"checkpoint {args.checkpoint}, {args.max_new_tokens} new tokens, {args.questions} questions per client")
    print(f"{'clients':>7} | {'tokens/s engine':>15} {'server':>8} {'ratio':>6} | "
          f"{'first token s engine':>20} {'server':>7} {'ratio':>6} | {'p95 answer s engine':>19} {'server':>7} {'ratio':>6}")
    for clients in args.clients:
        rounds = {name: run_round(backend, pool, clients, args.questions, args.max_new_tokens)
                  for name, backend in backends.items()}
        engine, server = rounds["engine"], rounds["server"]
        print(f"{clients:>7} | {engine.tokens_per_s:>15.1f} {server.tokens_per_s:>8.1f} "
              f"{server.tokens_per_s / engine.tokens_per_s:>6.2f} | {engine.first_token_median_s:>20.3f} "
              f"{server.first_token_median_s:>7.3f} {server.first_token_median_s / engine.first_token_median_s:>6.2f} | "
              f"{engine.answer_p95_s:>19.3f} {server.answer_p95_s:>7.3f} {server.answer_p95_s / engine.answer_p95_s:>6.2f}")


if __name__ == "__main__":
    main()
