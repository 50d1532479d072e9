"""The project's exception tree.

Every error carries an English message template (a gettext msgid, marked with ``N_`` so that
``pybabel extract`` finds it) and its parameters, so each layer raises in one language and the
UI or the command line shows it in the user's language.
"""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark a message for extraction without translating it yet."""
    return message


class MedRegAError(Exception):
    """Base class: a user-facing problem with a translatable message.

    Parameters
    ----------
    message:
        English template with ``{name}`` placeholders; also the catalog msgid.
    **params:
        Values for the placeholders. Never pass patient identifiers.
    """

    def __init__(self, message: str, **params: object) -> None:
        self.message = message
        self.params = params
        super().__init__(self.localized("en"))

    def localized(self, lang: str) -> str:
        from medrega_core.i18n import translate

        return translate(self.message, lang, **self.params)


class ScanError(MedRegAError):
    """A scan could not be read, decoded or rendered."""


class TaskError(MedRegAError):
    """A task request is incomplete or inconsistent (e.g. a box outside the picture)."""


class EngineError(MedRegAError):
    """The model could not be loaded or run."""
