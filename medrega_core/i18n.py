"""Translations from the babel catalogs in ``locales/``.

Catalogs are read from ``locales/<locale>/LC_MESSAGES/*.po``; a compiled ``messages.mo`` beside
them is preferred when it is at least as new as every ``.po``. Message ids are the English texts, so a missing
translation falls back to English rather than to a key.
"""

from __future__ import annotations

import functools
import gettext
from pathlib import Path
from typing import Callable

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"

#: UI language code -> catalog locale.
LANGUAGES: dict[str, str] = {"en": "en", "zh": "zh_CN"}
DEFAULT_LANGUAGE = "en"


def normalize_language(lang: str | None) -> str:
    """Map 'zh', 'zh_CN', 'zh-Hans', '中文' ... to a supported UI code; unknown -> English."""
    if not lang:
        return DEFAULT_LANGUAGE
    lowered = lang.strip().lower().replace("-", "_")
    if lowered.startswith("zh") or lang.strip() == "中文":
        return "zh"
    return "en" if lowered not in LANGUAGES else lowered


@functools.lru_cache(maxsize=None)
def _catalog(lang: str) -> dict[str, str]:
    folder = LOCALES_DIR / LANGUAGES[lang] / "LC_MESSAGES"
    po_paths = sorted(folder.glob("*.po"))
    mo_path = folder / f"{DOMAIN}.mo"
    if mo_path.exists() and all(mo_path.stat().st_mtime >= p.stat().st_mtime for p in po_paths):
        with mo_path.open("rb") as handle:
            catalog = gettext.GNUTranslations(handle)._catalog
        return {k: v for k, v in catalog.items() if isinstance(k, str) and k and v}
    from babel.messages.pofile import read_po

    messages: dict[str, str] = {}
    for po_path in po_paths:
        with po_path.open("rb") as handle:
            for m in read_po(handle):
                if m.id and isinstance(m.id, str) and m.string and not m.fuzzy:
                    messages.setdefault(m.id, m.string)
    return messages


def translate(message: str, lang: str | None, **params: object) -> str:
    """Translate ``message`` (an English msgid) into ``lang`` and fill ``{placeholders}``."""
    text = _catalog(normalize_language(lang)).get(message, message)
    return text.format(**params) if params else text


def translator(lang: str | None) -> Callable[..., str]:
    """A ``_`` function bound to one language: ``_("Window") -> "窗宽窗位"``."""
    code = normalize_language(lang)
    return lambda message, **params: translate(message, code, **params)
