"""The run's date: what `today` is in expressions and which versions an effective-dated input
keeps (`--as-of`, else SCMAPPER_TODAY, else the calendar)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date

from scmapper.errors import UsageError
from scmapper.mapping import filters

_AS_OF: ContextVar[date | None] = ContextVar("scmapper_as_of", default=None)


@contextmanager
def as_of(day: date | None) -> Iterator[None]:
    """The run's date for the code inside (`--as-of`): `today` in expressions, the versions an
    effective-dated input keeps. None leaves it as it is."""
    token = _AS_OF.set(day) if day is not None else None
    try:
        yield
    finally:
        if token is not None:
            _AS_OF.reset(token)


def today() -> date:
    """The run's date (`as_of`), else SCMAPPER_TODAY (YYYY-MM-DD) so mapping tests give stable
    results, else today."""
    given = _AS_OF.get()
    if given is not None:
        return given
    fixed = os.environ.get("SCMAPPER_TODAY")
    if not fixed:
        return filters.today()
    try:
        return date.fromisoformat(fixed)
    except ValueError:
        raise UsageError(f"SCMAPPER_TODAY {fixed[:40]!r} is not a date: set it as YYYY-MM-DD, or unset it") from None
