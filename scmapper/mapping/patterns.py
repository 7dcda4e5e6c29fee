"""Column patterns (`pattern:` in a mapping), matched by RE2.

A pattern is the mapping author's, the value is HR's: Python's `re` backtracks, so a pattern
with nested repeats (`^(a|aa)+$`) takes seconds per character added on a value crafted for
it, and cannot be interrupted. RE2 matches in time linear in the value whatever the pattern,
at the price of the few constructs that need backtracking: backreferences (`\\1`) and
lookaround (`(?=...)`, `(?<!...)`), which `validate` refuses by name. In RE2, `\\d`, `\\s` and
`\\w` are ASCII; `\\pL` is any letter.
"""

from __future__ import annotations

from typing import Any

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is our message, not RE2's log line on stderr


class PatternError(ValueError):
    pass


class Pattern:
    """A compiled pattern whose `found(value)` says whether it matches anywhere in the value.
    It asks RE2's matcher directly for that yes or no, without the match object and offset
    bookkeeping `re2.search` builds around it (most of its cost); where this version of the
    bindings does not offer that, it searches as usual."""

    def __init__(self, regexp: Any) -> None:
        self.regexp = regexp
        inner = getattr(regexp, "_regexp", None)
        anchor = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)
        self._match = getattr(inner, "Match", None) if anchor is not None else None
        self._anchor = anchor

    def found(self, value: str) -> bool:
        if self._match is not None:
            try:
                encoded = value.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate: the bindings' own path says what it makes of it
                return self.regexp.search(value) is not None
            return bool(self._match(self._anchor, encoded, 0, len(encoded))[0] != _NO_MATCH)
        return self.regexp.search(value) is not None


_NO_MATCH = (-1, -1)


def compiled(pattern: str) -> Pattern:
    """The pattern ready to search with, or PatternError saying why RE2 cannot run it."""
    try:
        return Pattern(re2.compile(pattern, _OPTIONS))
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        hint = ""
        if "perl operator" in reason or "escape sequence" in reason:
            hint = " (RE2 has no lookaround and no backreferences: they can take time exponential in the value)"
        raise PatternError(f"{reason}{hint}") from None
