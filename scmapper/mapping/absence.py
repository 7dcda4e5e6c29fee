"""Fields a record does not have, and the lookup tables fields are read through.

Vocabulary: a key a record does not have (or an item past the end of a list) is *absent*
(`Absent`): it reads as empty, and each use of it as a value is *noted* while `noting()` is
open, so the column that read it can say so (rules.py turns notes into warnings, or into the
reason a required column is empty). Tested (`default`, `or`, `if`, `is defined`) it is not
noted: the mapping then says what absence means; except while a *decision* is taken
(`deciding()`, around `source.active`): there a truth test of an absent field is noted too, since
"the source did not say" must not be read as "the source said no". A *table* is a lookup input: its records by
the text of one field (`inputs.NAME[id]`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

_NOTES: ContextVar[list[Absent] | None] = ContextVar("scmapper_absent_notes", default=None)
_DECIDING: ContextVar[list[Absent] | None] = ContextVar("scmapper_absent_deciding", default=None)
_SEARCHED = 10_000  # records of a lookup table searched to name where an absent field was read


class AbsentError(Exception):
    """An absent field used where a value must be there (in arithmetic, compared by order,
    called): the record's error, named by the field's path."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Absent:
    """A field the record does not have. Used as text, a list or a length it is empty, and the
    use is noted; its fields and items are absent too, so a path can run on past the first
    missing key. It behaves as Jinja's undefined values do (equal only to another absent value,
    false, failing in arithmetic) without importing Jinja: the compiled mapping (plain.py)
    meets it on every event; the Jinja environment treats it as undefined (`undefined`)."""

    __slots__ = ("_obj", "_name", "_first")

    def __init__(self, obj: Any, name: str, first: str | None = None) -> None:
        self._obj, self._name = obj, name
        self._first = name if first is None else first  # the missing key; `name` runs on from it

    def _note(self) -> None:
        notes = _NOTES.get()
        if notes is not None:
            notes.append(self)

    def __str__(self) -> str:
        self._note()
        return ""

    def __iter__(self) -> Iterator[Any]:
        self._note()
        return iter(())

    def __bool__(self) -> bool:
        tested = _DECIDING.get()
        if tested is not None:
            tested.append(self)
        return False

    def __len__(self) -> int:
        self._note()
        return 0

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __ne__(self, other: object) -> bool:
        return type(self) is not type(other)

    def __hash__(self) -> int:
        return id(type(self))

    def __repr__(self) -> str:
        return "Undefined"

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__":
            raise AttributeError(name)
        return self.child(name)

    def __getitem__(self, key: Any) -> Absent:
        return self.child(key)

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise AbsentError(f"{self._name!r} is absent")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _fail
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _fail
    __pos__ = __neg__ = __call__ = __lt__ = __le__ = __gt__ = __ge__ = _fail
    __int__ = __float__ = __complex__ = __pow__ = __rpow__ = _fail

    def child(self, key: Any) -> Absent:
        step = f"[{key!r}]" if not isinstance(key, str) else f".{key}"
        return Absent(self._obj, f"{self._name}{step}", self._first)

    @property
    def within(self) -> Any:
        """The object the first missing key was looked up in."""
        return self._obj

    @property
    def path(self) -> str:
        """The keys read from `within` on, the first one missing: "Department.ExternalId"."""
        return str(self._name)

    @property
    def missing(self) -> str:
        """The key `within` does not have: "Department"."""
        return self._first


def undefined(value: Any) -> bool:
    """Whether a value is absent or undefined: an Absent, or (when Jinja is loaded, on the
    interpreted path) one of Jinja's undefined values."""
    if isinstance(value, Absent):
        return True
    runtime = sys.modules.get("jinja2.runtime")
    return runtime is not None and isinstance(value, runtime.Undefined)


class noting:  # lower case: used as a function, `with noting() as notes:`
    """Collects the absent values used as values while the block runs. A class rather than a
    generator: it runs around every row, and this way costs a fraction of a microsecond."""

    __slots__ = ("notes", "_token")

    def __enter__(self) -> list[Absent]:
        self.notes: list[Absent] = []
        self._token = _NOTES.set(self.notes)
        return self.notes

    def __exit__(self, *exc: object) -> None:
        _NOTES.reset(self._token)


class deciding:  # lower case: used as a function, `with deciding() as tested:`
    """Collects the absent values whose truth was tested while the block runs (and those used
    as values, as `noting` does)."""

    __slots__ = ("tested", "_tokens")

    def __enter__(self) -> list[Absent]:
        self.tested: list[Absent] = []
        self._tokens = (_DECIDING.set(self.tested), _NOTES.set(self.tested))
        return self.tested

    def __exit__(self, *exc: object) -> None:
        _NOTES.reset(self._tokens[1])
        _DECIDING.reset(self._tokens[0])


def path_of(absent: Absent, roots: Mapping[str, Any]) -> str:
    """The missing field, as a path from the names expressions see: "contract.Department"
    when a contract has no Department (whatever was read beyond it); the missing key alone
    when the object it was looked up in is found under no root."""
    within = absent.within
    found = getattr(within, "name", None) if isinstance(within, Table) else None
    if found is None:  # the names bound last first: a roles loop variable before person
        found = next(
            (p for name, root in reversed(list(roots.items())) if (p := _find(root, within, name, 0)) is not None), None
        )
    if found is None:
        return absent.missing
    return found + (absent.missing if absent.missing.startswith("[") else f".{absent.missing}")


def _find(value: Any, target: Any, path: str, depth: int) -> str | None:
    if value is target:
        return path
    if isinstance(value, Table):  # one of its records, by its key; a big table is not searched
        found = (key for key, record in value.items() if record is target) if len(value) <= _SEARCHED else ()
        return next((f"{value.name}[{key!r}]" for key in found), None)
    if depth > 16:
        return None
    if isinstance(value, dict):
        children: Iterator[tuple[str, Any]] = ((f"{path}.{k}", v) for k, v in value.items())
    elif isinstance(value, list):
        children = ((f"{path}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    return next((p for where, v in children if (p := _find(v, target, where, depth + 1)) is not None), None)


class Table(Mapping[str, Any]):
    """A lookup input: its records by the text of one field (`inputs.NAME[value]`). Matching is
    exact on text, so an id sent as a number finds the record whose id is the same digits."""

    def __init__(self, name: str, records: Mapping[str, Any]) -> None:
        self.name = f"inputs.{name}"
        self._records = dict(records)

    def __getitem__(self, key: str) -> Any:
        return self._records[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def find(self, key: Any) -> Any:
        if key is None:
            return None  # no id is no record, as an attribute of null is null
        if undefined(key):
            return key
        text = key if isinstance(key, str) else str(key).strip()
        return self._records[text] if text in self._records else Absent(self, f"[{text!r}]")
