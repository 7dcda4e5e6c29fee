"""What a mapping may call its columns and its export files.

Vocabulary: a *column name* becomes a SQLite column and a CSV header: a letter, then
letters, digits and `_`, at most 63, matched whole (a trailing newline is not "the end").
SQLite compares column names without regard to case, so two names differing only in case are
one column, and the `scm_` prefix (in any case) is the store's own bookkeeping. The *known*
columns are Spend Cloud's person and role fields as the old connector fills them; a mapping
declares any other column its customer's Spend Cloud import has (`extra_columns`), so a
misspelt or invented one is a validation problem instead of a column that never reaches
Spend Cloud. An *export file name* is a plain file name in the output folder that no platform
reads as something else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from scmapper.core.suggest import closest

RESERVED_PREFIX = "scm_"
PERSON_COLUMNS = ("externalId", "achternaam", "voornaam", "tussenvoegsel", "gebruikersnaam", "geslacht", "email")
ROLE_COLUMNS = ("gebruikersnaam", "ou", "functie", "oucode", "functiecode")
# What people write when they mean a known column: its English name, or another Dutch one.
_MEANT = {
    "username": "gebruikersnaam",
    "login": "gebruikersnaam",
    "lastname": "achternaam",
    "surname": "achternaam",
    "familyname": "achternaam",
    "firstname": "voornaam",
    "givenname": "voornaam",
    "roepnaam": "voornaam",
    "prefix": "tussenvoegsel",
    "voorvoegsel": "tussenvoegsel",
    "gender": "geslacht",
    "mail": "email",
    "emailadres": "email",
    "employeeid": "externalId",
    "personeelsnummer": "externalId",
    "department": "ou",
    "afdeling": "ou",
    "title": "functie",
    "jobtitle": "functie",
}
_COLUMN = re.compile(r"\A[A-Za-z][A-Za-z0-9_]{0,62}\Z")
# Names the export itself uses in its folder, and names Windows gives to devices.
_TAKEN = {"archive", "export-report.json"}
_DEVICES = re.compile(r"\A(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?\Z", re.IGNORECASE)
_NOT_IN_FILE_NAMES = set('/\\:*?"<>|') | {chr(c) for c in range(32)} | {"\x7f"}


def column_problems(names: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(name, what is wrong) for each name of one table's columns that may not be used."""
    seen: dict[str, str] = {}
    for name in names:
        if not _COLUMN.match(name):
            yield name, f"column {name!r}: names start with a letter and hold only letters, digits and '_' (at most 63)"
        elif name.lower().startswith(RESERVED_PREFIX):
            yield name, f"column {name!r}: names starting with {RESERVED_PREFIX!r} are scmapper's own; choose another"
        elif name.lower() in seen:
            other = seen[name.lower()]
            yield name, f"column {name!r} is column {other!r} again: column names differ by more than case"
        seen.setdefault(name.lower(), name)


def unknown_columns(table: str, names: Iterable[str], extra: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(name, what is wrong) for each column of table ("person" or "roles") that is neither one
    of Spend Cloud's known columns nor declared in the table's extra_columns."""
    known = PERSON_COLUMNS if table == "person" else ROLE_COLUMNS
    allowed = (*known, *extra)
    for name in names:
        if name in allowed:
            continue
        meant = _MEANT.get(name.lower().replace("_", ""))
        guess = meant if meant in allowed else closest(name, allowed)
        hint = f"did you mean {guess!r}?" if guess else f"known: {', '.join(known)}"
        noun = "person" if table == "person" else "role"
        message = f"column {name!r} is not a Spend Cloud {noun} column ({hint}); if the customer's Spend Cloud"
        yield name, f"{message} import has it, declare it: {table}.extra_columns: [{name}]"


def file_problem(name: str) -> str | None:
    """What is wrong with an export file name, or None."""
    bad = sorted(set(name) & _NOT_IN_FILE_NAMES)
    if bad:
        return f"file {name!r} holds {', '.join(repr(c) for c in bad)}: give a plain file name"
    if name in (".", "..") or name.startswith("."):
        return f"file {name!r}: names starting with '.' are the export's temporary files"
    if name.lower() in _TAKEN:
        return f"file {name!r} is a name the export itself uses in its folder"
    if _DEVICES.match(name) or name.endswith((" ", ".")):
        return f"file {name!r} is not a name Windows can give a file"
    return None
