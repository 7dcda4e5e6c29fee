"""When two usernames or e-mail addresses are the same one, and which characters none may hold.

Vocabulary: the *folded* form of a value is what uniqueness compares: Unicode NFC (so `é`
composed and decomposed are one), case-folded (`JAN` is `jan`, `STRASSE` is `straße`) and
trimmed (`jan ` is `jan`). *Invisible* characters (zero-width spaces, bidi controls, soft
hyphens, fillers) make two values look alike while differing: an identity column refuses them.
"""

from __future__ import annotations

import unicodedata

# Letters and symbols that draw nothing, beyond the format and separator categories.
_BLANK_LETTERS = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"}
_INVISIBLE_CATEGORIES = {"Cf", "Cc", "Zl", "Zp", "Cs", "Co", "Cn"}


def fold(value: str) -> str:
    """The form uniqueness compares."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", value).casefold()).strip()


def invisible(value: str) -> str | None:
    """The first character of value that draws nothing or reorders text, or None."""
    if value.isascii() and value.isprintable():  # most usernames and addresses: nothing hidden
        return None
    for char in value:
        if char in _BLANK_LETTERS or unicodedata.category(char) in _INVISIBLE_CATEGORIES:
            return char
    return None


def describe(char: str) -> str:
    name = unicodedata.name(char, "unnamed character")
    return f"U+{ord(char):04X} ({name.lower()})"
