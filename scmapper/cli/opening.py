"""How the commands open the database: writing (created and shaped by the mapping when needed),
existing only, or read-only; and how long an agent's action waits for another run's lock."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from scmapper.errors import UsageError

if TYPE_CHECKING:
    from scmapper.mapping.rules import Rules
    from scmapper.store import Store

# How long one agent action waits for another run's write lock before answering "busy" (exit
# 75): a clear margin under the 22 seconds after which the HelloID helper stops scmapper, so the
# action always reports within HelloID's 30.
AGENT_WAIT = 15.0


def open_store(db: str, rules: Rules, *, dry_run: bool, durable: bool = True, wait: float | None = None) -> Store:
    from scmapper.store import Shape, Store

    # A dry run against a database that does not exist yet must not create it.
    path = ":memory:" if dry_run and not Path(db).exists() else db
    if path != ":memory:" and not Path(db).parent.exists():
        raise UsageError(f"the folder for database {db} does not exist")
    store = Store(path, durable=durable)
    try:
        if wait is not None:
            store.db.wait_for_locks(wait)
        notes = store.prepare(Shape.of(rules.mapping))
    except BaseException:
        store.close()
        raise
    for note in notes:
        print(f"scmapper: {db}: {note}", file=sys.stderr)
    return store


def existing_store(db: str, rules: Rules) -> Store:
    if not Path(db).exists():
        raise UsageError(f"database {db} does not exist")
    return open_store(db, rules, dry_run=False)


def read_store(db: str, rules: Rules) -> Store:
    """The database opened read-only with the mapping's shape: nothing migrated or added."""
    from scmapper.store import Shape, Store

    if not Path(db).is_file():
        raise UsageError(f"database {db} does not exist")
    store = Store(db, read_only=True)
    try:
        store.attach(Shape.of(rules.mapping))
    except BaseException:
        store.close()
        raise
    return store
