"""Reading JSON the way agents and HR exports send it, refusing what no person record holds.

Vocabulary: *JSON text* is one document (an event, a source file, a line of JSON lines).
`NaN` and `Infinity` (which Python's parser accepts) are refused, and so is a number too
large for a float (`1e400`, which Python reads as infinity), so they never become `nan` or
`inf` in a row; so are numbers Python will not read (more than 4,300 digits) and
nesting past the interpreter's stack. Each refusal is a `JsonError` saying what and where.
"""

from __future__ import annotations

import codecs
import json
import math
from pathlib import Path
from typing import Any

from scmapper.errors import UsageError


class JsonError(ValueError):
    """The text is not JSON a person record can be. The message is a predicate ("is nested too
    deeply") for the caller to give a subject ("event", "users.json:3"), never the text itself."""


def _constant(name: str) -> Any:
    raise JsonError(f"holds {name}, which is not a JSON value")


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e400: Python's float overflows to infinity without a word
        raise JsonError("holds a number too large to read (more than about 1.8e308)")
    return value


# One decoder for every document (json.loads with options makes a new one per call).
_DECODER = json.JSONDecoder(parse_constant=_constant, parse_float=_float)


def loads(text: str | bytes) -> Any:
    try:
        if not isinstance(text, str):  # as json.loads reads bytes: UTF-8, -16 or -32 by their first bytes
            text = text.decode(json.detect_encoding(text), "surrogatepass")
        elif text.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        return _DECODER.decode(text)
    except JsonError:
        raise
    except json.JSONDecodeError as exc:
        raise JsonError(f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise JsonError("is nested too deeply") from None
    except ValueError as exc:  # an integer of more digits than Python reads
        if "digits" in str(exc):
            raise JsonError("holds a number with more than 4300 digits") from None
        raise JsonError(f"is not valid JSON: {exc}") from None


def read_text(
    path: Path, error: type[UsageError] = UsageError, what: str = "", encoding: str | None = None
) -> str:
    """A JSON file's text, or `error` saying why it is none; `what` names the file's kind in the
    message ("source"). A UTF-16 or UTF-8 byte-order mark says the encoding; else `encoding` when
    declared (cp1252, utf-16...), else UTF-8."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise error(f"cannot read {what + ' ' if what else ''}{path}: {exc.strerror}") from None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        chosen = "utf-16"
    elif raw.startswith(codecs.BOM_UTF8):
        chosen = "utf-8-sig"
    else:
        chosen = encoding or "utf-8"
    try:
        return raw.decode(chosen)
    except LookupError:
        raise error(f"{path}: encoding {chosen!r} is not one Python knows (cp1252, utf-8, utf-16...)") from None
    except UnicodeDecodeError as exc:
        if chosen in ("utf-8", "utf-8-sig"):
            raise error(not_utf8(path, raw, exc.start)) from None
        raise error(f"{path} is not valid {chosen} (byte {exc.start})") from None


def not_utf8(path: Path, raw: bytes, start: int) -> str:
    """Why a file is not UTF-8, what it likely is, and how to say so."""
    halves = raw[:4096]
    if halves and halves.count(0) * 4 > len(halves):
        likely = "UTF-16 without a byte-order mark (declare utf-16-le)"
    else:
        likely = "Windows-1252 (cp1252), as Windows PowerShell 5.1's Set-Content writes it"
    return (
        f"{path} is not valid UTF-8 (byte {start}: 0x{raw[start]:02x}); it looks like {likely}: declare its"
        f" encoding in the mapping (the input's `encoding: cp1252`) or with the file (--source NAME={path}:cp1252)"
    )
