"""What `adopt` knows of the old PowerShell connector: its export, and its versions' settings.

Vocabulary: the *old export* is what the connector's public export scripts (`resources.ps1`,
`sa-export.ps1`) write from its database: every row of `persons` and of `roles`, as SQLite
returns them (no DISTINCT, no filter on `passief`, no ORDER BY), so duplicates and inactive
persons are in it; from version 2.0.5 on, with `passief` as a seventh column. The *first
export* is what scmapper writes after adopting the same database. A *fate* says what became
of one old row: kept, or why it is not in the first export. The *settings* are the variables
of `mappings/spendcloud-legacy.yaml` that pick an old version's field mapping; the adopted rows
show which of them fit.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

OldRow = dict[str, Any]
Row = dict[str, str]

OLD_PERSON_COLUMNS = ("voornaam", "tussenvoegsel", "achternaam", "geslacht", "email", "gebruikersnaam")
OLD_ROLE_COLUMNS = ("ou", "gebruikersnaam", "functiecode")
FATES = {
    "duplicate": "exact duplicates dropped",
    "inactive": "rows of inactive (passief) persons left out",
    "replaced": "older conflicting rows replaced by the newest",
    "unplaced": "rows that could not be placed left out",
}


@dataclass
class FileDifference:
    """How one file of the first export differs from the old export of the same database."""

    name: str
    old_rows: int = 0
    new_rows: int = 0
    fates: Counter[str] = field(default_factory=Counter)
    moved: int = 0  # kept rows at another position: the old file had row order, the new one key order

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.name,
            "oldRows": self.old_rows,
            "newRows": self.new_rows,
            **{fate: self.fates[fate] for fate in FATES},
            "moved": self.moved,
        }

    def text(self) -> str:
        parts = [f"{label}: {self.fates[fate]}" for fate, label in FATES.items() if self.fates[fate]]
        if self.moved:
            parts.append(f"rows at another place (by person now, by insertion before): {self.moved}")
        if not parts:
            return f"{self.name}: the same {self.new_rows} rows in the same order"
        return f"{self.name}: {self.old_rows} rows before, {self.new_rows} now; " + "; ".join(parts)


@dataclass(frozen=True)
class Adopted:
    """What adopt decided, as the comparison needs it: the persons it writes, and how it tells
    old rows apart (a person's or a role's *signature*: its values in the mapping's columns)."""

    key: str
    username: str | None
    persons: dict[str, tuple[Row, bool]]  # key -> (row, active), every person placed
    left_out: set[str]  # ... of whom these are not written (a unique value an earlier one holds)
    chosen: dict[str, OldRow]  # key -> the old row adopted for them
    person_signature: Callable[[OldRow], tuple[str, ...]]
    role_signature: Callable[[OldRow], tuple[str, ...]]


def first_export(adopted: Adopted, persons: Sequence[OldRow], roles: Sequence[OldRow]) -> list[FileDifference]:
    """Users.csv and Roles.csv of the first export against the old export of the same database."""
    return [_persons_file(adopted, persons), _roles_file(adopted, roles)]


def _persons_file(adopted: Adopted, rows: Sequence[OldRow]) -> FileDifference:
    found = FileDifference("Users.csv", old_rows=len(rows))
    kept: dict[str, None] = {}  # keys in the order the old file had them
    chosen = {key: adopted.person_signature(row) for key, row in adopted.chosen.items()}
    for row in rows:
        key = str(row.get(adopted.key) or "").strip()
        person = adopted.persons.get(key)
        if person is None or key in adopted.left_out:
            found.fates["unplaced"] += 1
        elif not person[1]:
            found.fates["inactive"] += 1
        elif adopted.person_signature(row) != chosen[key]:
            found.fates["replaced"] += 1
        elif key in kept:
            found.fates["duplicate"] += 1
        else:
            kept[key] = None
    found.new_rows = len(kept)
    found.moved = _moved(list(kept), sorted(kept))
    return found


def _roles_file(adopted: Adopted, rows: Sequence[OldRow]) -> FileDifference:
    found = FileDifference("Roles.csv", old_rows=len(rows))
    owners: dict[str, list[str]] = defaultdict(list)
    for key, (row, _active) in adopted.persons.items():
        if adopted.username and row.get(adopted.username):
            owners[row[adopted.username]].append(key)
    seen: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    kept: list[tuple[str, int]] = []
    for row in rows:
        keys = owners.get(str(row.get("gebruikersnaam") or ""), [])
        cells = adopted.role_signature(row)
        if len(keys) != 1 or keys[0] in adopted.left_out:
            found.fates["unplaced"] += 1
        elif not adopted.persons[keys[0]][1]:
            found.fates["inactive"] += 1
        elif cells in seen[keys[0]]:
            found.fates["duplicate"] += 1
        else:
            seen[keys[0]].append(cells)
            kept.append((keys[0], len(seen[keys[0]])))
    found.new_rows = len(kept)
    found.moved = _moved(kept, sorted(kept))
    return found


def _moved(before: Sequence[Any], after: Sequence[Any]) -> int:
    return sum(1 for a, b in zip(before, after, strict=True) if a != b)


def notes(persons: Sequence[OldRow], export_columns: Sequence[str] | None) -> list[str]:
    """What else differs from the old export: its columns."""
    found = []
    if persons and "passief" in persons[0]:
        found.append(
            "the old database has a passief column: the old connector's export from version 2.0.5 on writes it"
            " as a seventh column of Users.csv and keeps inactive persons in the file with passief 'Ja'; scmapper"
            " leaves them out (Spend Cloud deactivates who is missing) and writes the mapping's columns only:"
            " check that Spend Cloud's import definition expects that many columns"
        )
    if export_columns is not None and tuple(export_columns) != OLD_PERSON_COLUMNS:
        found.append(
            f"the mapping's persons file has the columns {', '.join(export_columns)};"
            f" the old export had {', '.join(OLD_PERSON_COLUMNS)}"
        )
    return found


# --- which old version wrote the rows -------------------------------------------------------


@dataclass
class Settings:
    """Counts over the adopted rows, and the settings of spendcloud-legacy.yaml they fit."""

    prefixed: int = 0  # persons with a tussenvoegsel
    appended: int = 0  # ... whose achternaam ends with it
    roles: int = 0  # roles with a functie
    code_is_name: int = 0  # ... whose functiecode equals it
    empty_codes: int = 0  # roles without a functiecode
    genders: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "prefixed": self.prefixed,
            "prefixAppended": self.appended,
            "roles": self.roles,
            "functionCodeIsFunctie": self.code_is_name,
            "emptyFunctionCodes": self.empty_codes,
            "unexpectedGenders": dict(self.genders),
            "advice": self.advice(),
        }

    def advice(self) -> list[str]:
        return [self._prefix(), self._function_code(), *self._gender()]

    def _prefix(self) -> str:
        shown = f"{self.appended} of {self.prefixed} persons with a tussenvoegsel have it at the end of achternaam"
        if not self.prefixed:
            return "append_prefix: no adopted person has a tussenvoegsel; either setting fits"
        if self.appended == self.prefixed:
            return f'append_prefix: "true" ({shown}, as versions 2.0.0 to 2.0.2 wrote it)'
        if not self.appended:
            return f'append_prefix: "false" ({shown})'
        return (
            f"append_prefix: mixed ({shown}): rows written by different versions; pick one and"
            " `scmapper compare` lists who would change"
        )

    def _function_code(self) -> str:
        empty = f"; {self.empty_codes} roles have no functiecode" if self.empty_codes else ""
        if not self.roles:
            return f"function_code: no adopted role has a functie to compare with{empty}"
        shown = f"{self.code_is_name} of {self.roles} roles have functiecode equal to functie{empty}"
        if self.code_is_name == self.roles:
            return f"function_code: \"'Name'\" ({shown})"
        if not self.code_is_name:
            return (
                f"function_code: \"'Code'\" or \"'ExternalId'\" ({shown}); the database cannot tell them apart:"
                " `scmapper compare` with HelloID events does"
            )
        return f"function_code: mixed ({shown}): rows written by different versions"

    def _gender(self) -> list[str]:
        if not self.genders:
            return []
        values = ", ".join(f"{v!r} ({n})" for v, n in sorted(self.genders.items()))
        return [f"geslacht holds values the old field mapping never wrote (it wrote M, V or O): {values}"]


def settings(persons: Sequence[OldRow], roles: Sequence[OldRow]) -> Settings:
    """Which settings the old rows fit (the persons adopted, every distinct role), read from the
    old tables' own columns, whatever the mapping calls them."""
    found = Settings()
    for row in persons:
        prefix, surname = _text(row, "tussenvoegsel"), _text(row, "achternaam")
        if prefix:
            found.prefixed += 1
            found.appended += surname.endswith(" " + prefix)
        gender = _text(row, "geslacht")
        if gender not in ("M", "V", "O"):
            found.genders[gender] += 1
    distinct = {tuple(_text(r, c) for c in ("gebruikersnaam", "ou", "functie", "functiecode")) for r in roles}
    for _user, _ou, name, code in distinct:
        found.empty_codes += not code
        if name:
            found.roles += 1
            found.code_is_name += code == name
    return found


def _text(row: OldRow, column: str) -> str:
    value = row.get(column)
    return "" if value is None else str(value)
