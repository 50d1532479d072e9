"""The server backend without a server: settings, messages, and a server that is down (the engine, the
command line and the app)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from app_fixtures import REPO_ROOT, free_port, running_app
from medrega_core.engine.remote import ServerEngine, ServerSettings, ServerUnreachableError, chat_messages
from medrega_core.engine.settings import SettingsError
from medrega_core.i18n import translator
from ui_components.status import server_status_text


@pytest.mark.parametrize("url", ["localhost:8000", "ftp://host/v1", "http://"])
def test_a_bad_server_address_is_refused(url: str) -> None:
    with pytest.raises(SettingsError) as error:
        ServerSettings(url)
    assert "不是 http(s) 网址" in error.value.localized("zh")


def test_the_base_url_accepts_v1() -> None:
    assert ServerSettings("http://gpu:8000/v1/").base_url == ServerSettings("http://gpu:8000").base_url == "http://gpu:8000"


def test_messages_carry_the_picture_and_image_in_the_first_question_only() -> None:
    picture = Image.new("L", (5, 4), 7)
    messages = chat_messages(picture, "How large?", [("Where is the heart?", "<ref>heart</ref>")])
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    first = messages[0]["content"]
    assert first[0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert first[1] == {"type": "text", "text": "<image>\nWhere is the heart?"}
    assert messages[1]["content"] == "<ref>heart</ref>" and messages[2]["content"] == "How large?"


def test_a_server_that_is_down_gives_a_clear_error_and_status(tiny_checkpoint: Path) -> None:
    engine = ServerEngine.connect(ServerSettings(f"http://127.0.0.1:{free_port()}", checkpoint=str(tiny_checkpoint),
                                                 timeout=5))
    with pytest.raises(ServerUnreachableError) as error:
        engine.generate(Image.new("RGB", (8, 8)), "What is shown?", max_new_tokens=2)
    assert "cannot be reached" in error.value.localized("en") and "无法连接" in error.value.localized("zh")
    info = engine.describe()
    assert info["reachable"] is False and info["server"] == engine.settings.base_url
    assert "not answering" in server_status_text(info, translator("en"))
    assert "没有响应" in server_status_text(info, translator("zh"))


def closed_server() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.mark.parametrize("command", ["batch", "ask"])
@pytest.mark.parametrize(("lang", "expected"), [("en", "cannot be reached"), ("zh", "无法连接")])
def test_the_command_line_against_a_closed_port_says_so_in_one_line(tmp_path: Path, command: str, lang: str,
                                                                    expected: str) -> None:
    """Before any answer: exit 2, the translated message, no traceback, nothing raised at interpreter exit."""
    picture = tmp_path / "scan.png"
    Image.new("L", (16, 16), 90).save(picture)
    (tmp_path / "cases.jsonl").write_text(json.dumps(
        {"id": 1, "image": "scan.png", "conversations": [{"from": "human", "value": "<image>\nWhat is shown?"}]}))
    server = closed_server()
    options = (["--data", str(tmp_path / "cases.jsonl"), "--out", str(tmp_path / "out.json")] if command == "batch"
               else ["--image", str(picture), "--prompt", "What is shown?"])
    result = subprocess.run([sys.executable, "-m", "medrega_core", "--lang", lang, command, "--server", server,
                             "--server-timeout", "5", *options], capture_output=True, text=True, cwd=REPO_ROOT,
                            timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert expected in result.stderr and server in result.stderr
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    assert not (tmp_path / "out.json").exists()


@pytest.mark.slow
def test_the_app_with_a_closed_server_serves_and_says_so_in_the_users_language(tiny_checkpoint: Path,
                                                                                tmp_path: Path) -> None:
    from gradio_client import Client, handle_file
    from pydicom.data import get_testdata_file

    server = closed_server()
    with running_app(tiny_checkpoint, tmp_path / "app.log", "--server", server, "--server-timeout", "5",
                     ready="is not answering") as url:
        client = Client(url, verbose=False)
        assert server in client.predict(api_name="/status")
        client.predict("zh", api_name="/set_language")
        assert "没有响应" in client.predict(api_name="/status")
        client.predict([handle_file(get_testdata_file("CT_small.dcm"))], api_name="/load_scan")
        with pytest.raises(Exception) as caught:
            client.submit(None, "What is shown?", "free", "demo", "", "", "", "", api_name="/ask").result()
        assert "无法连接" in str(caught.value) and server in str(caught.value)
        assert "Traceback" not in str(caught.value)
    assert "Traceback" not in (tmp_path / "app.log").read_text()
