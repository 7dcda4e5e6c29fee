"""The built-in filters mapping expressions use: names, gender, diacritics, dates.

Pure functions of plain values; `expressions.py` registers them in the sandbox.
Vocabulary: a *convention* is the Dutch name-use code (B birth name, P partner name,
BP birth - partner, PB partner - birth); the *prefix* is the tussenvoegsel ("van 't")
and the *family name* the achternaam column.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from scmapper.core import fields
from scmapper.mapping.absence import undefined

CONVENTIONS = ("B", "P", "BP", "PB")
SENTINEL_END_DATES = (date(9999, 12, 31), date(2099, 12, 31))


def text(value: Any) -> str:
    """A value as column text: None is empty, everything else str() and stripped."""
    return "" if value is None else str(value).strip()


def _words(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _field(name: Mapping[str, Any] | None, key: str) -> str:
    return text(fields.field(name, key)) if isinstance(name, Mapping) else ""


def name_parts(name: Mapping[str, Any] | None, convention: Any = None) -> tuple[str, str]:
    """(prefix, family name) for a HelloID-shaped Name by its naming convention.

    Unknown or missing conventions are B. A convention that needs the partner name
    falls back to B as a whole (prefix included) when that name is empty, so no
    output ever ends in a dangling " - ".
    """
    if type(name) is not dict and undefined(name):
        str(name)  # an absent name reads as none, and notes that it was read (absence.Absent)
        name = None
    code = text(convention if convention is not None else _field(name, "Convention")).upper()
    birth_prefix, birth = _field(name, "FamilyNamePrefix"), _field(name, "FamilyName")
    partner_prefix, partner = _field(name, "FamilyNamePartnerPrefix"), _field(name, "FamilyNamePartner")
    if code not in CONVENTIONS or (code != "B" and not partner):
        code = "B"
    if code in ("BP", "PB") and not birth:
        code = "P"
    if code == "P":
        return partner_prefix, partner
    if code == "BP":
        return birth_prefix, f"{birth} - {_words(partner_prefix, partner)}"
    if code == "PB":
        return partner_prefix, f"{partner} - {_words(birth_prefix, birth)}"
    return birth_prefix, birth


def name_prefix(name: Mapping[str, Any] | None, convention: Any = None) -> str:
    """The tussenvoegsel column for a Name."""
    return name_parts(name, convention)[0]


def family_name(name: Mapping[str, Any] | None, convention: Any = None) -> str:
    """The achternaam column for a Name."""
    return name_parts(name, convention)[1]


# Letters that Unicode does not decompose into a base letter plus marks.
_NO_DECOMPOSITION = str.maketrans(
    {
        "ß": "ss",
        "ẞ": "SS",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ø": "o",
        "Ø": "O",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "Th",
        "ı": "i",
        "ĳ": "ij",
        "Ĳ": "IJ",
    }
)


def strip_diacritics(value: Any) -> str:
    """'Ĳsselmeer Müller-Lüdenscheidt Çelik' -> 'IJsselmeer Muller-Ludenscheidt Celik'."""
    decomposed = unicodedata.normalize("NFD", text(value).translate(_NO_DECOMPOSITION))
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", kept)


_MALE = {"m", "male", "man", "mannelijk", "mr", "dhr"}
_FEMALE = {"v", "f", "female", "vrouw", "vrouwelijk", "w", "mrs", "ms", "mevr"}


def gender(value: Any) -> str:
    """Spend Cloud's gender code: M, V, or O for anything else (empty included)."""
    key = text(value).lower().rstrip(".")
    if key in _MALE:
        return "M"
    if key in _FEMALE:
        return "V"
    return "O"


_ODATA_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def to_date(value: Any, *, open_end: bool = True) -> date | None:
    """A date from the shapes HR systems send, or None for empty and open-ended.

    Accepts date and datetime objects, ISO 8601 with or without a time and zone
    ("2021-01-01T23:09:08.2863496", "2021-01-01Z", "2021-01-01T10:00:00+02:00"),
    and OData "/Date(ms)/" (the day in UTC) or "/Date(ms+0100)/" (the day at that offset).
    With open_end, the sentinel end dates 9999-12-31 and 2099-12-31 mean "no end" and give
    None. Unreadable text raises ValueError.
    """
    if value is None or isinstance(value, date):
        result = value.date() if isinstance(value, datetime) else value
    else:
        result = _parse_date_text(text(value))
    if open_end and result in SENTINEL_END_DATES:
        return None
    return result


def _parse_date_text(raw: str) -> date | None:
    if not raw:
        return None
    odata = _ODATA_DATE.match(raw)
    if odata:
        # The milliseconds are UTC; an offset ("+0100", as ASP.NET and the HelloID helper write
        # it) says where the day was seen: local midnight is 23:00 UTC the day before.
        try:
            instant = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(odata.group(1)))
            if odata.group(2):
                sign = -1 if odata.group(2)[0] == "-" else 1
                hours, minutes = int(odata.group(2)[1:3]), int(odata.group(2)[3:5])
                instant += sign * timedelta(hours=hours, minutes=minutes)
        except OverflowError:  # past the year 9999 (or before 1): the calendar has no such day
            raise ValueError(f"not a date: {raw!r} is out of range") from None
        return instant.date()
    # The calendar date is what matters for contract windows; the time and zone
    # are read off when present but never shift the day.
    match = re.match(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ][0-9:.,]*)?(?:Z|[+-]\d{2}:?\d{2})?$", raw)
    if match:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    match = re.match(r"^(\d{1,2})-(\d{1,2})-(\d{4})$", raw)
    if match:  # Dutch day-month-year, as some HR exports write it
        return date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
    raise ValueError(f"not a date: {raw!r}")


def in_window(day: Any, start: Any, end: Any, early: int = 0) -> bool:
    """Whether day lies in [start, end]; an empty start or end leaves that side open. With
    `early`, the window opens that many days before start (a joiner's role before day one)."""
    current = to_date(day)
    if current is None:
        return False
    first, last = to_date(start, open_end=False), to_date(end)
    if first is not None and early:
        first -= timedelta(days=max(0, min(int(early), 366)))
    return (first is None or first <= current) and (last is None or current <= last)


def today() -> date:
    return date.today()


def translate(value: Any, table: Mapping[str, Any] | None, default: Any = None) -> Any:
    """A code looked up in a table (exact, then case-insensitive); else default, else the value."""
    key = text(value)
    if isinstance(table, Mapping):
        if key in table:
            return table[key]
        folded = key.casefold()
        for source, target in table.items():
            if str(source).casefold() == folded:
                return target
    return value if default is None else default


def where(items: Any, *path_and_value: Any, **conditions: Any) -> list[Any]:
    """The items (dicts) whose fields equal every condition: where(type="Business"), or for a
    nested field where("nameCode.codeValue", "partnerName"). Over a lookup input, its records."""
    if isinstance(items, Mapping):
        # An OData {"results": [...]} wrapper is its list; any other mapping (a lookup input) its values.
        items = items["results"] if isinstance(items.get("results"), list) else list(items.values())
    if len(path_and_value) == 2:
        conditions = {**conditions, str(path_and_value[0]): path_and_value[1]}
    elif path_and_value:
        raise TypeError("where takes a field path and a value, or field=value conditions")
    if not isinstance(items, list | tuple):
        return _empty(items)
    return [
        item
        for item in items
        if isinstance(item, Mapping) and all(get(item, path) == value for path, value in conditions.items())
    ]


def get(data: Any, path: str, default: Any = None) -> Any:
    """The value at a dotted path ("genderCode.codeValue"), or default where a step is missing or null."""
    return fields.path(data, path, default)


def _empty(items: Any) -> list[Any]:
    """No items; an absent list is iterated (it notes its use: the column read a missing field)."""
    return list(items) if undefined(items) else []


def first(items: Any) -> Any:
    """The first item, or none for an empty or missing list (so `or` and `default` can follow)."""
    for item in items if items is not None else ():
        return item
    return None


def last(items: Any) -> Any:
    """The last item, or none for an empty or missing list."""
    seq = list(items if items is not None else ())
    return seq[-1] if seq else None


def flatten(items: Any) -> list[Any]:
    """One level of nesting removed: [[a, b], [c], {"results": [d]}] -> [a, b, c, d]."""
    flat: list[Any] = []
    for item in items if items is not None else ():
        if isinstance(item, Mapping) and isinstance(item.get("results"), list):
            flat.extend(item["results"])
        elif isinstance(item, list | tuple):
            flat.extend(item)
        elif item is not None:
            flat.append(item)
    return flat


# Dutch (and a few neighbouring) surname prefixes, longest first so "van der" wins over "van".
# Only lowercase prefixes split: a capitalised "Van" or "El" is part of the surname (Van Damme).
_PREFIXES = sorted(
    {
        "van",
        "van de",
        "van der",
        "van den",
        "van het",
        "van 't",
        "de",
        "den",
        "der",
        "het",
        "'t",
        "te",
        "ten",
        "ter",
        "in 't",
        "in de",
        "in den",
        "in het",
        "op de",
        "op den",
        "op het",
        "op 't",
        "uit de",
        "uit den",
        "uit het",
        "aan de",
        "aan den",
        "aan het",
        "bij de",
        "onder de",
        "over de",
        "voor de",
        "voor den",
        "d'",
        "da",
        "di",
        "du",
        "la",
        "le",
        "von",
        "zu",
        "von der",
    },
    key=len,
    reverse=True,
)


def split_surname(value: Any) -> list[str]:
    """[prefix, surname] from a surname written with its prefix: "van den Berg" -> ["van den", "Berg"]."""
    full = " ".join(text(value).split())
    for prefix in _PREFIXES:
        glue = "" if prefix.endswith("'") else " "
        if full.startswith(prefix + glue) and len(full) > len(prefix + glue):
            return [prefix, full[len(prefix + glue) :].strip()]
    return ["", full]
