"""Power cuts, simulated with SIGKILL at random moments: the database stays whole, every event
is all or nothing, and running the same input again converges on the uninterrupted result."""

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from .helpers import atomic, fingerprint, integrity, person
from conftest import DEFAULT_MAPPING, ROOT, count, rows, run_cli, run_process, spawn

# Kill rounds per test: a few by default, the full 50 in CI (.ci/run sets SCMAPPER_KILLS).
KILLS = int(os.environ.get("SCMAPPER_KILLS", "6"))
RNG = random.Random(4711)


def timed(args):
    """Seconds an uninterrupted run of the command takes here as a process, the way the runs to
    be killed start (kill moments scale with it)."""
    began = time.monotonic()
    result = run_process(*args)
    return time.monotonic() - began, result


def kill_at_random(args, tmp_path, duration):
    """Starts the command and kills it with SIGKILL somewhere between 10% and 75% of the time
    an uninterrupted run took; True if it was still running and so really killed. (Not up to
    the end: the timed run may have met a busier machine than this one does.)"""
    window = (0.1 * duration, 0.75 * duration)
    with (tmp_path / "out.log").open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "scmapper", *map(str, args)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
        time.sleep(RNG.uniform(*window))
        killed = proc.poll() is None
        if killed:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
    return killed


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    """Creates, then updates that change names, usernames and roles, then disables."""
    folder = tmp_path_factory.mktemp("crash")
    lines = [json.dumps({"action": "create", "person": person(n)}) for n in range(600)]
    lines += [
        json.dumps(
            {"action": "update", "accountReference": str(n), "person": person(n, nick="Later", username=f"later{n}")}
        )
        for n in range(0, 600, 2)
    ]
    lines += [json.dumps({"action": "disable", "accountReference": str(n)}) for n in range(0, 600, 5)]
    path = folder / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    reference = folder / "reference.db"
    duration, result = timed(["apply", "--mapping", DEFAULT_MAPPING, "--db", reference, "--batch", path])
    assert result.code == 0
    return path, fingerprint(reference), duration


def test_batch_apply_killed_at_random_points(events, tmp_path):
    path, expected, duration = events
    killed = 0
    for attempt in range(KILLS):
        db = tmp_path / f"kill{attempt}.db"
        killed += kill_at_random(
            ["apply", "--mapping", DEFAULT_MAPPING, "--db", db, "--batch", path], tmp_path, duration
        )
        if not db.exists():
            continue
        assert integrity(db) == "ok"
        assert atomic(db) == [], f"attempt {attempt}: half an event in the database"
        rerun = run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "--batch", path)
        assert rerun.code == 0, rerun.err
        assert fingerprint(db) == expected, f"attempt {attempt}: the rerun did not converge"
    assert killed >= KILLS // 2, "most runs must really be killed mid-way"


def snapshot_file(folder, day, people):
    path = folder / f"{day}.json"
    path.write_text(json.dumps([person(n, nick=day) for n in people]))
    return path


def test_sync_killed_at_random_points(tmp_path):
    first = snapshot_file(tmp_path, "monday", range(1500))
    second = snapshot_file(tmp_path, "tuesday", range(5, 1500))  # 5 leave, everyone else changes
    monday = tmp_path / "monday.db"
    assert run_cli("sync", "--mapping", DEFAULT_MAPPING, "--db", monday, "--source", first).code == 0
    reference = tmp_path / "reference.db"
    shutil.copy(monday, reference)
    duration, _ = timed(["sync", "--mapping", DEFAULT_MAPPING, "--db", reference, "--source", second])
    expected = fingerprint(reference)
    killed = 0
    for attempt in range(KILLS):
        db = tmp_path / f"kill{attempt}.db"
        shutil.copy(monday, db)  # monday's state, checkpointed: the database file alone holds it
        killed += kill_at_random(
            ["sync", "--mapping", DEFAULT_MAPPING, "--db", db, "--source", second], tmp_path, duration
        )
        assert integrity(db) == "ok"
        assert atomic(db) == [], f"attempt {attempt}: half an event in the database"
        assert run_cli("sync", "--mapping", DEFAULT_MAPPING, "--db", db, "--source", second).code == 0
        assert fingerprint(db) == expected, f"attempt {attempt}: the rerun did not converge"
    assert killed >= KILLS // 2


def test_export_killed_at_random_points_never_leaves_a_partial_file(tmp_path):
    db = tmp_path / "sc.db"
    lines = [json.dumps({"action": "create", "person": person(n)}) for n in range(3000)]
    (tmp_path / "events.jsonl").write_text("\n".join(lines) + "\n")
    assert run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "--batch", tmp_path / "events.jsonl").code == 0
    out = tmp_path / "out"
    duration, result = timed(["export", "--mapping", DEFAULT_MAPPING, "--db", db, "--out", out])
    assert result.code == 0
    import sqlite3

    for attempt in range(KILLS // 2):
        kill_at_random(
            ["export", "--mapping", DEFAULT_MAPPING, "--db", db, "--out", out, "--force"], tmp_path, duration
        )
        conn = sqlite3.connect(db)
        recorded = [(status, json.loads(files)) for status, files in conn.execute("SELECT status, files FROM exports")]
        conn.close()
        hashes = {name: set() for name in ("Users.csv", "Roles.csv")}
        for _, files in recorded:
            for item in files:
                hashes[item["name"]].add(item["sha256"])
        import hashlib

        for name, known in hashes.items():
            digest = hashlib.sha256((out / name).read_bytes()).hexdigest()
            assert digest in known, f"attempt {attempt}: {name} under its final name is not a whole recorded export"
        users = hashlib.sha256((out / "Users.csv").read_bytes()).hexdigest()
        roles = hashlib.sha256((out / "Roles.csv").read_bytes()).hexdigest()
        pair = [(status, {f["name"]: f["sha256"] for f in files}) for status, files in recorded]
        same_export = any(f.get("Users.csv") == users and f.get("Roles.csv") == roles for _, f in pair)
        interrupted = any(status == "writing" for status, _ in pair)
        assert same_export or interrupted, f"attempt {attempt}: a mixed pair without the history saying so"


def test_ctrl_c_during_a_batch_says_how_far_it_got_and_logs_it(tmp_path):
    """Ctrl+C (SIGINT) mid-batch: exit 130, a message naming how many events are committed, and
    an audit entry; the database holds exactly those events, and a rerun finishes the rest."""
    lines = [json.dumps({"action": "create", "person": person(n)}) for n in range(3000)]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    db = tmp_path / "ctrl-c.db"
    proc = spawn("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "--batch", path)
    seen = 0
    while seen < 20:  # some events are through: then the user presses Ctrl+C
        if proc.stdout.readline():
            seen += 1
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    done = re.search(rb"apply --batch interrupted after ([\d,]+) events; those are committed", err)
    assert done is not None, err
    committed = int(done.group(1).replace(b",", b""))
    assert 20 <= committed < 3000
    assert count(db, "persons") == committed
    logged = rows(db, "SELECT message FROM events WHERE action = 'BatchInterrupted'")
    assert len(logged) == 1 and f"after {committed:,} events" in logged[0]["message"]
    rerun = run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "--batch", path)
    assert rerun.code == 0 and count(db, "persons") == 3000
