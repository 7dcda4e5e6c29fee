"""`accounts`: the store's accounts, as HelloID's account import reads them. Writes nothing.

Vocabulary: an *account* is a person who is not deleted: the reference HelloID holds for it
(`accountReference`: the old connector's one after `adopt`, until HelloID moves to scmapper's
own, `reference`), whether it is enabled (exported to Spend Cloud), a display name (at most 100
characters, as HelloID's import takes it) and user name for HelloID's lists, the aliases it also
answers to, and its row, from which HelloID's import picks the fields of its field mapping.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from scmapper.errors import EXIT_OK
from scmapper.mapping.model import Mapping
from scmapper.store import Store, StoredPerson

NAME_COLUMNS = ("voornaam", "tussenvoegsel", "achternaam")  # Spend Cloud's name fields, in reading order


@dataclass
class AccountsReport:
    accounts: list[dict[str, Any]]
    exit_code: int = EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        return {"accounts": self.accounts}

    def text(self) -> list[str]:
        lines = [
            f"{a['accountReference']}\t{'enabled' if a['enabled'] else 'disabled'}\t{a['userName']}\t{a['displayName']}"
            + (f"\t(HelloID's reference; scmapper's is {a['reference']})" if _moved(a) else "")
            + (f"\t(also {', '.join(a['aliases'])})" if a["aliases"] else "")
            for a in self.accounts
        ]
        return [*lines, f"{len(self.accounts)} accounts"]

    def json_lines(self) -> Iterator[str]:
        """One compact JSON object per account (what integrations/helloid/import.ps1 reads)."""
        for account in self.accounts:
            yield json.dumps(account, ensure_ascii=False, separators=(",", ":"))


DISPLAY_NAME = 100  # the longest display name HelloID's account import takes


def _moved(account: dict[str, Any]) -> bool:
    """Whether HelloID holds another reference for the account than scmapper's own."""
    return bool(account["reference"] != account["accountReference"])


def list_accounts(mapping: Mapping, store: Store) -> AccountsReport:
    aliases, held = store.aliases.all(), store.aliases.held_by_helloid()
    return AccountsReport(
        [account(mapping, p, aliases.get(p.ref, []), held.get(p.ref)) for p in _kept(store.persons.each())]
    )


def _kept(persons: Iterable[StoredPerson]) -> Iterator[StoredPerson]:
    return (p for p in persons if not p.deleted)


def account(mapping: Mapping, person: StoredPerson, aliases: list[str], held: str | None = None) -> dict[str, Any]:
    """One account; `held`: the old connector's reference HelloID still holds for it."""
    row = person.row
    username = row.get(mapping.username, "") if mapping.username else ""
    name = " ".join(row[c] for c in NAME_COLUMNS if row.get(c))
    return {
        "accountReference": held or person.ref,
        "reference": person.ref,
        "enabled": person.active,
        "userName": username or person.ref,
        "displayName": (name or username or person.ref)[:DISPLAY_NAME],
        "aliases": aliases,
        "data": {column: row.get(column, "") for column in mapping.column_names},
    }
