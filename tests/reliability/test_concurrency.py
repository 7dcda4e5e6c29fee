"""Eight agents at once against one database: nothing lost, nothing locked out, same result as serial."""

import json
import random
import subprocess
import time

from .helpers import atomic, fingerprint, integrity, person, workload
from conftest import DEFAULT_MAPPING, run_cli, spawn

WORKERS, PER_WORKER, PEOPLE = 8, 250, 90


def batch(db, path, stdout=subprocess.PIPE):
    return spawn("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "--batch", path, stdout=stdout)


def test_eight_agents_at_once_equal_one_serial_run(tmp_path):
    lists = workload(random.Random(20261126), WORKERS, PER_WORKER, PEOPLE)
    files = []
    for number, events in enumerate(lists):
        path = tmp_path / f"worker{number}.jsonl"
        path.write_text("\n".join(events) + "\n", "utf-8")
        files.append(path)
    parallel = tmp_path / "parallel.db"
    procs = [batch(parallel, path) for path in files]
    outputs = [p.communicate(timeout=300) for p in procs]
    for events, (out, err) in zip(lists, outputs, strict=True):
        results = [json.loads(line) for line in out.decode().splitlines()]
        assert len(results) == len(events)  # every event got a result
        text = out.decode() + err.decode()
        assert "locked" not in text and "internal error" not in text
        failures = {r["auditLogs"][0]["message"].split(":")[0] for r in results if not r["success"]}
        assert failures <= {"cannot update", "cannot disable", "cannot delete"}, failures  # only "not there yet"
    serial = tmp_path / "serial.db"
    together = tmp_path / "all.jsonl"
    together.write_text("".join(path.read_text("utf-8") for path in files), "utf-8")
    done = batch(serial, together)
    done.communicate(timeout=300)
    assert integrity(parallel) == "ok"
    assert atomic(parallel) == []
    assert fingerprint(parallel) == fingerprint(serial)
    assert fingerprint(parallel)["persons"], "the workload wrote nothing"


def test_export_during_applies_sees_one_moment(tmp_path):
    """A person's username and their roles' usernames change together; an export that read
    them at different moments would hold roles that belong to nobody (and refuse)."""
    db = tmp_path / "sc.db"
    first = tmp_path / "first.jsonl"
    first.write_text(
        "\n".join(json.dumps({"action": "create", "person": person(n, username=f"u{n}-0")}) for n in range(60)) + "\n"
    )
    assert run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "--batch", first).code == 0
    renames = tmp_path / "renames.jsonl"
    renames.write_text(
        "\n".join(
            json.dumps({"action": "update", "accountReference": str(n), "person": person(n, username=f"u{n}-{round_}")})
            for round_ in range(1, 40)
            for n in range(60)
        )
        + "\n"
    )
    results = (tmp_path / "results.jsonl").open("wb")  # not a pipe: nobody reads it while we export
    writer = batch(db, renames, stdout=results)
    exports = 0
    deadline = time.monotonic() + 60
    while writer.poll() is None and time.monotonic() < deadline:
        out = tmp_path / f"out{exports}"
        result = run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", db, "--out", out, "--force", "--json")
        assert result.code == 0, result.out[-2000:]
        exports += 1
        users = {
            line.split(";")[-1].strip('"\r') for line in (out / "Users.csv").read_text("utf-8-sig").splitlines()[1:]
        }
        roles = {line.split(",")[1].strip('"') for line in (out / "Roles.csv").read_text("utf-8-sig").splitlines()[1:]}
        assert roles <= users
    writer.communicate(timeout=120)
    results.close()
    assert writer.returncode == 0
    assert exports >= 1
