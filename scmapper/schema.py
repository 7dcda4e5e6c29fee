"""JSON Schema validation of mapping documents, every problem located as file:line:col.

The schema ships inside the package (`scmapper.schemas`), the same file editors use
through a `# yaml-language-server: $schema=...` line.
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from scmapper.document import Document
from scmapper.errors import Problem


@cache
def mapping_schema() -> dict[str, Any]:
    return _schema("mapping.schema.json")


@cache
def tests_schema() -> dict[str, Any]:
    return _schema("mapping-tests.schema.json")


def _schema(name: str) -> dict[str, Any]:
    text = (Path(__file__).parent / "schemas" / name).read_text("utf-8")
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
        close = difflib.get_close_matches(extra, allowed, n=1)
        guess = f" (did you mean {close[0]!r}?)" if close else ""
        return doc.problem((*path, extra), f"unknown key {extra!r}{guess}{hint}", key=True)
    if "propertyNames" in error.absolute_schema_path:
        # The instance is the offending key itself; point at it.
        return doc.problem((*path, error.instance), f"{error.instance!r}: {custom}", key=True)
    return doc.problem(path, f"{_where(path)}{custom or error.message}")


def _where(path: tuple[Any, ...]) -> str:
    return f"{'.'.join(str(p) for p in path)}: " if path else ""
