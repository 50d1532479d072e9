"""Catalogs: every marked message has a Chinese translation, and look-ups fall back sanely."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from medrega_core.i18n import normalize_language, translate

ROOT = Path(__file__).resolve().parent.parent


def _extract(tmp_path: Path) -> set[str]:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "N_", "-o", str(pot), "."],
        cwd=ROOT, check=True, capture_output=True,
    )
    with pot.open("rb") as handle:
        return {m.id for m in read_po(handle) if m.id}


def _chinese_catalog() -> dict[str, str]:
    catalog: dict[str, str] = {}
    for path in sorted((ROOT / "locales/zh_CN/LC_MESSAGES").glob("*.po")):
        with path.open("rb") as handle:
            catalog.update({m.id: m.string for m in read_po(handle) if m.id and not m.fuzzy})
    return catalog


def test_every_extracted_message_is_translated_into_chinese(tmp_path: Path) -> None:
    extracted = _extract(tmp_path)
    assert extracted, "no messages were extracted: the UI must mark its strings with _()"
    zh = _chinese_catalog()
    missing = sorted(m for m in extracted if not zh.get(m))
    assert not missing, f"{len(missing)} messages lack a Chinese translation, e.g. {missing[:5]}"


def test_translate_fills_parameters_in_both_languages() -> None:
    templated = [msgid for msgid, text in _chinese_catalog().items() if text and "{" in msgid]
    assert templated, "no message with a {placeholder} in the Chinese catalog"
    message = templated[0]
    names = set(re.findall(r"{(\w+)}", message))
    params = {name: f"<{name}>" for name in names}
    english, chinese = translate(message, "en", **params), translate(message, "zh", **params)
    assert english == message.format(**params)
    assert chinese != english and all(value in chinese for value in params.values())


def test_language_names_normalise() -> None:
    assert normalize_language("zh-Hans") == "zh"
    assert normalize_language("中文") == "zh"
    assert normalize_language("EN") == "en"
    assert normalize_language(None) == "en"
