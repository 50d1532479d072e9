"""The app as a front end to a real vLLM server (CPU) on the shared conformance checkpoint.

The servers are started here (``python -m medrega_core vllm-serve`` with vLLM's own Python, see
``tests/vllm_server.py``): one for the module, plus one without the plugin's tokenizer. Prompt ids and
greedy output ids must equal the reference; Stop must stop the server's request; answers run at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import pytest
from PIL import Image

from medrega_core.__main__ import main
from medrega_core.engine.conversation import TURN_END
from medrega_core.engine.tokenizer import MedRegATokenizer
from medrega_core.engine.remote import (
    PromptTokensMismatchError,
    ServedModelMismatchError,
    ServerEngine,
    ServerInterruptedError,
    ServerSettings,
    ServerUnreachableError,
)
from vllm_server import REPO_ROOT, VllmServer, free_port

pytestmark = pytest.mark.slow

REFERENCE_TOKENS = 24
#: A case whose greedy answer runs 3500 tokens without <|im_end|>.
LONG_CASE = 10
#: Answers of cases 5 and 10 asked at once: several seconds of streaming each (case 5 ends at 2894 tokens).
OVERLAP_ANSWER = 2800
#: Answers asked of the slow server at once: several seconds each in its engine.
SHARED_ANSWER = 200
#: Longer than the slow server needs to be stopped or killed mid-answer (its model length is 2048).
SLOW_ANSWER = 1500


def _cases(conformance_dir: Path) -> list[dict]:
    lines = (conformance_dir / "cases.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _reference(conformance_dir: Path) -> list[dict]:
    return json.loads((conformance_dir / "reference.json").read_text(encoding="utf-8"))["cases"]


@pytest.fixture(scope="module")
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("vllm") / "server.log"


@pytest.fixture(scope="module")
def module_server(conformance_dir: Path, server_log: Path) -> Iterator[VllmServer]:
    server = VllmServer(conformance_dir / "checkpoint", server_log)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture()
def server(module_server: VllmServer) -> VllmServer:
    """The module's server, started again if a test killed it."""
    return module_server if module_server.alive else module_server.start()


@pytest.fixture(scope="module")
def slow_server(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VllmServer]:
    """A server on a larger random checkpoint (8 layers of 1024): tens of tokens per second, so Stop and
    a crash can land in the middle of an answer (the conformance model writes thousands per second)."""
    import shutil

    from safetensors.torch import save_file

    from tiny_checkpoint import original_state_dict

    folder = tmp_path_factory.mktemp("slow-checkpoint")
    for name in ("tokenizer.model", "tokenizer_config.json", "added_tokens.json", "special_tokens_map.json"):
        if (tiny_checkpoint / name).exists():
            shutil.copy(tiny_checkpoint / name, folder / name)
    config = json.loads((tiny_checkpoint / "config.json").read_text(encoding="utf-8"))
    config["llm_config"].update(hidden_size=1024, intermediate_size=4096, num_hidden_layers=8,
                                num_attention_heads=8, num_key_value_heads=4)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    weights = original_state_dict(config)
    _never_end_the_turn(weights, MedRegATokenizer.from_folder(folder))
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    server = VllmServer(folder, tmp_path_factory.mktemp("slow-vllm") / "server.log")
    try:
        yield server.start()
    finally:
        server.stop()


def _never_end_the_turn(weights: dict, tokenizer: MedRegATokenizer) -> None:
    """Random weights end an answer after a few dozen tokens on some CPUs and not on others; Stop and a
    crash must land mid-answer. <|im_end|> gets logit 0, and two word tokens get rows of opposite sign,
    so one logit is positive at every step and greedy decoding never picks <|im_end|>."""
    head = weights["language_model.lm_head.weight"]
    head[tokenizer.token_to_id(TURN_END)] = 0
    first, second = tokenizer.encode("the picture", add_bos=False)[:2]
    head[first] = -head[second]


def _engine(server: VllmServer, conformance_dir: Path, **options) -> ServerEngine:
    return ServerEngine.connect(ServerSettings(server.url, checkpoint=str(conformance_dir / "checkpoint"), **options))


def _question(case: dict) -> str:
    return case["conversations"][0]["value"]


def test_batch_through_the_server_reproduces_the_reference_token_ids(server: VllmServer, conformance_dir: Path,
                                                                      tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    code = main(["batch", "--server", server.url, "--checkpoint", str(conformance_dir / "checkpoint"),
                 "--data", str(conformance_dir / "cases.jsonl"), "--out", str(out),
                 "--max-new-tokens", str(REFERENCE_TOKENS), "--with-token-ids"])
    assert code == 0
    results, reference = json.loads(out.read_text(encoding="utf-8")), _reference(conformance_dir)
    assert len(results) == len(reference) == 11
    for result, expected in zip(results, reference):
        assert result["id"] == expected["id"]
        assert result["input_ids"] == expected["input_ids"], f"case {expected['id']}: prompt ids differ"
        # The reference's generate() prepends BOS to what it returns.
        assert result["output_ids"] == expected["output_ids"][1:], f"case {expected['id']}: greedy output differs"


def test_the_answer_streams_and_follow_ups_keep_the_history(server: VllmServer, conformance_dir: Path) -> None:
    engine = _engine(server, conformance_dir, max_new_tokens=40)
    case = _cases(conformance_dir)[0]
    image = Image.open(conformance_dir / case["image"])
    finished = []
    texts = list(engine.stream(image, _question(case), on_finish=finished.append))
    assert len(texts) >= 3 and all(later.startswith(earlier[:-1]) for earlier, later in zip(texts, texts[1:]))
    first = finished[0]
    assert texts[-1] == first.text == engine.answer_text(first.output_ids) and len(first.output_ids) == 40
    # A follow-up: the server's prompt (checked against the local ids) holds the first turn and its answer.
    history = [(_question(case), first.text)]
    follow_up = engine.generate(image, "How large is it?", history=history, max_new_tokens=4)
    assert follow_up.input_ids == engine.prompt_ids("How large is it?", history)
    assert len(follow_up.input_ids) > len(first.input_ids) + len(first.output_ids) - 1


def test_ask_command_streams_the_servers_answer(server: VllmServer, conformance_dir: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    case = _cases(conformance_dir)[1]
    code = main(["ask", "--server", server.url, "--checkpoint", str(conformance_dir / "checkpoint"),
                 "--image", str(conformance_dir / case["image"]), "--prompt", _question(case),
                 "--max-new-tokens", "12"])
    expected = _engine(server, conformance_dir).generate(Image.open(conformance_dir / case["image"]),
                                                         _question(case), max_new_tokens=12)
    assert code == 0 and capsys.readouterr().out == expected.text + "\n"


def _wait_for(condition, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_stop_ends_the_request_on_the_server(slow_server: VllmServer) -> None:
    engine = ServerEngine.connect(ServerSettings(slow_server.url, checkpoint=str(slow_server.checkpoint),
                                                 max_new_tokens=SLOW_ANSWER))
    generated_before = slow_server.generated_tokens()
    cancel, finished, running_at_stop = threading.Event(), [], []
    for _text in engine.stream(Image.new("RGB", (64, 48), (90, 60, 30)), "Describe the picture.", cancel=cancel,
                               on_finish=finished.append):
        if not cancel.is_set():  # Stop at the first words (the metrics follow the engine with a small delay)
            running_at_stop.append(_wait_for(lambda: slow_server.requests()[0] == 1, seconds=5))
            cancel.set()
    assert running_at_stop == [True], "the server did not report the answer as running"
    assert finished[0].finish_reason == "cancelled" and len(finished[0].output_ids) < 300
    assert _wait_for(lambda: slow_server.requests() == (0, 0)), "the server kept generating after Stop"
    assert slow_server.generated_tokens() - generated_before < SLOW_ANSWER // 2, "the server finished the answer anyway"


def test_questions_asked_at_once_share_the_servers_steps(slow_server: VllmServer) -> None:
    """vLLM's own count of its engine steps shows the answers decoded together. On the slow server an
    answer takes seconds in the engine, far longer than the server needs to take in the next question,
    so questions asked at once share its steps however busy the machine. (The conformance checkpoint
    writes thousands of tokens a second: its engine can finish an answer before vLLM's API server, on two
    busy cores, has taken in the next question, which takes about 3 s for case 10's. There the answers
    stream at once, but whether they share steps is chance.)"""
    engine = ServerEngine.connect(ServerSettings(slow_server.url, checkpoint=str(slow_server.checkpoint),
                                                 max_new_tokens=SHARED_ANSWER))
    image = Image.new("RGB", (64, 48), (90, 60, 30))
    shared_before = slow_server.shared_steps()
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(engine.generate(image, "Describe the picture.")))
               for _session in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [len(result.output_ids) for result in results] == [SHARED_ANSWER] * 4
    shared = slow_server.shared_steps() - shared_before
    assert shared >= SHARED_ANSWER // 2, f"the server decoded the answers one at a time ({shared} steps shared)"


@dataclass(frozen=True)
class StreamSpan:
    """When the first and the last piece of one streamed answer arrived here (``time.monotonic()``)."""

    first: float
    last: float


def _stream_span(pieces: Iterable[Any]) -> StreamSpan:
    """Read a stream to its end, noting when its first and last pieces arrived."""
    arrivals = [time.monotonic() for _piece in pieces]
    return StreamSpan(arrivals[0], arrivals[-1])


def _assert_streamed_at_once(spans: list[StreamSpan], what: str) -> None:
    """At some moment at least two answers were being streamed: one answer's first piece arrived between
    another's first and last. A client that asks one question after another, or a server that takes one
    request after another, cannot show this (the next answer's first piece comes after the previous one's
    last), however busy the machine: the arrivals are the client's own, nothing samples the server. An
    engine decoding one answer at a time can still stream them at once (vLLM's API server streams behind
    it): that is what ``test_questions_asked_at_once_share_the_servers_steps`` asks."""
    overlapping = any(other is not span and other.first <= span.first <= other.last
                      for span in spans for other in spans)
    start = min(span.first for span in spans)
    shown = ", ".join(f"{span.first - start:.1f}-{span.last - start:.1f} s" for span in spans)
    assert overlapping, f"{what} ({shown})"


def test_several_sessions_are_answered_at_once(server: VllmServer, conformance_dir: Path) -> None:
    engine = _engine(server, conformance_dir, max_new_tokens=REFERENCE_TOKENS)
    cases, reference = _cases(conformance_dir), _reference(conformance_dir)
    indices = [10, 5, 10, 5]  # both answers run past OVERLAP_ANSWER tokens: seconds of streaming each
    results: dict[int, Any] = {}
    spans: dict[int, StreamSpan] = {}

    def session(slot: int) -> None:
        case = cases[indices[slot]]
        finished: list[Any] = []
        spans[slot] = _stream_span(engine.stream(Image.open(conformance_dir / case["image"]), _question(case),
                                                 max_new_tokens=OVERLAP_ANSWER, on_finish=finished.append))
        results[slot] = finished[0]

    threads = [threading.Thread(target=session, args=(slot,)) for slot in range(len(indices))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _assert_streamed_at_once([spans[slot] for slot in range(len(indices))], "the answers were not streamed at once")
    for slot, index in enumerate(indices):  # answers asked together keep the greedy tokens
        expected = reference[index]["output_ids"][1:]
        assert results[slot].output_ids[: len(expected)] == expected and len(results[slot].output_ids) == OVERLAP_ANSWER
    assert results[0].output_ids == results[2].output_ids and results[1].output_ids == results[3].output_ids


def test_another_served_model_is_named(server: VllmServer, conformance_dir: Path, tiny_checkpoint: Path) -> None:
    engine = ServerEngine.connect(ServerSettings(server.url, checkpoint=str(tiny_checkpoint)))
    case = _cases(conformance_dir)[0]
    with pytest.raises(ServedModelMismatchError) as error:
        engine.generate(Image.open(conformance_dir / case["image"]), _question(case), max_new_tokens=2)
    assert "serves" in error.value.localized("en") and "提供的是" in error.value.localized("zh")


def test_the_app_serves_through_the_server(server: VllmServer, conformance_dir: Path, tmp_path: Path) -> None:
    """``app.py --server``: status line with server, model and queue; sessions ask at once."""
    from gradio_client import Client, handle_file

    port = free_port()
    log = tmp_path / "app.log"
    with log.open("w") as handle:
        app = subprocess.Popen([sys.executable, "app.py", "--server", server.url, "--checkpoint",
                                str(conformance_dir / "checkpoint"), "--port", str(port),
                                "--max-new-tokens", str(OVERLAP_ANSWER)],
                               cwd=REPO_ROOT, stdout=handle, stderr=subprocess.STDOUT,
                               env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    url = f"http://127.0.0.1:{port}/"
    try:
        status = ""
        for _ in range(120):
            try:
                status = Client(url, verbose=False).predict(api_name="/status")
                if "Model served by" in status:
                    break
            except Exception:  # not listening yet
                pass
            time.sleep(1)
        assert f"Model served by {server.url}" in status and "answering" in status, status + log.read_text()[-2000:]
        case = _cases(conformance_dir)[LONG_CASE]  # its answer runs to --max-new-tokens
        clients = [Client(url, verbose=False) for _ in range(3)]
        for client in clients:
            client.predict([handle_file(str(conformance_dir / case["image"]))], api_name="/load_scan")
        jobs = [client.submit(None, _question(case), "free", "demo", "", "", "", "", api_name="/ask")
                for client in clients]
        spans: dict[int, StreamSpan] = {}

        def follow(slot: int) -> None:  # the updates that show some of the answer are its pieces
            spans[slot] = _stream_span(update for update in jobs[slot] if _answer_message(update))

        threads = [threading.Thread(target=follow, args=(slot,)) for slot in range(len(jobs))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # Each answer's text (its picture, the last message, is a file of its own session).
        answers = [_answer_message(job.result()) for job in jobs]
        assert all(str(a["content"]).strip() for a in answers)
        assert len({str(a["content"]) for a in answers}) == 1, "the same question got different answers"
        _assert_streamed_at_once([spans[slot] for slot in range(len(jobs))], "the app sent one answer at a time")
    finally:
        app.terminate()
        app.wait(timeout=30)


def _answer_message(update: tuple) -> dict | None:
    """The chat's answer message in one update of /ask (not the answer's picture), None before it."""
    chat = next((o for o in update if isinstance(o, list) and o and isinstance(o[0], dict)), [])
    answers = [m for m in chat if m["role"] == "assistant" and "'file'" not in str(m["content"])]
    return answers[-1] if answers else None


def test_a_server_without_the_plugins_tokenizer_is_refused(conformance_dir: Path, server_log: Path) -> None:
    """Down first (clear error), then up with vLLM's own tokenizer: the prompt-id check refuses it."""
    port = free_port()
    engine = ServerEngine.connect(ServerSettings(f"http://127.0.0.1:{port}", checkpoint=str(conformance_dir / "checkpoint")))
    case = _cases(conformance_dir)[0]
    image = Image.open(conformance_dir / case["image"])
    with pytest.raises(ServerUnreachableError):
        engine.generate(image, _question(case), max_new_tokens=2)
    other = VllmServer(conformance_dir / "checkpoint", server_log, "--tokenizer-mode", "auto", port=port).start()
    try:
        with pytest.raises(PromptTokensMismatchError) as error:
            engine.generate(image, _question(case), max_new_tokens=2)
        assert "refused" in error.value.localized("en") and "拒绝" in error.value.localized("zh")
    finally:
        other.stop()


def test_a_server_killed_mid_answer_gives_a_clear_error(slow_server: VllmServer) -> None:
    engine = ServerEngine.connect(ServerSettings(slow_server.url, checkpoint=str(slow_server.checkpoint),
                                                 max_new_tokens=SLOW_ANSWER, timeout=20))
    image = Image.new("RGB", (64, 48), (90, 60, 30))
    with pytest.raises(ServerInterruptedError) as error:
        for count, _text in enumerate(engine.stream(image, "Describe the picture.")):
            if count == 2:
                slow_server.kill()
    assert "stopped in the middle of the answer" in error.value.localized("en")
    assert "中断" in error.value.localized("zh")
    with pytest.raises(ServerUnreachableError):
        engine.generate(image, "Describe the picture.", max_new_tokens=2)
    slow_server.start()  # the same engine answers again once the server is back
    assert len(engine.generate(image, "Describe the picture.", max_new_tokens=3).output_ids) >= 1
