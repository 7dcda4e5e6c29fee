"""benchmarks/run.py runs end to end on a tiny N and reports every figure; speed is not checked."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURES = {"single_event", "batch_load", "export", "sync"}


def script(name: str, *args: str | Path, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    """One of benchmarks/ run as a process from the project root, its output captured."""
    command = [sys.executable, str(ROOT / "benchmarks" / name), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, cwd=ROOT)


def test_benchmark_smoke_run(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    done = script("run.py", "--persons", "30", "--runs", "3", "--out", out, "--tmp", tmp_path)
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text("utf-8"))

    for key in ("platform", "cpu_count", "python"):
        assert results["machine"][key]
    assert results["date"]
    assert results["parameters"]["persons"] == 30

    figures = {f["id"]: f for f in results["figures"]}
    assert set(figures) == FIGURES
    for figure in figures.values():
        if figure["status"] == "not implemented":
            # Only sync may be missing, and the table says so instead of printing a number.
            assert figure["id"] == "sync"
            assert figure["seconds"] is None
            assert "sync: not implemented yet" in done.stdout
            continue
        assert figure["status"] == "measured"
        assert figure["seconds"] > 0, figure["id"]
        assert figure["floors"], figure["id"]
        for floor in figure["floors"]:
            if figure["id"] == "export" and shutil.which("sqlite3") is None:
                assert "sqlite3" in floor["note"]  # the floor needs the sqlite3 shell; the run says so
                continue
            assert floor["seconds"] > 0, (figure["id"], floor["id"])
            assert floor["ratio"] > 0, (figure["id"], floor["id"])
            if floor["target"] is not None:
                assert floor["verdict"] in ("meets", "misses")
    assert figures["single_event"]["details"]["runs"] == 3
    assert {f["id"] for f in figures["single_event"]["floors"]} == {"a", "b", "c"}
    if shutil.which("sqlite3"):
        identical = figures["export"]["details"]["floor_files_identical"]
        assert identical == {"Users.csv": True, "Roles.csv": True}

    # The temporary folder is cleaned up: only the results file is left in tmp_path.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_the_limits_calibration_runs_and_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "limits.json"
    done = script("limits.py", "--out", out)
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text("utf-8"))
    assert set(results["measured"]) == {
        "steps_per_second",
        "step_over_plain_python_turn",
        "items_compared_per_step",
        "chars_compared_per_step",
        "honest_record_steps",
        "honest_record_share_of_default_budget",
    }
    assert all(value > 0 for value in results["measured"].values())
    assert {"re", "re2"} <= set(results["patterns"])


def test_a_short_simulated_year_ends_as_a_fresh_sync_of_its_last_day(tmp_path: Path) -> None:
    """benchmarks/year.py in its short form: 150 persons over 40 days, with the cut-off file and
    the mass departure; the last export equals a fresh sync's, nobody lost or doubled."""
    out = tmp_path / "year.json"
    done = script("year.py", "--persons", "150", "--days", "40", "--out", out, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    end = json.loads(out.read_text("utf-8"))["end"]
    assert end["sameAsFresh"] and end["noneLostOrDoubled"]
    # a joiner who leaves before the next snapshot never reaches the database
    assert 150 < end["personsInDatabase"] <= end["personsEverSeen"]
