#!/usr/bin/env python3
"""scmapper benchmarks: every figure next to its floor, both measured in this run on this machine.

    python benchmarks/run.py --persons 100000        # the real figures
    python benchmarks/run.py --persons 200 --runs 5  # a quick smoke run

Figures (see benchmarks/README.md for what each one and its floors mean):
  1. one event as a whole process: `apply` of one create into a database holding N persons
  2. batch initial load: `apply --batch` of N persons into a new database
  3. full export: N persons and their roles to the two CSV files
  4. sync of an N snapshot with 1% changed (reported as not implemented until `sync` exists)

Prints a table (figure, time, floor, ratio, target, max RSS) and writes a JSON results file.
Every database and file lives in one temporary folder, removed at the end unless --keep.
Nothing here asserts a speed: the targets are printed as "meets" or "misses".
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import floors  # noqa: E402 - benchmarks/ is not a package

DEFAULT_MAPPING = ROOT / "mappings" / "spendcloud.yaml"
TIME_BIN = "/usr/bin/time"


# --- synthetic HelloID persons ----------------------------------------------------------------

GIVEN = {
    "M": [
        "Jan",
        "Pieter",
        "Daan",
        "Sem",
        "Thijs",
        "Bram",
        "Joris",
        "Ruben",
        "Gijs",
        "Sjoerd",
        "Wouter",
        "Mohammed",
        "Yusuf",
        "Emre",
        "Joël",
        "René",
        "Björn",
        "Seán",
        "Luuk",
        "Hendrik",
        "Kees",
        "Teun",
        "Stijn",
        "Casper",
        "Jürgen",
        "Mehmet",
        "Niels",
        "Olivier",
    ],
    "V": [
        "Sanne",
        "Fleur",
        "Zoë",
        "Anouk",
        "Eva",
        "Lotte",
        "Mila",
        "Femke",
        "Ilse",
        "Noor",
        "Maaike",
        "Lieke",
        "Inge",
        "Fatima",
        "Ayşe",
        "Siobhán",
        "Chloë",
        "Anaïs",
        "Hélène",
        "Saskia",
        "Esmée",
        "Noëlle",
        "Elif",
        "Renée",
        "Marieke",
        "Ingrid",
        "Şeyma",
        "Iris",
    ],
}
SECOND_NAMES = ["Johannes", "Maria", "Cornelis", "Petronella", "Willem", "Anna", "Hendrika", "Jacobus"]
FAMILY = [
    "Jansen",
    "Vries",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "Mulder",
    "Bos",
    "Vos",
    "Dijk",
    "Berg",
    "Hoff",
    "Brink",
    "Graaf",
    "Leeuwen",
    "Wit",
    "Boer",
    "Heuvel",
    "Hoek",
    "Laan",
    "Veen",
    "Wal",
    "Kuipers",
    "Peeters",
    "Hendriks",
    "Dekker",
    "Brouwer",
    "Çelik",
    "Yılmaz",
    "Öztürk",
    "O'Brien",
    "D'Angelo",
    "O'Neill",
    "Müller",
    "Groß",
    "Ĳzendoorn",
    "Sánchez",
    "Nguyễn",
    "Wiśniewski",
    "Øvergaard",
    "Đorđević",
    "Żółkiewski",
    "Šimůnek",
    "Ångström",
]
PREFIXES = [None, "de", "van", "van der", "van den", "van de", "van 't", "in 't", "ter", "te", "den", "op den", "'t"]
PREFIX_WEIGHTS = [50, 10, 8, 7, 5, 5, 3, 2, 2, 1, 2, 1, 1]
CONVENTIONS = ["B", "P", "BP", "PB"]
CONVENTION_WEIGHTS = [60, 15, 15, 10]
DEPARTMENTS = [
    ("OE-INK", "Inkoop & Aanbesteding"),
    ("OE-FIN", 'Financiën, "Control" & Audit'),
    ("OE-HR", "Personeel & Organisatie"),
    ("OE-ICT", "ICT"),
    ("OE-BZ", "Burgerzaken"),
    ("OE-SD", "Sociaal Domein"),
    ("OE-JO", "Jeugd & Onderwijs"),
    ("OE-OR", "Openbare Ruimte"),
    ("OE-VTH", "Vergunningen, Toezicht & Handhaving"),
    ("OE-COM", "Communicatie"),
    ("OE-BO", "Bestuursondersteuning"),
    ("OE-BEL", "Belastingen (WOZ)"),
    ("OE-JZ", "Juridische Zaken"),
    ("OE-FZ", "Facilitaire Zaken"),
    ("OE-EZ", "Economische Zaken"),
    ("OE-KCC", "Dienstverlening 'Klant Contact Centrum'"),
    ("OE-ZW", "Zorg & Welzijn"),
    ("OE-GR", "Griffie"),
    ("OE-DIV", "Documentaire Informatievoorziening"),
    ("OE-RW", "Ruimte; Wonen"),
]
TITLES = [
    ("FP-INK-02", "INK2", "Inkoper"),
    ("FP-BUD-01", "BUD1", "Budgethouder"),
    ("FP-BEL-01", "BEL1", "Beleidsmedewerker"),
    ("FP-TL-01", "TL1", "Teamleider"),
    ("FP-AH-01", "AH1", "Afdelingshoofd"),
    ("FP-BZ-01", "BZ1", "Medewerker Burgerzaken"),
    ("FP-ICT-01", "ICT1", "Servicedesk"),
    ("FP-JUR-01", "JUR1", "Jurist"),
    ("FP-CON-01", "CON1", "Controller"),
    ("FP-HR-01", "HR1", "HR-adviseur"),
    ("FP-COM-01", "COM1", "Communicatieadviseur"),
    ("FP-PL-01", "PL1", "Projectleider"),
    ("FP-TZ-01", "TZ1", "Toezichthouder"),
    ("FP-VV-01", "VV1", "Vergunningverlener"),
    ("FP-GR-01", "GR1", "Griffier"),
    ("FP-SEC-01", "SEC1", "Secretaresse"),
    ("FP-AB-01", "AB1", "Applicatiebeheerder"),
    ("FP-WC-01", "WC1", "Wijkcoördinator"),
    ("FP-AM-01", "AM1", "Accountmanager"),
    ("FP-FA-01", "FA1", "Financieel adviseur"),
]
DOMAIN = "gemeente-voorbeeld.nl"
_FOLD = str.maketrans(
    {"ß": "ss", "ı": "i", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "ĳ": "ij", "Ĳ": "IJ"}
)


def ascii_fold(text: str) -> str:
    """'Çelik' -> 'celik', "O'Brien" -> 'obrien', "van 't" -> 'vant': account-name letters."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(c for c in decomposed if c.isascii() and c.isalnum()).lower()


def _day(rng: random.Random, start: int, end: int) -> date:
    return date(start, 1, 1) + timedelta(days=rng.randrange((date(end, 12, 31) - date(start, 1, 1)).days))


class PersonFactory:
    """Deterministic HelloID persons for one seed; sAMAccountName and UPN unique (case-insensitive)."""

    def __init__(self, seed: int, total: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - synthetic test data, not secrets
        self.ids = iter(self.rng.sample(range(100_000, 100_000 + max(9 * total, 1_000)), total))
        self.sams: set[str] = set()
        self.upns: set[str] = set()

    def _unique(self, base: str, used: set[str], limit: int) -> str:
        name, n = base[:limit], 1
        while name in used:
            n += 1
            name = base[: limit - len(str(n))] + str(n)
        used.add(name)
        return name

    def person(self) -> dict[str, Any]:
        rng = self.rng
        eid = str(next(self.ids))
        gender = rng.choices(["M", "V", "X", None], [48, 48, 3, 1])[0]
        first = rng.choice(GIVEN[gender if gender in GIVEN else rng.choice("MV")])
        given = f"{first} {rng.choice(SECOND_NAMES)}" if rng.random() < 0.3 else first
        nick = first if rng.random() < 0.9 else None
        convention = rng.choices(CONVENTIONS, CONVENTION_WEIGHTS)[0]
        family = rng.choice(FAMILY)
        prefix = rng.choices(PREFIXES, PREFIX_WEIGHTS)[0]
        has_partner = convention != "B" or rng.random() < 0.2
        partner = rng.choice(FAMILY) if has_partner else None
        partner_prefix = rng.choices(PREFIXES, PREFIX_WEIGHTS)[0] if has_partner else None
        use_prefix, use_family = (partner_prefix, partner) if convention in ("P", "PB") else (prefix, family)
        assert use_family is not None  # P and PB always get a partner name
        sam = self._unique(ascii_fold(first)[:1] + ascii_fold(use_family), self.sams, 20)
        local = f"{ascii_fold(nick or first)}.{ascii_fold((use_prefix or '') + use_family)}"
        upn = self._unique(local, self.upns, 64) + "@" + DOMAIN
        shown = " ".join(p for p in (nick or first, use_prefix, use_family) if p)
        contracts = []
        for seq in range(1, rng.choices([1, 2, 3], [70, 22, 8])[0] + 1):
            dept_id, dept_name = rng.choice(DEPARTMENTS)
            title_id, code, title = rng.choice(TITLES)
            start = _day(rng, 2000, 2024)
            end = None if rng.random() < 0.8 else start + timedelta(days=rng.randrange(90, 3000))
            fte = rng.choice([0.2, 0.4, 0.5, 0.6, 0.8, 0.9, 1.0])
            contracts.append(
                {
                    "ExternalId": f"{eid}-{seq}",
                    "StartDate": f"{start.isoformat()}T00:00:00",
                    "EndDate": f"{end.isoformat()}T00:00:00" if end else None,
                    "Context": {"InConditions": rng.random() < 0.9},
                    "Department": {"ExternalId": dept_id, "DisplayName": dept_name},
                    "Title": {"ExternalId": title_id if rng.random() < 0.95 else None, "Code": code, "Name": title},
                    "Details": {"Fte": fte, "HoursPerWeek": round(36 * fte, 1), "Sequence": seq},
                }
            )
        primary = contracts[0]
        bits = [rng.getrandbits(n) for n in (32, 16, 12, 14, 48)]
        uuid = f"{bits[0]:08x}-{bits[1]:04x}-4{bits[2]:03x}-{0x8000 | bits[3]:04x}-{bits[4]:012x}"
        birth = _day(rng, 1958, 2004)
        phone = f"+31 20 555 {rng.randrange(10_000):04d}"
        return {
            "Id": uuid,
            "ExternalId": eid,
            "DisplayName": f"{shown} ({eid})",
            "Name": {
                "GivenName": given,
                "NickName": nick,
                "Initials": "".join(f"{w[0]}." for w in given.split()),
                "FamilyName": family,
                "FamilyNamePrefix": prefix,
                "FamilyNamePartner": partner,
                "FamilyNamePartnerPrefix": partner_prefix,
                "Convention": convention,
            },
            "Details": {"Gender": gender, "BirthDate": f"{birth.isoformat()}T00:00:00"},
            "Contact": {"Business": {"Email": upn, "Phone": {"Mobile": None, "Fixed": phone}}},
            "Accounts": {"MicrosoftActiveDirectory": {"sAMAccountName": sam, "userPrincipalName": upn, "mail": upn}},
            "PrimaryContract": {k: primary[k] for k in ("ExternalId", "Department", "Title")},
            "Contracts": contracts,
        }


def helloid_event(person: dict[str, Any]) -> dict[str, Any]:
    """The event the HelloID PowerShell connector passes for a create (with --action create)."""
    return {
        "actionContext": {
            "DryRun": False,
            "References": {"Account": None},
            "CorrelationConfiguration": {
                "Enabled": True,
                "accountField": "externalId",
                "accountFieldValue": person["ExternalId"],
            },
        },
        "personContext": {"Person": person},
    }


def changed_copy(person: dict[str, Any], which: int) -> dict[str, Any] | None:
    """The same person after an HR change that alters their Spend Cloud rows (for the sync
    snapshot): the department or title of a qualifying contract, or the nickname. None for a
    person without a qualifying contract, who has no roles and whom sync leaves inactive."""
    qualifying = [i for i, c in enumerate(person["Contracts"]) if c["Context"]["InConditions"]]
    if not qualifying:
        return None
    person = json.loads(json.dumps(person))
    contract = person["Contracts"][qualifying[0]]
    if which % 3 == 0:
        at = next(i for i, d in enumerate(DEPARTMENTS) if d[0] == contract["Department"]["ExternalId"])
        dept_id, dept_name = DEPARTMENTS[(at + 1) % len(DEPARTMENTS)]
        contract["Department"] = {"ExternalId": dept_id, "DisplayName": dept_name}
    elif which % 3 == 1:
        person["Name"]["NickName"] = (person["Name"]["NickName"] or person["Name"]["GivenName"].split()[0]) + "je"
    else:
        at = next(i for i, t in enumerate(TITLES) if t[2] == contract["Title"]["Name"])
        title_id, code, name = TITLES[(at + 1) % len(TITLES)]
        contract["Title"] = {"ExternalId": title_id, "Code": code, "Name": name}
    return person


# --- running child processes --------------------------------------------------------------------


class BenchError(Exception):
    pass


@dataclass
class Measured:
    seconds: float
    rss_kb: int | None
    code: int


class Runner:
    """Runs one child process: wall time around spawn-to-reap, and its peak RSS.

    RSS comes from /usr/bin/time (-f %M), which forks the command from a tiny process. Without
    it, wait4's ru_maxrss is used, which on Linux also counts the memory the child inherited
    from this (larger) process before exec: an upper bound, and the results say so.
    """

    def __init__(self, tmp: Path, env: dict[str, str] | None = None) -> None:
        self.tmp = tmp
        self.env = env  # None: this process's environment
        self.time_bin = TIME_BIN if os.access(TIME_BIN, os.X_OK) else None
        self.count = 0

    @property
    def rss_method(self) -> str:
        if self.time_bin:
            return f"{self.time_bin} -f %M (peak RSS of the command itself)"
        return "wait4 ru_maxrss (upper bound: includes what the child inherited from the runner before exec)"

    def run(
        self,
        argv: list[str | Path],
        *,
        stdin: Path | None = None,
        stdout: Path | None = None,
        rss: bool = True,
        check: bool = True,
    ) -> Measured:
        self.count += 1
        err_path = self.tmp / f"stderr-{self.count}.txt"
        rss_path = self.tmp / f"rss-{self.count}.txt"
        command = [str(a) for a in argv]
        if rss and self.time_bin:
            command = [self.time_bin, "-f", "%M", "-o", str(rss_path), *command]
        with (
            open(stdin, "rb") if stdin else open(os.devnull, "rb") as fin,
            open(stdout, "wb") if stdout else open(os.devnull, "wb") as fout,
            open(err_path, "wb") as ferr,
        ):
            start = time.perf_counter()
            child = subprocess.Popen(command, stdin=fin, stdout=fout, stderr=ferr, cwd=self.tmp, env=self.env)
            _, status, usage = os.wait4(child.pid, 0)
            seconds = time.perf_counter() - start
        child.returncode = code = os.waitstatus_to_exitcode(status)
        rss_kb = None
        if rss:
            if self.time_bin:
                lines = rss_path.read_text().split() if rss_path.exists() else []
                rss_kb = int(lines[-1]) if lines and lines[-1].isdigit() else None
            else:
                rss_kb = usage.ru_maxrss
        rss_path.unlink(missing_ok=True)
        if check and code != 0:
            tail = err_path.read_text("utf-8", "replace")[-2000:]
            raise BenchError(f"{' '.join(map(str, argv))} exited {code}:\n{tail}")
        err_path.unlink(missing_ok=True)
        return Measured(seconds, rss_kb, code)


# --- figures ------------------------------------------------------------------------------------


@dataclass
class Floor:
    id: str
    label: str
    seconds: float | None
    rss_kb: int | None = None
    target: float | None = None  # the figure meets its target when figure/floor <= target
    target_text: str = ""
    note: str = ""
    ratio: float | None = None
    verdict: str = ""


@dataclass
class Figure:
    id: str
    label: str
    command: str
    seconds: float | None
    rss_kb: int | None = None
    status: str = "measured"  # measured | not implemented | failed
    note: str = ""
    floors: list[Floor] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def rate(self) -> Figure:
        for floor in self.floors:
            if self.seconds and floor.seconds:
                floor.ratio = self.seconds / floor.seconds
                if floor.target is not None:
                    floor.verdict = "meets" if floor.ratio <= floor.target else "misses"
        return self


@dataclass
class Context:
    args: argparse.Namespace
    tmp: Path
    runner: Runner
    cli: list[str]
    mapping: Path
    python: str = sys.executable
    results: dict[str, Any] = field(default_factory=dict)

    def scm(self, *args: str | Path) -> list[str | Path]:
        return [*self.cli, *args]

    def folder(self, name: str) -> Path:
        path = self.tmp / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def count_rows(db: Path, table: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # noqa: S608 - our table names
    finally:
        conn.close()


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy through SQLite's backup API, then WAL mode as scmapper leaves it."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode = WAL")
    finally:
        src.close()
        dst.close()


def figure_batch(ctx: Context, events: Path, persons: int) -> tuple[Figure, Path]:
    """2. `apply --batch` of N persons into a new database, against writing the same rows."""
    folder = ctx.folder("batch")
    db = folder / "scmapper.db"
    argv = ctx.scm("apply", "--mapping", ctx.mapping, "--db", db, "--batch", events)
    scm = ctx.runner.run(argv, stdout=folder / "results.jsonl")
    stored = count_rows(db, "persons")
    if stored != persons:
        raise BenchError(f"batch stored {stored} persons, expected {persons}")
    rows = folder / "rows.pickle"
    ctx.runner.run([ctx.python, HERE / "floors.py", "dump", db, rows], rss=False)
    minimal = folder / "minimal.pickle"
    key, username, email = "externalId", "gebruikersnaam", "email"  # the default mapping's
    ctx.runner.run([ctx.python, HERE / "floors.py", "minimal", rows, minimal, key, username, email], rss=False)
    found = []
    for mode, label, target, text in (
        (
            "--minimal",
            "minimal schema: the product's uniqueness and audit, one transaction per person",
            2.0,
            "<= 2x",
        ),
        ("--per-person", "scmapper's own schema and rows, one transaction per person (python + sqlite3)", None, ""),
        ("--one-transaction", "the same rows, all in one transaction (reference)", None, ""),
    ):
        floor_db = folder / f"floor{mode.replace('-', '_')}.db"
        if mode == "--minimal":
            measured = ctx.runner.run([ctx.python, HERE / "floors.py", "load-minimal", minimal, floor_db])
        else:
            measured = ctx.runner.run([ctx.python, HERE / "floors.py", "load", rows, floor_db, mode])
        if count_rows(floor_db, "roles") != count_rows(db, "roles"):
            raise BenchError(f"floor {mode} wrote a different number of roles than scmapper")
        found.append(Floor(mode.strip("-"), label, measured.seconds, measured.rss_kb, target, text))
    rows.unlink()
    minimal.unlink()
    figure = Figure(
        "batch_load",
        f"batch load of {persons} persons",
        _shown(argv),
        scm.seconds,
        scm.rss_kb,
        floors=found,
        details={
            "persons": stored,
            "roles": count_rows(db, "roles"),
            "events_per_second": round(persons / scm.seconds, 1),
        },
    )
    return figure.rate(), db


def figure_export(ctx: Context, db: Path, persons: int) -> Figure:
    """3. `export --force` into a fresh folder (the first export), against the sqlite3 shell."""
    folder = ctx.folder("export")
    out = folder / "scmapper"
    argv = ctx.scm("export", "--mapping", ctx.mapping, "--db", db, "--out", out, "--force")
    scm = ctx.runner.run(argv, stdout=folder / "report.txt")
    spec = floors.export_spec(ctx.mapping)
    shell = shutil.which("sqlite3")
    details: dict[str, Any] = {}
    if shell is None:
        floor = Floor(
            "sqlite3",
            "sqlite3 shell",
            None,
            target=2.0,
            target_text="<= 2x",
            note="the sqlite3 command-line shell is missing (apt package sqlite3): no floor",
        )
    else:
        floor_out = ctx.folder("export/sqlite3")
        script = folder / "export.sql"
        script.write_text(floors.export_sql(spec, floor_out), "utf-8")
        measured = ctx.runner.run([shell, "-batch", db], stdin=script)
        floor = Floor(
            "sqlite3", "sqlite3 shell, same rows, every field quoted", measured.seconds, measured.rss_kb, 2.0, "<= 2x"
        )
        same = {}
        for kind in ("persons", "roles"):
            if spec[kind]:
                name = spec[kind]["file"]
                same[name] = (out / name).read_bytes() == (floor_out / name).read_bytes()
        details["floor_files_identical"] = same
        details["bytes"] = {p.name: p.stat().st_size for p in sorted(out.glob("*.csv"))}
    figure = Figure(
        "export",
        f"full export of {persons} persons",
        _shown(argv),
        scm.seconds,
        scm.rss_kb,
        floors=[floor],
        details=details,
    )
    return figure.rate()


# Sync: `scmapper sync --help` failing means the command does not exist (yet): the figure
# then says "sync: not implemented yet". The snapshot is JSON lines of bare HelloID persons.
def sync_available(ctx: Context) -> bool:
    probe = ctx.runner.run(ctx.scm("sync", "--help"), rss=False, check=False)
    return probe.code == 0


def sync_command(ctx: Context, db: Path, snapshot: Path) -> list[str | Path]:
    return ctx.scm("sync", "--mapping", ctx.mapping, "--db", db, "--source", snapshot, "--json")


def write_snapshots(ctx: Context, same: Path, changed: Path, persons: int, every: int = 100) -> int:
    """The same N persons (same seed) twice: as they are, and with one in `every` changed (1%).
    A person due for a change who has no qualifying contract passes it on to the next one."""
    factory = PersonFactory(ctx.args.seed, persons + ctx.args.runs + 1)
    done = due = 0
    with same.open("w", encoding="utf-8") as plain, changed.open("w", encoding="utf-8") as edited:
        for i in range(persons):
            person = factory.person()
            line = json.dumps(person, ensure_ascii=False) + "\n"
            plain.write(line)
            due += i % every == every - 1
            other = changed_copy(person, done) if due else None
            if other is not None:
                line, done, due = json.dumps(other, ensure_ascii=False) + "\n", done + 1, due - 1
            edited.write(line)
    return done


def figure_sync(ctx: Context, base: Path | None, persons: int, export: Figure) -> Figure:
    """4. sync of the N snapshot with 1% changed into the N database, against this run's export."""
    label = f"sync of {persons} persons, 1% changed"
    floor = Floor("export", "full export of the same N (figure 3)", export.seconds, export.rss_kb, 2.0, "< 2x")
    if base is None:
        return Figure(
            "sync",
            label,
            "scmapper sync",
            None,
            status="not implemented",
            note="sync: not implemented yet",
            floors=[floor],
        )
    folder = ctx.folder("sync")
    same, snapshot = folder / "snapshot-same.jsonl", folder / "snapshot-changed.jsonl"
    changed = write_snapshots(ctx, same, snapshot, persons)
    # Untimed: settle the database to the state sync keeps (apply creates persons without a
    # qualifying contract as active with a warning; sync disables them). --force: that first
    # pass may disable more than the removal threshold allows.
    settle = folder / "settle.json"
    ctx.runner.run([*sync_command(ctx, base, same), "--force"], stdout=settle, rss=False)
    settled = json.loads(settle.read_text("utf-8")).get("counts", {})
    argv = sync_command(ctx, base, snapshot)
    out = folder / "sync.json"
    scm = ctx.runner.run(argv, stdout=out)
    counts = json.loads(out.read_text("utf-8")).get("counts", {})
    others = {k: v for k, v in counts.items() if k not in ("updated", "unchanged", "skipped") and v}
    if counts.get("updated") != changed or others:
        raise BenchError(f"sync should update exactly the {changed} changed persons; it reported {counts}")
    figure = Figure(
        "sync",
        label,
        _shown(argv),
        scm.seconds,
        scm.rss_kb,
        floors=[floor],
        details={"changed_persons": changed, "counts": counts, "settle_counts": settled},
    )
    return figure.rate()


def figure_single(ctx: Context, db: Path, extra: list[dict[str, Any]], persons: int) -> Figure:
    """1. One `apply` process per new person into the N database, against three floors,
    interleaved round by round; the first round warms up (and measures RSS) and is not counted."""
    folder = ctx.folder("single")
    copies = {"b": folder / "floor_b.db", "c": folder / "floor_c.db"}
    for target in copies.values():
        copy_database(db, target)
    times: dict[str, list[float]] = {"scmapper": [], "a": [], "b": [], "c": []}
    rss: dict[str, int | None] = {}
    for round_no, person in enumerate(extra):
        warm = round_no == 0
        event = folder / f"event-{round_no}.json"
        event.write_text(json.dumps(helloid_event(person), ensure_ascii=False), "utf-8")
        argv = ctx.scm("apply", "--mapping", ctx.mapping, "--db", db, "--action", "create", event)
        out = folder / "result.json"
        scm = ctx.runner.run(argv, stdout=out, rss=warm)
        result = json.loads(out.read_text("utf-8"))
        if not (result.get("success") and result.get("changed") and not result.get("accountCorrelated")):
            raise BenchError(f"apply did not create {person['ExternalId']}: {result.get('auditLogs')}")
        rows = floors.person_rows(db, person["ExternalId"])
        scripts = {}
        for name, jinja in (("b", False), ("c", True)):
            scripts[name] = folder / f"floor_{name}_{round_no}.py"
            scripts[name].write_text(floors.single_event_script(copies[name], rows, jinja=jinja), "utf-8")
        floor_argv: dict[str, list[str | Path]] = {
            "a": [ctx.python, "-c", "pass"],
            "b": [ctx.python, scripts["b"]],
            "c": [ctx.python, scripts["c"]],
        }
        order = ["a", "b", "c"]
        order = order[round_no % 3 :] + order[: round_no % 3]  # no floor always runs right after scmapper
        measured = {"scmapper": scm}
        for name in order:
            measured[name] = ctx.runner.run(floor_argv[name], rss=warm)
        for name, m in measured.items():
            if warm:
                rss[name] = m.rss_kb
            else:
                times[name].append(m.seconds)
    median = {name: statistics.median(values) for name, values in times.items()}
    argv_text = _shown(ctx.scm("apply", "--mapping", ctx.mapping, "--db", "DB", "--action", "create", "EVENT.json"))
    found = [
        Floor("a", "(a) python -c pass", median["a"], rss["a"]),
        Floor("b", "(b) minimal script: same rows, one transaction", median["b"], rss["b"], 2.0, "<= 2x (stretch)"),
        Floor("c", "(c) (b) + import jinja2", median["c"], rss["c"], 1.25, "<= 1.25x"),
    ]
    figure = Figure(
        "single_event",
        f"one event, whole process (N={persons})",
        argv_text,
        median["scmapper"],
        rss["scmapper"],
        floors=found,
        details={
            "runs": len(times["scmapper"]),
            "statistic": "median",
            "warmup_runs": 1,
            "seconds": {k: [round(v, 6) for v in vs] for k, vs in times.items()},
            "min": {k: min(vs) for k, vs in times.items()},
        },
    )
    return figure.rate()


def apply_breakdown(ctx: Context) -> dict[str, Any]:
    """Where `apply` spends its start-up: -X importtime of the apply path, and load_rules."""
    folder = ctx.folder("importtime")
    code = (
        "import scmapper.cli.main\nfrom scmapper import store\nfrom scmapper.lifecycle import actions, events, runner\n"
        "from scmapper.mapping.loading import load_rules\n"
    )
    report: dict[str, Any] = {"code": code}
    err = folder / "importtime.txt"
    try:
        with err.open("wb") as handle:
            subprocess.run(
                [ctx.python, "-X", "importtime", "-c", code], stderr=handle, check=True, cwd=ctx.tmp, env=ctx.runner.env
            )
    except subprocess.CalledProcessError as exc:
        return {"error": f"python -X importtime failed ({exc.returncode})"}
    top: list[tuple[int, str]] = []
    for line in err.read_text().splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line[len("import time:") :].split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2]
        if name.startswith(" ") and not name.startswith("  "):  # top level: one space of indent
            top.append((int(parts[1]), name.strip()))
    top.sort(reverse=True)
    report["total_ms"] = round(sum(us for us, _ in top) / 1000, 1)
    report["top_level_ms"] = {name: round(us / 1000, 1) for us, name in top[:8]}
    timing = (
        "import time\nt0 = time.perf_counter()\n" + code + "t1 = time.perf_counter()\n"
        f"load_rules({str(ctx.mapping)!r})\nt2 = time.perf_counter()\nprint(t1 - t0, t2 - t1)\n"
    )
    samples = []
    for _ in range(5):
        done = subprocess.run(
            [ctx.python, "-c", timing], capture_output=True, text=True, check=True, cwd=ctx.tmp, env=ctx.runner.env
        )
        samples.append(tuple(map(float, done.stdout.split())))
    report["imports_ms_median"] = round(statistics.median(s[0] for s in samples) * 1000, 1)
    report["load_rules_ms_median"] = round(statistics.median(s[1] for s in samples) * 1000, 1)
    return report


# --- machine, table, main ---------------------------------------------------------------------


def _shown(argv: Sequence[str | Path]) -> str:
    words = [str(a) for a in argv]
    if words[:3] == [sys.executable, "-m", "scmapper"]:
        words[:3] = ["python", "-m", "scmapper"]
    return " ".join(words)


def _filesystem(path: Path) -> str:
    best, kind = "", "unknown"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) > 2 and str(path).startswith(parts[1].rstrip("/") + "/") and len(parts[1]) > len(best):
                best, kind = parts[1], parts[2]
    except OSError:
        pass
    return kind


def machine(tmp: Path) -> dict[str, Any]:
    shell = shutil.which("sqlite3")
    cli_version = None
    if shell:
        cli_version = subprocess.run([shell, "--version"], capture_output=True, text=True).stdout.split(" ")[0]
    model = ""
    try:
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    except OSError:
        pass
    memory = None
    try:
        memory = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20)
    except (ValueError, OSError):
        pass
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": model or platform.processor(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_mb": memory,
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "sqlite_library": sqlite3.sqlite_version,
        "sqlite3_cli": cli_version or "missing (apt package sqlite3)",
        "temp_filesystem": _filesystem(tmp),
    }


def frozen_code(rev: str, target: Path) -> tuple[Path, dict[str, Any]]:
    """scmapper (with its schemas and mappings) as of commit `rev`, extracted and byte-compiled."""
    done = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev, "scmapper", "schemas", "mappings"],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"cannot extract commit {rev}: {done.stderr.decode(errors='replace').strip()}")
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        archive.extractall(target, filter="data")
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(target / "scmapper")], check=True)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", rev], capture_output=True, text=True)
    return target, {"commit": commit.stdout.strip(), "scmapper_modified": False, "extracted": True}


def source_state() -> dict[str, Any]:
    """The commit scmapper's code comes from, and whether the working tree differs from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    changed = git("status", "--porcelain", "--untracked-files=no", "--", "scmapper")
    return {"commit": git("rev-parse", "--short", "HEAD") or None, "scmapper_modified": bool(changed)}


def _time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _rss(kb: int | None) -> str:
    return "-" if kb is None else f"{kb / 1024:.0f} MB"


def table(figures: list[Figure]) -> str:
    head = ("figure", "time", "max RSS", "floor", "floor time", "floor RSS", "ratio", "target", "")
    rows: list[tuple[str, ...]] = []
    for fig in figures:
        first = (fig.label, _time(fig.seconds) if fig.status == "measured" else fig.note, _rss(fig.rss_kb))
        for i, floor in enumerate(fig.floors or [Floor("", "", None)]):
            ratio = f"{floor.ratio:.2f}x" if floor.ratio else "-"
            verdict = floor.verdict or ("-" if floor.target is None else "n/a")
            label = floor.label + (f" [{floor.note}]" if floor.note else "")
            rows.append(
                (
                    *(first if i == 0 else ("", "", "")),
                    label,
                    _time(floor.seconds),
                    _rss(floor.rss_kb),
                    ratio,
                    floor.target_text or "-",
                    verdict,
                )
            )
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([line(head), line(tuple("-" * w for w in widths)), *map(line, rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=2000, help="N, the size of every figure (default 2000)")
    parser.add_argument("--runs", type=int, default=20, help="runs of the single event; the median counts (default 20)")
    parser.add_argument(
        "--out", type=Path, default=HERE / "results.json", help="results file (default benchmarks/results.json)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and print where it is")
    parser.add_argument("--seed", type=int, default=20261126, help="seed for the synthetic persons")
    parser.add_argument(
        "--mapping",
        type=Path,
        default=None,
        help="mapping file (default mappings/spendcloud.yaml, of --commit when given)",
    )
    parser.add_argument(
        "--commit",
        metavar="REV",
        default=None,
        help="benchmark scmapper as of this git commit (extracted into the temporary folder and put"
        " first on PYTHONPATH), not the working tree an editable install imports",
    )
    parser.add_argument(
        "--cli",
        choices=("module", "script"),
        default="module",
        help="run scmapper as `python -m scmapper` (default) or as the installed console script",
    )
    parser.add_argument("--tmp", type=Path, default=None, help="parent folder for the temporary folder")
    args = parser.parse_args(argv)
    if args.persons < 1 or args.runs < 1:
        parser.error("--persons and --runs must be at least 1")
    if args.cli == "module":
        cli = [sys.executable, "-m", "scmapper"]
    else:
        script = Path(sys.executable).parent / "scmapper"
        if not script.exists():
            parser.error(f"no console script at {script}; install scmapper into this Python")
        cli = [str(script)]

    started = time.perf_counter()
    source = source_state()
    tmp = Path(tempfile.mkdtemp(prefix="scmapper-bench-", dir=args.tmp))
    env = None
    mapping = args.mapping or DEFAULT_MAPPING
    try:
        if args.commit:
            code, source = frozen_code(args.commit, tmp / "code")
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(code), os.environ.get("PYTHONPATH")]))}
            sys.path.insert(0, str(code))  # floors.export_spec loads the mapping with the same code
            mapping = args.mapping or code / "mappings" / "spendcloud.yaml"
    except BenchError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        parser.error(str(exc))
    ctx = Context(args, tmp, Runner(tmp, env), cli, mapping.resolve())
    try:
        figures, extra_info = run_all(ctx)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        if not args.keep:
            print(f"(rerun with --keep to inspect the files; this run's were in {tmp})", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    info = machine(tmp)
    results = {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": info,
        "source_at_start": source,
        "source_at_end": source if args.commit else source_state(),
        "parameters": {
            "persons": args.persons,
            "runs": args.runs,
            "seed": args.seed,
            "cli": _shown(cli),
            "mapping": str(mapping),
            "commit": args.commit,
        },
        "rss_method": ctx.runner.rss_method,
        **extra_info,
        "figures": [asdict(f) for f in figures],
        "elapsed_seconds": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", "utf-8")

    print(
        f"scmapper benchmarks: N={args.persons}, single event median of {args.runs} runs, scmapper run as"
        f" `{_shown(cli)}`"
    )
    print(
        f"{info['platform']}, {info['cpu_count']} CPUs ({info['cpu_model']}), Python {info['python']},"
        f" SQLite {info['sqlite_library']}, sqlite3 shell {info['sqlite3_cli']}, temp on {info['temp_filesystem']}"
    )
    print()
    print(table(figures))
    breakdown = extra_info.get("apply_startup", {})
    if "total_ms" in breakdown:
        top = ", ".join(f"{k} {v} ms" for k, v in list(breakdown["top_level_ms"].items())[:5])
        print(
            f"\napply start-up: imports {breakdown['imports_ms_median']} ms, load_rules (mapping) "
            f"{breakdown['load_rules_ms_median']} ms; -X importtime top level: {top}"
        )
    for fig in figures:
        same = fig.details.get("floor_files_identical")
        if same:
            print(
                "export floor files byte-identical to scmapper's: "
                + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in same.items())
            )
    if info["temp_filesystem"] == "tmpfs":
        print("WARNING: the temporary folder is on tmpfs, where fsync costs nothing; use --tmp on a disk")
    print(f"\nresults: {args.out} ({results['elapsed_seconds']} s)")
    if args.keep:
        print(f"kept the temporary folder {tmp}")
    failed = [f.id for f in figures if f.status == "failed"]
    if failed:
        print(f"failed figures: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def guarded(measure: Callable[[], Figure], figure_id: str, label: str) -> Figure:
    """One figure; a failure is reported in its row (and the exit code) instead of losing the run."""
    try:
        return measure()
    except Exception as exc:  # noqa: BLE001 - a long run keeps the figures it has
        message = f"{type(exc).__name__}: {exc}"
        print(f"benchmark {figure_id} failed: {message}", file=sys.stderr)
        return Figure(
            figure_id, label, "", None, status="failed", note="FAILED (see results)", details={"error": message[-4000:]}
        )


def run_all(ctx: Context) -> tuple[list[Figure], dict[str, Any]]:
    args = ctx.args
    n, runs = args.persons, args.runs
    # One stream of persons: N for the batch, then runs+1 new ones for the single events.
    factory = PersonFactory(args.seed, n + runs + 1)
    events = ctx.tmp / "events.jsonl"
    contracts = in_conditions = 0
    with events.open("w", encoding="utf-8") as handle:
        for _ in range(n):
            person = factory.person()
            contracts += len(person["Contracts"])
            in_conditions += sum(c["Context"]["InConditions"] for c in person["Contracts"])
            handle.write(json.dumps({"action": "create", "person": person}, ensure_ascii=False) + "\n")
    extra = [factory.person() for _ in range(runs + 1)]
    generated = {
        "persons": n,
        "contracts": contracts,
        "contracts_in_conditions": in_conditions,
        "events_file_bytes": events.stat().st_size,
    }

    ctx.runner.run(ctx.scm("--version"), rss=False)  # byte-compiles what needs it, outside any figure
    has_sync = sync_available(ctx)
    batch, db = figure_batch(ctx, events, n)
    export = guarded(lambda: figure_export(ctx, db, n), "export", f"full export of {n} persons")
    sync_base = None
    if has_sync:
        sync_base = ctx.folder("sync") / "base.db"
        copy_database(db, sync_base)
    sync = guarded(lambda: figure_sync(ctx, sync_base, n, export), "sync", f"sync of {n} persons, 1% changed")
    single = guarded(lambda: figure_single(ctx, db, extra, n), "single_event", f"one event, whole process (N={n})")
    figures = [single, batch, export, sync]
    return figures, {"generated": generated, "apply_startup": apply_breakdown(ctx)}


if __name__ == "__main__":
    sys.exit(main())
