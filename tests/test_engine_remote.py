"""The server backend without a server: settings, messages, and a server that is down."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from app_fixtures import free_port
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
