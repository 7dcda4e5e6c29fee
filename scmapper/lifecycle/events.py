"""Parsing agent payloads into Events: native scmapper events and HelloID action contexts.

Vocabulary: an *event* asks for one lifecycle *action* on one person. A native event is
`{"action", "person", "accountReference", "dryRun", "correlate"}`; a HelloID event is
`{"actionContext": {...}, "personContext": {"Person": {...}}}` with the action given
on the command line. Keys match case-insensitively, as PowerShell's do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scmapper import jsontext
from scmapper.core.fields import field
from scmapper.core.values import may_hold_refused
from scmapper.errors import EventError

ACTIONS = ("create", "update", "enable", "disable", "delete")
NATIVE_KEYS = {"action", "person", "accountreference", "dryrun", "correlate"}
NEEDS_PERSON = ("create", "update")
MAX_EVENT_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Event:
    action: str
    person: dict[str, Any] | None
    account_ref: str | None = None
    dry_run: bool = False
    correlate: bool | None = None  # None: the mapping's default
    correlation_column: str | None = None
    correlation_value: str | None = None
    mapped: Any = None  # the person already mapped (sync maps each record once); a MappedPerson
    source: str | None = None  # who asked: None for the agent, "sync" for snapshots
    # From the JSON text: (its length, its count of '{' and '['), when it escapes no control
    # character. Every text in the record is shorter and every nesting shallower (rules.py).
    bounds: tuple[int, int] | None = None


def parse_bytes(raw: bytes, *, action: str | None = None, dry_run: bool = False) -> Event:
    """An Event from one JSON document; EventError says what is wrong with it."""
    event = parse(_json(raw), action=action, dry_run=dry_run)
    if may_hold_refused(raw):  # then the record is walked, character by character
        return event
    # Set on the fresh, unshared event: cheaper than dataclasses.replace, per event of a batch.
    object.__setattr__(event, "bounds", (len(raw), raw.count(b"{") + raw.count(b"[")))
    return event




def _json(raw: bytes) -> Any:
    if len(raw) > MAX_EVENT_BYTES:
        raise EventError(f"event is {len(raw)} bytes; the limit is {MAX_EVENT_BYTES} (one person's record)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise EventError(f"event is not valid UTF-8 (byte {exc.start})") from None
    try:
        return jsontext.loads(text)
    except jsontext.JsonError as exc:
        raise EventError(f"event {exc}") from None


def person_from_bytes(raw: bytes) -> dict[str, Any]:
    """A person from a bare person object, a native event or a HelloID event."""
    data = _json(raw)
    if not isinstance(data, dict):
        raise EventError(f"a person must be a JSON object, not {_json_type(data)}")
    keys = {k.lower() for k in data}
    # An event has only event keys; a record that merely has a `person` field (ADP workers do) is a record.
    if keys & {"actioncontext", "personcontext"} or ("person" in keys and keys <= NATIVE_KEYS):
        person = parse(data, action="create").person
        assert person is not None  # create events always carry one
        return person
    return data


def parse(data: Any, *, action: str | None = None, dry_run: bool = False) -> Event:
    if not isinstance(data, dict):
        raise EventError(f"event must be a JSON object, not {_json_type(data)}")
    if field(data, "actionContext") is not None or field(data, "personContext") is not None:
        return _helloid(data, action, dry_run)
    return _native(data, action, dry_run)


def _native(data: dict[str, Any], action: str | None, dry_run: bool) -> Event:
    chosen = _action(_typed(data, "action", str), action)
    correlate = _typed(data, "correlate", bool)
    return _event(
        chosen,
        _typed(data, "person", dict),
        _reference(data, "accountReference"),
        dry_run or bool(_typed(data, "dryRun", bool)),
        correlate,
        None,
        None,
    )


def _helloid(data: dict[str, Any], action: str | None, dry_run: bool) -> Event:
    context = _typed(data, "actionContext", dict) or {}
    person_context = _typed(data, "personContext", dict) or {}
    references = _typed(context, "References", dict) or {}
    correlation = _typed(context, "CorrelationConfiguration", dict) or {}
    enabled = _typed(correlation, "Enabled", bool)
    column = _typed(correlation, "AccountField", str)
    value = _reference(correlation, "AccountFieldValue") or _reference(correlation, "PersonFieldValue")
    return _event(
        _action(None, action),
        _typed(person_context, "Person", dict),
        _reference(references, "Account"),
        dry_run or bool(_typed(context, "DryRun", bool)),
        enabled,
        column or None,
        value if enabled else None,
    )


def _event(
    action: str,
    person: dict[str, Any] | None,
    ref: str | None,
    dry_run: bool,
    correlate: bool | None,
    column: str | None,
    value: str | None,
) -> Event:
    if action in NEEDS_PERSON and person is None:
        raise EventError(f"a {action} event needs a person object")
    if action not in NEEDS_PERSON and person is None and not ref:
        raise EventError(f"a {action} event needs an account reference or a person")
    return Event(action, person, ref, dry_run, correlate, column, value)


def _action(given: str | None, option: str | None) -> str:
    if given and option and given.lower() != option.lower():
        raise EventError(f"the event says action {given!r} but --action says {option!r}")
    chosen = (given or option or "").lower()
    if not chosen:
        raise EventError(f"no action: give one with --action ({', '.join(ACTIONS)}) or in the event")
    if chosen not in ACTIONS:
        raise EventError(f"unknown action {chosen!r}; expected one of: {', '.join(ACTIONS)}")
    return chosen


def _typed(data: Mapping[str, Any], key: str, kind: type) -> Any:
    value = field(data, key)
    if value is None or isinstance(value, kind) and not (kind is not bool and isinstance(value, bool)):
        return value
    raise EventError(f"{key!r} must be {_KIND_NAMES[kind]}, not {_json_type(value)}")


def _reference(data: Mapping[str, Any], key: str) -> str | None:
    value = field(data, key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise EventError(f"{key!r} must be a string, not {_json_type(value)}")
    return str(value)


_KIND_NAMES = {str: "a string", bool: "true or false", dict: "an object"}


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")
