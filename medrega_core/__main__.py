"""Command line: ``python -m medrega_core {batch,ask,scan,prompt,parse,pacs,sr} ...``.

Each layer registers its own sub-commands; a user-facing error exits 2 with its message and no
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from medrega_core.errors import MedRegAError
from medrega_core.i18n import normalize_language

#: Modules whose ``register(subparsers)`` adds sub-commands. Each imports heavy packages lazily.
COMMAND_MODULES = ("medrega_core.engine.cli", "medrega_core.intake.cli", "medrega_core.tasks.cli", "medrega_core.pacs.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m medrega_core", description=__doc__)
    parser.add_argument("--lang", default="en", help="language of error messages: en or zh")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            # A layer whose packages this environment lacks offers no commands here (vLLM's environment
            # has no pydicom: there only the engine's commands, vllm-serve among them, are needed).
            if not error.name or (error.name.startswith("medrega_core") and not name.startswith(error.name)):
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # Only a command that hands options on (vllm-serve) accepts options it does not know.
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "pass_through", False):
        parser.error("unrecognized arguments: " + " ".join(extra))
    args.extra = extra
    try:
        return int(args.func(args) or 0)
    except MedRegAError as error:
        print(error.localized(normalize_language(args.lang)), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
