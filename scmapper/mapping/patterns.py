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


def compiled(pattern: str) -> Any:
    """The pattern ready to search with, or PatternError saying why RE2 cannot run it."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        hint = ""
        if "perl operator" in reason or "escape sequence" in reason:
            hint = " (RE2 has no lookaround and no backreferences: they can take time exponential in the value)"
        raise PatternError(f"{reason}{hint}") from None
