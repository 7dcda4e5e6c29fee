"""Shared pieces of the reliability suite: event workloads and database fingerprints."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path
from typing import Any

from conftest import make_person


def person(number: int, *, nick: str = "Start", username: str | None = None) -> dict[str, Any]:
    found = make_person(str(number), NickName=nick, FamilyName=f"van 't Veld-{number}", FamilyNamePrefix="de")
    if username:
        found["Accounts"]["MicrosoftActiveDirectory"]["sAMAccountName"] = username
    found["Contracts"].append(
        {
            "Context": {"InConditions": True},
            "Department": {"ExternalId": f"OE-{number % 7}", "DisplayName": f"Afdeling {number % 7}"},
            "Title": {"ExternalId": f"FP-{number % 5}", "Name": f"Functie {number % 5}"},
        }
    )
    return found


def event(action: str, number: int | None = None, **extra: Any) -> str:
    body: dict[str, Any] = {"action": action, **extra}
    if number is not None:
        body["person"] = person(number, nick="Final")
    return json.dumps(body)


def fingerprint(db: Path) -> dict[str, Any]:
    """What a database says about people: every person's columns and state, and their roles."""
    conn = sqlite3.connect(db)
    try:
        persons = conn.execute("SELECT * FROM persons ORDER BY scm_ref").fetchall()
        names = [d[0] for d in conn.execute("SELECT * FROM persons LIMIT 0").description]
        keep = [i for i, n in enumerate(names) if n not in ("scm_created_at", "scm_updated_at", "scm_deleted_at")]
        roles = conn.execute(
            "SELECT scm_ref, gebruikersnaam, ou, functie, oucode, functiecode FROM roles ORDER BY scm_ref, scm_seq"
        ).fetchall()
        deleted = conn.execute(
            "SELECT scm_ref FROM persons WHERE scm_deleted_at IS NOT NULL ORDER BY scm_ref"
        ).fetchall()
    finally:
        conn.close()
    return {"persons": [tuple(p[i] for i in keep) for p in persons], "roles": roles, "deleted": deleted}


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def atomic(db: Path) -> list[str]:
    """Problems showing a half-applied event: a person, its roles and its last audit event must agree."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    problems = []
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'persons'").fetchone():
        conn.close()
        return []  # killed before the first transaction created the tables: nothing was applied
    try:
        for row in conn.execute("SELECT * FROM persons"):
            ref = row["scm_ref"]
            last = conn.execute(
                "SELECT after FROM events WHERE account_ref = ? AND action NOT IN ('UploadFile', 'ExportFiles')"
                " ORDER BY id DESC LIMIT 1",
                (ref,),
            ).fetchone()
            if last is None:
                problems.append(f"{ref}: a person without an audit event")
                continue
            after = json.loads(last["after"]) if last["after"] else None
            roles = [
                dict(r)
                for r in conn.execute(
                    "SELECT gebruikersnaam, ou, functie, oucode, functiecode FROM roles WHERE scm_ref = ? ORDER BY scm_seq",
                    (ref,),
                )
            ]
            if after is None:
                continue  # a disable or soft delete records no after-image of its own
            columns = {k: row[k] for k in after["person"]}
            if columns != after["person"] or (row["scm_deleted_at"] is None and roles != after["roles"]):
                problems.append(f"{ref}: its row or roles differ from its last audit event")
        for (ref,) in conn.execute(
            "SELECT DISTINCT account_ref FROM events WHERE account_ref IS NOT NULL AND action = 'CreateAccount'"
        ):
            if conn.execute("SELECT 1 FROM persons WHERE scm_ref = ?", (ref,)).fetchone() is None:
                problems.append(f"{ref}: an audit event for a person that is not there")
    finally:
        conn.close()
    return problems


def workload(rng: random.Random, workers: int, per_worker: int, people: int) -> list[list[str]]:
    """Event lists whose final effect does not depend on how they interleave.

    People fall in three groups: kept (every worker creates and updates them to the same
    final data), disabled (everyone creates them, then disables), and deleted (one owner
    creates then deletes; the others only delete, which fails cleanly if it comes first).
    """
    lists: list[list[str]] = []
    third = people // 3
    for worker in range(workers):
        events: list[str] = []
        while len(events) < per_worker:
            number = rng.randrange(people)
            if len(events) == per_worker - 1:  # room for one: an event that commutes with every other
                events.append(event("disable", accountReference=str(third + number % third)))
            elif number < third:
                events += [event("create", number), event("update", number, accountReference=str(number))]
            elif number < 2 * third:
                events += [event("create", number), event("disable", accountReference=str(number))]
            elif number % workers == worker:
                events += [event("create", number), event("delete", accountReference=str(number))]
            else:
                events.append(event("delete", accountReference=str(number)))
        lists.append(events)
    return lists
