"""A check of JSON values against the viewer's contract, ui_components/viewer_frontend/schema/contract.schema.json.

It covers the part of JSON Schema the contract uses (type, enum, anyOf, $ref, properties, required,
additionalProperties, items); the TypeScript types of the browser side are generated from the same file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "ui_components" / "viewer_frontend" / "schema" / "contract.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text())
TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _is_type(value: Any, name: str) -> bool:
    if name in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return name == "number" or float(value).is_integer()
    return isinstance(value, TYPES[name])


def problems(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Where ``value`` breaks ``schema`` (empty when it conforms)."""
    if "$ref" in schema:
        return problems(value, SCHEMA["$defs"][schema["$ref"].removeprefix("#/$defs/")], path)
    if "anyOf" in schema:
        found = [problems(value, part, path) for part in schema["anyOf"]]
        return [] if any(not f for f in found) else [f"{path}: matches none of {len(found)} forms ({found})"]
    if "enum" in schema:
        return [] if value in schema["enum"] else [f"{path}: {value!r} not in {schema['enum']}"]
    names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    if not any(_is_type(value, name) for name in names):
        return [f"{path}: {value!r} is not {' or '.join(names)}"]
    found: list[str] = []
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        found += [f"{path}: {key} missing" for key in schema.get("required", []) if key not in value]
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                found += problems(item, properties[key], f"{path}.{key}")
            elif extra is False:
                found.append(f"{path}: unexpected {key}")
            elif isinstance(extra, dict):
                found += problems(item, extra, f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found += problems(item, schema["items"], f"{path}[{i}]")
    return found


def assert_conforms(value: Any, definition: str) -> None:
    found = problems(value, {"$ref": f"#/$defs/{definition}"})
    assert not found, f"not a {definition}: " + "; ".join(found[:10])
