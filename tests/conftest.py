"""Shared helpers: the real CLI (in this process, or as a subprocess), sample persons, and database readers."""

from __future__ import annotations

import copy
import io
import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MAPPING = ROOT / "mappings" / "spendcloud.yaml"
SAMPLE_EVENT = ROOT / "mappings" / "samples" / "helloid" / "create-event.json"


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


class Terminal(io.BytesIO):
    """A stream that says it is a terminal, as a console's is."""

    def isatty(self) -> bool:
        return True


def run_cli(
    *args: str | Path, input: str | bytes | None = None, env: dict[str, str] | None = None, tty: bool = False
) -> Run:
    """Runs the real CLI, `scmapper.cli.main.main`, in this process: its own stdin, stdout and stderr
    (bytes, read back as UTF-8), extra environment variables and the project root as working
    folder, all restored afterwards; with `tty`, stderr says it is a terminal. Tests about the
    process boundary use `run_process`."""
    from scmapper.cli.main import main

    data = input.encode() if isinstance(input, str) else (input or b"")
    streams = (sys.stdin, sys.stdout, sys.stderr)
    saved_env = {name: os.environ.get(name) for name in env or {}}
    cwd = os.getcwd()
    stdout, stderr = io.TextIOWrapper(io.BytesIO()), io.TextIOWrapper(Terminal() if tty else io.BytesIO())
    sys.stdin, sys.stdout, sys.stderr = io.TextIOWrapper(io.BytesIO(data)), stdout, stderr
    os.environ.update(env or {})
    os.chdir(ROOT)
    try:
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code if isinstance(exc.code, int) else 2
        out, err = (_text(stream) for stream in (stdout, stderr))
    finally:
        sys.stdin, sys.stdout, sys.stderr = streams
        os.chdir(cwd)
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return Run(code, out, err)


def _text(stream: io.TextIOWrapper) -> str:
    stream.flush()
    raw = stream.buffer
    assert isinstance(raw, io.BytesIO)
    return raw.getvalue().decode("utf-8")


def run_process(*args: str | Path, input: str | bytes | None = None, env: dict[str, str] | None = None) -> Run:
    """Runs `python -m scmapper ARGS` as a real process (exit codes, encodings, signals)."""
    data = input.encode() if isinstance(input, str) else input
    full_env = {**os.environ, **(env or {})}
    done = subprocess.run(
        [sys.executable, "-m", "scmapper", *map(str, args)],
        input=data,
        capture_output=True,
        cwd=ROOT,
        env=full_env,
        timeout=120,
        check=False,
    )
    return Run(done.returncode, done.stdout.decode(), done.stderr.decode())


def spawn(*args: str | Path, **popen: Any) -> subprocess.Popen:
    """Starts `python -m scmapper ARGS` without waiting (for tests that run several at once)."""
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([sys.executable, "-m", "scmapper", *map(str, args)], cwd=ROOT, **popen)


def helloid_event() -> dict[str, Any]:
    return json.loads(SAMPLE_EVENT.read_text("utf-8"))


def sample_person() -> dict[str, Any]:
    return copy.deepcopy(helloid_event()["personContext"]["Person"])


def make_person(external_id: str = "200001", **name: Any) -> dict[str, Any]:
    """A small HelloID person with one active contract; Name fields override."""
    person = {
        "ExternalId": external_id,
        "Name": {
            "GivenName": "Test",
            "NickName": "Test",
            "FamilyName": f"Person{external_id}",
            "FamilyNamePrefix": None,
            "FamilyNamePartner": None,
            "FamilyNamePartnerPrefix": None,
            "Convention": "B",
            **name,
        },
        "Details": {"Gender": "M"},
        "Accounts": {
            "MicrosoftActiveDirectory": {
                "sAMAccountName": f"user{external_id}",
                "userPrincipalName": f"user{external_id}@example.nl",
            }
        },
        "Contracts": [
            {
                "Context": {"InConditions": True},
                "Department": {"ExternalId": "OE-1", "DisplayName": "Afdeling 1"},
                "Title": {"ExternalId": "FP-1", "Code": "C1", "Name": "Functie 1"},
            }
        ],
    }
    return person


def native(action: str, person: dict[str, Any] | None = None, **extra: Any) -> str:
    event: dict[str, Any] = {"action": action, **extra}
    if person is not None:
        event["person"] = person
    return json.dumps(event)


def rows(db: Path, sql: str, *params: Any) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def edit(db: Path, *statements: str) -> None:
    """Changes a database behind scmapper's back (a test's way to plant bad data), committed."""
    conn = sqlite3.connect(db)
    try:
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def count(db: Path, table: str) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(db)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "spendcloud.db"


@pytest.fixture
def write(tmp_path: Path):
    """Writes text to a file in tmp_path and returns its path."""

    def _write(name: str, text: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, "utf-8")
        return path

    return _write


def open_store(path: Path, mapping: Any, *, durable: bool = False):
    """A store at path, shaped by a mapping (a Mapping), as the CLI opens one."""
    from scmapper.store import Shape, Store

    store = Store(path, durable=durable)
    store.prepare(Shape.of(mapping))
    return store


def default_mapping_data() -> dict[str, Any]:
    """The default mapping with its base merged in, as data a test can change."""
    from scmapper.mapping.loading import _load_chain
    from scmapper.mapping.trust import Root

    return copy.deepcopy(_load_chain(DEFAULT_MAPPING, Root.of(DEFAULT_MAPPING), [])[0].data)


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Each test session caches mappings in its own folder, never the developer's."""
    base = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("SCMAPPER_CACHE_DIR", str(base / "mapping-cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(base / "user-cache"))  # where the cache key lives


def write_mapping(path: Path, data: dict[str, Any]) -> Path:
    """A standalone mapping file (no extends) from data."""
    import yaml

    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=200), "utf-8")
    return path


def derived_mapping(path: Path, change) -> Path:
    """The default mapping, changed by `change(data)`, written to path."""
    data = default_mapping_data()
    change(data)
    return write_mapping(path, data)


@pytest.fixture
def interpreted(monkeypatch):
    """Every piece of a mapping run by Jinja, as before the compiler (SCMAPPER_EVALUATION)."""
    monkeypatch.setenv("SCMAPPER_EVALUATION", "interpreted")


@pytest.fixture(params=["compiled", "interpreted"])
def evaluation(request, monkeypatch):
    """The test runs twice: with the mapping compiled to Python, and with every piece in Jinja."""
    monkeypatch.setenv("SCMAPPER_EVALUATION", request.param)
    return request.param
