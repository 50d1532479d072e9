"""Language-dependent widget text (kept in one place per panel) and user-facing errors.

Each panel has a ``texts(_)`` function returning, for each field of its handles dataclass, the
keyword arguments that carry text (``label``, ``info``, ``placeholder``, ``value`` of buttons...).
The same dict builds the widgets and, on a language switch, the ``gr.update`` for each of them,
so a label cannot be translated in one place and forgotten in the other.
"""

from __future__ import annotations

import html
from typing import Any, Callable

import gradio as gr

from medrega_core.errors import N_, MedRegAError
from medrega_core.i18n import translate

Texts = dict[str, dict[str, Any]]
Translate = Callable[..., str]


def relabel(handles: object, texts: Texts) -> dict[gr.components.Component, Any]:
    """``{component: gr.update(**text kwargs)}`` for every named field of ``handles`` in ``texts``."""
    return {getattr(handles, name): gr.update(**props) for name, props in texts.items()}


def merge_updates(*parts: dict[Any, Any]) -> dict[Any, Any]:
    """Combine several {component: update-or-value} dicts; later parts add to earlier ones per component."""
    merged: dict[Any, Any] = {}
    for part in parts:
        for component, update in part.items():
            if not (isinstance(update, dict) and update.get("__type__") == "update"):
                update = gr.update(value=update)
            merged[component] = {**merged.get(component, {}), **update}
    return merged


def choices(labels: dict[str, str], _: Translate) -> list[tuple[str, str]]:
    """Dropdown/radio choices as (translated label, stable value) pairs, from {value: English msgid}."""
    return [(_(msgid), value) for value, msgid in labels.items()]


def user_error(error: MedRegAError, lang: str) -> gr.Error:
    """A Gradio error toast with the message in ``lang`` (never a traceback). The toast renders HTML,
    so the text is escaped: a message quoting ``<image>`` shows it instead of losing it."""
    return gr.Error(html.escape(error.localized(lang), quote=False), title=translate(N_("Error"), lang),
                    print_exception=False)


def plain_error(message: str, lang: str, **params: object) -> gr.Error:
    """A Gradio error toast for a UI-level problem (``message`` is an English msgid)."""
    return user_error(MedRegAError(message, **params), lang)
