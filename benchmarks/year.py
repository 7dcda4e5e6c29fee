#!/usr/bin/env python3
"""A simulated year: a tenant's daily snapshots through sync and export, as an operator schedules
them, with a year's churn; at the end the last export against one made straight from the last
snapshot.

    python benchmarks/year.py                          # 5,000 persons, 365 days (minutes)
    python benchmarks/year.py --persons 200 --days 40  # the short form the test suite runs

Each day: the HR snapshot of that day (HelloID persons, JSON lines) is synced, then exported,
then the audit log pruned as `audit.retain_days` would (a no-op here: the simulated days pass in
minutes of real time, and the log's times are real). The churn, from one seed: joiners and
leavers (about 1.5 % a month each), leavers who return under their old number, marriages
(another family name, the partner convention, for some a new username), contract changes, a
reorganisation that renames a department (day 182 of 365), a day whose file is cut off mid-record
(its broken last record fails alone, exit 1, and no one missing from the file is taken out: the
export that day holds at least as many persons as the day before), and a day when 8 % leave at
once (sync and export refuse; the operator reads the report and forces both). The
reorganisation's export is refused too (a renamed department is every role in it removed and
added again, past removed_roles) and forced the same way.

Checked at the end: the last export equals, byte for byte, the export of a new database synced
once from the last snapshot; every person ever seen is in the database once; those active in
the last snapshot are exactly the persons exported. Printed per month: the time a day took
(sync + export, median) and the database size. Nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
import run as bench  # noqa: E402 - benchmarks/ is not a package

from scmapper.cli.main import main as scmapper  # noqa: E402

MAPPING = ROOT / "mappings" / "spendcloud.yaml"


def cli(*args: Any) -> int:
    """The real CLI in this process, its output swallowed (the figures are what this prints)."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return scmapper([str(a) for a in args])


class Tenant:
    """The HR side: who works here today, changed a little every day."""

    def __init__(self, persons: int, seed: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - synthetic data
        self.factory = bench.PersonFactory(seed, persons * 3)
        self.staff = {p["ExternalId"]: p for p in (self.factory.person() for _ in range(persons))}
        for person in self.staff.values():  # everyone starts employed
            person["Contracts"][0]["Context"]["InConditions"] = True
        self.gone: dict[str, dict[str, Any]] = {}
        self.seen = set(self.staff)

    def day(self, number: int, days: int) -> None:
        rng, size = self.rng, len(self.staff)
        for _ in range(self._some(size * 0.015 / 30)):
            person = self.factory.person()
            person["Contracts"][0]["Context"]["InConditions"] = True
            self.staff[person["ExternalId"]] = person
            self.seen.add(person["ExternalId"])
        for _ in range(self._some(size * 0.015 / 30)):
            self._leave(rng.choice(sorted(self.staff)))
        if self.gone and rng.random() < 0.05:  # someone comes back under their old number
            key = rng.choice(sorted(self.gone))
            self.staff[key] = self.gone.pop(key)
        for _ in range(self._some(size * 0.002)):  # marriages
            person = self.staff[rng.choice(sorted(self.staff))]
            person["Name"]["FamilyNamePartner"] = rng.choice(bench.FAMILY)
            person["Name"]["Convention"] = rng.choice(["P", "BP"])
            if rng.random() < 0.3:
                ad = person["Accounts"]["MicrosoftActiveDirectory"]
                ad["sAMAccountName"] = self.factory._unique(ad["sAMAccountName"] + "x", self.factory.sams, 20)
        for i in range(self._some(size * 0.004)):  # contract changes
            key = rng.choice(sorted(self.staff))
            self.staff[key] = bench.changed_copy(self.staff[key], i) or self.staff[key]
        if number == days // 2:  # a reorganisation: one department renamed for everyone in it
            dept_id, name = bench.DEPARTMENTS[0]
            for person in self.staff.values():
                for contract in person["Contracts"]:
                    if contract["Department"]["ExternalId"] == dept_id:
                        contract["Department"]["DisplayName"] = name + " (nieuw)"

    def layoff(self, share: float) -> None:
        for key in self.rng.sample(sorted(self.staff), int(len(self.staff) * share)):
            self._leave(key)

    def _leave(self, key: str) -> None:
        self.gone[key] = self.staff.pop(key)

    def _some(self, mean: float) -> int:
        whole = int(mean)
        return whole + (1 if self.rng.random() < mean - whole else 0)

    def snapshot(self, path: Path, *, cut: bool = False) -> None:
        lines = [json.dumps(p, ensure_ascii=False) for p in self.staff.values()]
        text = "\n".join(lines) + "\n"
        path.write_text(text[: len(text) // 2] if cut else text, "utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description="A simulated year of daily sync and export.")
    parser.add_argument("--persons", type=int, default=5000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--out", type=Path, default=HERE / "year.json", help="results file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        results = simulate(Path(folder), args.persons, args.days, args.seed)
    args.out.write_text(json.dumps(results, indent=2) + "\n", "utf-8")
    for month in results["months"]:
        print(
            f"month {month['month']:>2}: a day takes {month['dayMedianSeconds']:.3f} s (median),"
            f" database {month['databaseMiB']:.1f} MiB, {month['persons']} persons exported"
        )
    print(json.dumps(results["end"]))
    print(f"written: {args.out}")
    return 0 if results["end"]["sameAsFresh"] and results["end"]["noneLostOrDoubled"] else 1


def simulate(folder: Path, persons: int, days: int, seed: int) -> dict[str, Any]:
    tenant = Tenant(persons, seed)
    db, out, snapshot = folder / "spendcloud.db", folder / "out", folder / "snapshot.jsonl"
    cut_day, layoff_day = days // 3, days * 2 // 3
    days_taken: list[tuple[int, float]] = []
    months = []
    for number in range(1, days + 1):
        tenant.day(number, days)
        if number == layoff_day:
            tenant.layoff(0.08)
        tenant.snapshot(snapshot, cut=number == cut_day)
        began = time.perf_counter()
        synced = cli("sync", "--mapping", MAPPING, "--db", db, "--source", snapshot)
        if number == cut_day:  # its last record fails alone; no one missing from it is taken out
            assert synced == 1, f"day {number}: a cut-off file must fail its broken record, got {synced}"
            before = (out / "Users.csv").read_bytes()
        if number == layoff_day:
            assert synced == 1, f"day {number}: 8% leaving at once must be refused, got {synced}"
            synced = cli("sync", "--mapping", MAPPING, "--db", db, "--source", snapshot, "--force")
        assert synced in (0, 1), f"day {number}: sync exit {synced}"  # 1: records that fail, by design none
        exported = cli("export", "--mapping", MAPPING, "--db", db, "--out", out)
        if exported == 1 and number in (layoff_day, days // 2):  # the reorganisation: every role renamed
            exported = cli("export", "--mapping", MAPPING, "--db", db, "--out", out, "--force")
        assert exported == 0, f"day {number}: export exit {exported}"
        if number == cut_day:
            kept = (out / "Users.csv").read_text("utf-8-sig").count("\n")
            assert kept >= before.decode("utf-8-sig").count("\n"), f"day {number}: the cut-off file took persons out"
        assert cli("log", "--db", db, "--prune", "--older-than", "90") == 0
        days_taken.append((number, time.perf_counter() - began))
        if number % 30 == 0 or number == days:
            recent = [s for n, s in days_taken if n > number - 30]
            exported_persons = (out / "Users.csv").read_text("utf-8-sig").count("\n") - 1
            months.append(
                {
                    "month": (number + 29) // 30,
                    "dayMedianSeconds": round(statistics.median(recent), 4),
                    "databaseMiB": round(db.stat().st_size / 2**20, 2),
                    "persons": exported_persons,
                }
            )
    return {"persons": persons, "days": days, "months": months, "end": _compare(folder, tenant, db, out, snapshot)}


def _compare(folder: Path, tenant: Tenant, db: Path, out: Path, snapshot: Path) -> dict[str, Any]:
    fresh_db, fresh_out = folder / "fresh.db", folder / "fresh-out"
    assert cli("sync", "--mapping", MAPPING, "--db", fresh_db, "--source", snapshot) in (0, 1)
    assert cli("export", "--mapping", MAPPING, "--db", fresh_db, "--out", fresh_out) == 0
    same = all((out / name).read_bytes() == (fresh_out / name).read_bytes() for name in ("Users.csv", "Roles.csv"))
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        keys = [row[0] for row in conn.execute("SELECT externalId FROM persons")]
        active = {row[0] for row in conn.execute("SELECT externalId FROM persons WHERE scm_active = 1")}
    finally:
        conn.close()
    working = {k for k, p in tenant.staff.items() if any(c["Context"]["InConditions"] for c in p["Contracts"])}
    return {
        "sameAsFresh": same,
        "noneLostOrDoubled": len(keys) == len(set(keys)) and set(keys) <= tenant.seen and active == working,
        "personsEverSeen": len(tenant.seen),
        "personsInDatabase": len(keys),
        "activeAtTheEnd": len(active),
    }


if __name__ == "__main__":
    raise SystemExit(main())
