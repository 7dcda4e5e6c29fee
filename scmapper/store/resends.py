"""A re-sent export's record (export/resend.py): a row of the exports table like any other,
written in the caller's transaction with the change log it makes anew."""

from __future__ import annotations

from typing import Any

from scmapper.store.audit import to_json
from scmapper.store.connection import Database


def record(db: Database, *, time: str, forced: bool, out_dir: str, files: list[dict[str, Any]], summary: Any) -> int:
    """The re-send as export 'writing' (finished once its files are in place); its id. An earlier
    one still 'writing' never finished: 'interrupted', as a regular export marks it."""
    db.execute("UPDATE exports SET status = 'interrupted' WHERE status = 'writing'")
    cursor = db.execute(
        "INSERT INTO exports (time, status, forced, out_dir, files, report) VALUES (?, 'writing', ?, ?, ?, ?)",
        (time, int(forced), out_dir, to_json(files), to_json(summary)),
    )
    return int(cursor.lastrowid or 0)
