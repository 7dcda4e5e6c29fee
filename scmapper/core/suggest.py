"""Suggestions ("did you mean"): the known word closest to a misspelt one.

Vocabulary: a *candidate* is a word the user could have meant (a key, a filter, a column, a
field of the sample records). Matching ignores case, since `Lower` for `lower` and
`externalid` for `externalId` are the commonest slips, but the suggestion keeps the
candidate's own spelling.
"""

from __future__ import annotations

from collections.abc import Iterable


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to word, or None when none is close enough to suggest."""
    import difflib  # only on the way to an error message: apply never needs it

    by_lower: dict[str, str] = {}
    for candidate in candidates:
        by_lower.setdefault(candidate.lower(), candidate)
    found = difflib.get_close_matches(word.lower(), list(by_lower), n=1)
    return by_lower[found[0]] if found else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest candidate, or '' when there is none."""
    found = closest(word, candidates)
    return f" (did you mean {found!r}?)" if found else ""
