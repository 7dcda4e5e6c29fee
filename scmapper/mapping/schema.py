"""JSON Schema validation of mapping documents, every problem located as file:line:col.

The schema ships inside the package (`scmapper.schemas`), the same file editors use
through a `# yaml-language-server: $schema=...` line.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from scmapper.core.suggest import did_you_mean
from scmapper.errors import Problem
from scmapper.mapping.document import Document

# JSON Schema's type names as a mapping's author reads them.
_KINDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "a map",
    "array": "a list",
    "null": "null",
}


@cache
def mapping_schema() -> dict[str, Any]:
    return _schema("mapping.schema.json")


@cache
def tests_schema() -> dict[str, Any]:
    return _schema("mapping-tests.schema.json")


def _schema(name: str) -> dict[str, Any]:
    text = (Path(__file__).parent.parent / "schemas" / name).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def validate_tests(doc: Document) -> list[Problem]:
    """Every problem in a mapping's test case file."""
    return _validate(doc, tests_schema())


def validate_document(doc: Document) -> list[Problem]:
    """Every schema problem in doc, in file order."""
    return _validate(doc, mapping_schema())


def validate_against(doc: Document, definition: str) -> list[Problem]:
    """Every problem in doc against one of the schema's $defs (e.g. a connection file)."""
    schema = {**mapping_schema(), "$ref": f"#/$defs/{definition}"}
    for key in ("properties", "required", "additionalProperties", "type"):
        schema.pop(key, None)
    return _validate(doc, schema)


def _validate(doc: Document, schema: dict[str, Any]) -> list[Problem]:
    validator = jsonschema.Draft202012Validator(schema)
    problems = [_problem(doc, error) for error in validator.iter_errors(doc.data)]
    return sorted(set(problems), key=lambda p: (p.line, p.col, p.message))


def _problem(doc: Document, error: ValidationError) -> Problem:
    path = tuple(error.absolute_path)
    custom = error.schema.get("errorMessage") if isinstance(error.schema, dict) else None
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = next(k for k in error.instance if k not in allowed)
        hint = f"; expected one of: {', '.join(allowed)}" if allowed else ""
        guess = did_you_mean(extra, allowed)
        dedented = _dedented(doc, path, error.instance, extra) if path and not guess else ""
        message = f"unknown key {extra!r}{guess}{hint}{dedented}"
        return doc.problem((*path, extra), message, key=True)
    if "propertyNames" in error.absolute_schema_path:
        # The instance is the offending key itself; point at it.
        return doc.problem((*path, error.instance), f"{error.instance!r}: {custom}", key=True)
    if error.validator == "type" and error.instance is None:
        custom = None  # "is empty" says more than what a filled-in value should look like
    return doc.problem(path, f"{_where(path)}{custom or _message(error)}")


def _dedented(doc: Document, path: tuple[Any, ...], instance: dict[str, Any], extra: str) -> str:
    """A hint when the unknown key follows a block it probably belongs in (a dedented column)."""
    keys = list(instance)
    before = keys[keys.index(extra) - 1] if keys.index(extra) > 0 else None
    if before is None or not isinstance(instance[before], dict) or not instance[before]:
        return ""
    # A line of the user's own file to copy the indent from: keys merged in from a base have
    # their line numbers in the base.
    own = [(*path, before, key) for key in instance[before] if (*path, before, key) not in doc.origins]
    inner = doc.key_positions.get(own[0]) if own else None
    where = f" like line {inner[0]} ({inner[1] - 1} spaces)" if inner else " like the keys there"
    return f"; if it belongs under {before!r}, indent it{where}"


def _message(error: ValidationError) -> str:
    """jsonschema's message in the YAML author's words: never Python's None, True or dict."""
    shown = yaml_value(error.instance)
    if error.validator == "type":
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        kinds = [_KINDS.get(str(kind), str(kind)) for kind in expected]
        if len(kinds) > 1:
            kinds = ["a boolean" if kind == _KINDS["boolean"] else kind for kind in kinds]
        listed = ", ".join(kinds[:-1]) + f" or {kinds[-1]}" if len(kinds) > 1 else kinds[0]
        return f"is empty; expected {listed}" if error.instance is None else f"expected {listed}, found {shown}"
    if error.validator == "enum":
        allowed = ", ".join(yaml_value(v, quote=False) for v in error.validator_value)
        if error.instance is None:
            return f"is empty; expected one of: {allowed}"
        return f"{shown} is not one of: {allowed}"
    message = str(error.message)
    text = repr(error.instance)
    return shown + message[len(text) :] if message.startswith(text) else message


SHOWN = 60  # the most of a value a message shows: enough to recognise it, never a whole file


def yaml_value(value: Any, *, quote: bool = True) -> str:
    """A value as its YAML reads: an empty value, true, false, a map, a list, 'text', 3."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, list):
        return "a list"
    text = repr(value) if quote and isinstance(value, str) else str(value)
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."


def _where(path: tuple[Any, ...]) -> str:
    return f"{'.'.join(str(p) for p in path)}: " if path else ""
