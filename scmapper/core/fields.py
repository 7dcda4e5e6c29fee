"""Reading a field of a JSON object the way PowerShell payloads and HR exports need.

Vocabulary: a *field* is a key of a JSON object; it matches exactly, else ignoring case
(HelloID payloads mix `accountField` and `AccountField`; PowerShell keys are
case-insensitive). Every case-insensitive look-up in scmapper goes through here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

MISSING: Any = object()  # a default that no JSON value can be


def field(data: Mapping[Any, Any], name: str, default: Any = None) -> Any:
    """data[name], else the value under the first key equal to name ignoring case, else default."""
    if name in data:
        return data[name]
    key = matching(data, name)
    return default if key is None else data[key]


def matching(names: Iterable[Any], name: str) -> str | None:
    """The first of names equal to name, exactly or else ignoring case; None if none is."""
    lowered = name.lower()
    found = None
    for candidate in names:
        if candidate == name:
            return name
        if found is None and isinstance(candidate, str) and candidate.lower() == lowered:
            found = candidate
    return found


def path(data: Any, dotted: str, default: Any = None) -> Any:
    """The value at a dotted path ("genderCode.codeValue"), or default where a step is missing or null."""
    for name in str(dotted).split("."):
        if not isinstance(data, Mapping):
            return default
        data = field(data, name)
        if data is None:
            return default
    return data
