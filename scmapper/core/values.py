"""The check every source record passes before a mapping reads it: no control characters, no
runaway text, no runaway nesting or lists. A refused record is that record's error (DataError,
naming where), never a crash.
"""

from __future__ import annotations

from typing import Any

from scmapper.errors import DataError

# Tab, line feed and carriage return are legal in names and must round-trip; other C0 controls are not.
_CONTROLS = {chr(c) for c in range(32)} - {"\t", "\n", "\r"}
MAX_DEPTH = 64
MAX_ITEMS = 100_000  # in any one list of a record: more is an export gone wrong, not a person


def check_record(value: Any, limit: int, who: str) -> None:
    """Refuses records no HR system should send: control characters, runaway text, deep nesting.

    The walk builds no paths (it runs for every record); only a refused record is walked
    again, by _problem_at, to say where."""
    if not _clean(value, limit, 0):
        raise DataError(f"{who}: {_problem_at(value, limit)}")


def _clean(value: Any, limit: int, depth: int) -> bool:
    kind = type(value)
    if kind is str:
        return len(value) <= limit and _CONTROLS.isdisjoint(value)
    if kind is dict:
        if depth >= MAX_DEPTH:
            return False
        for key, item in value.items():
            if len(key) > limit or not _CONTROLS.isdisjoint(key):
                return False
            # Text leaves, most of a record, are checked here rather than in a call each.
            if type(item) is str:
                if len(item) > limit or not _CONTROLS.isdisjoint(item):
                    return False
            elif not _clean(item, limit, depth + 1):
                return False
    elif kind is list:
        if depth >= MAX_DEPTH or len(value) > MAX_ITEMS:
            return False
        for item in value:
            if type(item) is str:
                if len(item) > limit or not _CONTROLS.isdisjoint(item):
                    return False
            elif not _clean(item, limit, depth + 1):
                return False
    return True


def _problem_at(value: Any, limit: int, path: str = "person", depth: int = 0) -> str | None:
    """What is wrong with a record that check_record refused, and where."""
    if depth >= MAX_DEPTH and isinstance(value, dict | list):
        return f"{path} is nested deeper than {MAX_DEPTH} levels"
    if isinstance(value, list) and len(value) > MAX_ITEMS:
        return f"{path} has {len(value)} items; the limit is {MAX_ITEMS}"
    if isinstance(value, str):
        if len(value) > limit:
            return f"{path} is {len(value)} characters long; the limit is {limit}"
        bad = next((c for c in value if c in _CONTROLS), None)
        return None if bad is None else f"{path} contains the control character U+{ord(bad):04X}"
    children: list[tuple[Any, str]] = []
    if isinstance(value, dict):
        children = [(k, f"{path} key") for k in value] + [(v, f"{path}.{k}") for k, v in value.items()]
    elif isinstance(value, list):
        children = [(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return next((found for child, where in children if (found := _problem_at(child, limit, where, depth + 1))), None)
