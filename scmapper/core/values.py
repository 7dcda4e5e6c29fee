"""The one check every value that enters passes, by whatever door (a person record with its
attached records, a lookup input's record, an event, the old connector's database): no control
characters, no invisible or bidi characters, no lone surrogates, no runaway text, nesting or
lists. A refused record is that record's error (DataError, naming where), never a crash, never
a split: with no control character in the data, no separator in any rendering can come from it.
"""

from __future__ import annotations

import re
from typing import Any

from scmapper.errors import DataError

# Tab, line feed and carriage return are legal in names and must round-trip; other C0 controls,
# DEL and the C1 controls are not; nor are characters that draw nothing or reorder text (a name
# or username that looks like another), nor halves of a surrogate pair (no encoder takes them).
_INVISIBLE = (
    "\u00ad\u061c\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"
)
_CONTROLS = (
    ({chr(c) for c in range(32)} - {"\t", "\n", "\r"})
    | {chr(c) for c in range(0x7F, 0xA0)}
    | set(_INVISIBLE)
    | {chr(c) for c in range(0xD800, 0xE000)}
)
MAX_DEPTH = 64
MAX_ITEMS = 100_000  # in any one list of a record: more is an export gone wrong, not a person


def check_record(value: Any, limit: int, who: str, root: str = "person") -> None:
    """Refuses records no HR system should send: control characters, runaway text, deep nesting.

    The walk builds no paths (it runs for every record); only a refused record is walked
    again, by _problem_at, to say where."""
    if not _clean(value, limit, 0):
        raise DataError(f"{who}: {_problem_at(value, limit, root)}")


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
        return None if bad is None else f"{path} contains {describe(bad)}"
    children: list[tuple[Any, str]] = []
    if isinstance(value, dict):
        children = [(k, f"{path} key") for k in value] + [(v, f"{path}.{k}") for k, v in value.items()]
    elif isinstance(value, list):
        children = [(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return next((found for child, where in children if (found := _problem_at(child, limit, where, depth + 1))), None)


def describe(char: str) -> str:
    """A refused character in words."""
    code = ord(char)
    if 0xD800 <= code < 0xE000:
        return f"half a surrogate pair (U+{code:04X}), which no text encoding holds"
    if char in _INVISIBLE:
        return f"the invisible or text-reordering character U+{code:04X}"
    return f"the control character U+{code:04X}"


def clean_text(value: str) -> bool:
    """Whether one text passes the check (any length)."""
    return _CONTROLS.isdisjoint(value)


# In a JSON text, what may stand for a refused character: an escape other than a plain ASCII
# one, DEL, or the UTF-8 bytes of a C1 control or an invisible character. A text without any
# needs no walk (events.py): JSON holds no raw control character.
_MAY_HOLD = re.compile(
    rb"\\u(?!00[2-7][0-9A-Fa-f])|\\[bf]|\x7f|\xc2[\x80-\x9f\xad]|\xd8\x9c|\xe1\xa0\x8e"
    rb"|\xe2\x80[\x8b-\x8f\xaa-\xae]|\xe2\x81[\xa0-\xa4\xa6-\xa9]|\xef\xbb\xbf"
)


def may_hold_refused(raw: bytes) -> bool:
    """Whether a JSON text may hold a character the check refuses (then its record is walked)."""
    return _MAY_HOLD.search(raw) is not None
