"""Progress on a terminal and the closing summary line: the meter itself, `apply --batch` on a
real pseudo-terminal, and sync and export with a stderr that says it is a terminal."""

import io
import json
import os
import re
import select
import subprocess
import sys

import pytest

from scmapper.core import progress
from scmapper.core.progress import Meter, Meters

from conftest import DEFAULT_MAPPING, ROOT, make_person, native, run_cli

FRAME = re.compile(r"\[[#.]{24}\] +\d+%  [\d,]+ \w+  [\d,]+ \w+/s  \d+:\d\d left")


class Screen(io.StringIO):
    def isatty(self):
        return True


def clock(step):
    ticks = iter(range(100_000))
    return lambda: next(ticks) * step


def test_a_meter_without_a_stream_counts_and_draws_nothing():
    meter = Meter("export", 10, "rows", None, clock=clock(1))
    assert list(meter.track(["a", "bb", "ccc"], len)) == ["a", "bb", "ccc"]
    assert (meter.items, meter.amount, meter.live) == (6, 6, False)
    meter.close()  # nothing to wipe, nothing written anywhere


def test_a_meter_of_unknown_total_shows_count_and_rate():
    screen = Screen()
    meter = Meter("sync: reading", None, "records", screen, clock=clock(0.5))
    meter.advance(1500)
    assert screen.getvalue() == "\rsync: reading  1,500 records  3,000 records/s"
    meter.close()
    assert screen.getvalue().endswith("\r" + " " * len("sync: reading  1,500 records  3,000 records/s") + "\r")


def test_bytes_are_shown_in_units_and_a_shorter_line_wipes_the_longer():
    screen = Screen()
    meter = Meter("upload", 4_000_000, "bytes", screen, clock=clock(1))
    meter.advance(2_500_000)
    first = "upload [###############.........]  62%  2.5 MB  2.5 MB/s  0:01 left"
    assert screen.getvalue() == "\r" + first
    meter.advance(1_500_000)
    second = "upload [########################] 100%  4.0 MB  2.0 MB/s  0:00 left"
    assert screen.getvalue() == "\r" + first + "\r" + second + " " * (len(first) - len(second))


def test_the_summary_gives_counts_time_and_rate():
    out = io.StringIO()
    meters = Meters(None, out, clock=clock(2.5))
    meters.summary("export: 4 persons and 5 roles written as export #1", 9, "rows")
    assert out.getvalue() == "scmapper: export: 4 persons and 5 roles written as export #1 in 2.5 s (4 rows/s)\n"
    quick = io.StringIO()
    Meters(None, quick, clock=clock(0.25)).summary("sync: 3 records read, 1 change made", 3, "records")
    assert quick.getvalue() == "scmapper: sync: 3 records read, 1 change made in 250 ms (12 records/s)\n"
    Meters(None, None).summary("nothing", 1, "rows")  # --json: no summary at all


@pytest.mark.skipif(os.name == "nt", reason="pseudo-terminals are POSIX; the agent's console is tested by hand")
def test_apply_batch_draws_a_bar_on_a_terminal_and_ends_with_a_summary(tmp_path):
    import pty

    events = tmp_path / "events.jsonl"
    events.write_text("".join(native("create", make_person(str(i))) + "\n" for i in range(1500)))
    master, slave = pty.openpty()
    with open(tmp_path / "results.jsonl", "wb") as results:
        command = [sys.executable, "-m", "scmapper", "apply", "--mapping", DEFAULT_MAPPING, "--db", tmp_path / "sc.db"]
        process = subprocess.Popen([*map(str, command), "--batch", str(events)], stdout=results, stderr=slave, cwd=ROOT)
    os.close(slave)
    screen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        try:
            chunk = os.read(master, 65536) if ready else b""
        except OSError:  # the terminal closed with the process (EIO)
            break
        if not chunk:
            break
        screen += chunk
    os.close(master)
    assert process.wait(timeout=60) == 0
    text = screen.decode("utf-8")
    frames = [part for part in text.split("\r") if part.startswith("apply events.jsonl [")]
    assert frames and all(FRAME.search(f) for f in frames), text
    summary = re.search(r"scmapper: 1500 events: 1500 succeeded, 0 failed, 1500 changed the database in (.*)", text)
    assert summary and re.fullmatch(r"[\d.]+ m?s \([\d,]+ events/s\)\s*", summary.group(1)), text
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == 1500  # stdout keeps its JSON lines


def test_apply_batch_off_a_terminal_prints_only_the_summary(tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_text(native("create", make_person("1")) + "\n")
    result = run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", tmp_path / "sc.db", "--batch", events)
    assert result.code == 0 and "\r" not in result.err
    assert re.fullmatch(
        r"scmapper: 1 events: 1 succeeded, 0 failed, 1 changed the database in .* events/s\)\n", result.err
    )


@pytest.fixture
def every_frame(monkeypatch):
    """Redraw on every step: these runs finish well inside one redraw interval."""
    monkeypatch.setattr(progress, "INTERVAL", 0)


def snapshot(tmp_path, count):
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps([make_person(str(i)) for i in range(count)]))
    return path


def test_sync_and_export_draw_on_a_terminal(tmp_path, every_frame):
    db, out = tmp_path / "sc.db", tmp_path / "out"
    synced = run_cli("sync", "--mapping", DEFAULT_MAPPING, "--db", db, "--source", snapshot(tmp_path, 30), tty=True)
    assert synced.code == 0
    reading = [f for f in synced.err.split("\r") if f.startswith("sync: reading")]
    applying = [f for f in synced.err.split("\r") if f.startswith("sync: applying [")]
    assert reading[-1].rstrip().startswith("sync: reading  30 records  ")
    assert FRAME.search(applying[-1]) and " 100%  30 changes  " in applying[-1]
    assert re.search(
        r"\r *\rscmapper: sync: 30 records read, 30 changes made in .* records/s\)\n$", synced.err
    )  # bar wiped first
    exported = run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", db, "--out", out, tty=True)
    assert exported.code == 0
    frames = [f for f in exported.err.split("\r") if f.startswith("export [")]
    assert FRAME.search(frames[-1]) and " 100%  60 rows  " in frames[-1]  # 30 persons, 30 roles
    assert "scmapper: export: 30 persons and 30 roles written as export #1 in " in exported.err


def test_json_and_a_pipe_get_no_bar(tmp_path, every_frame):
    db, source = tmp_path / "sc.db", snapshot(tmp_path, 3)
    quiet = run_cli("sync", "--mapping", DEFAULT_MAPPING, "--db", db, "--source", source, "--json", tty=True)
    assert quiet.code == 0 and quiet.err == "" and quiet.json["counts"]["created"] == 3
    piped = run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", db, "--out", tmp_path / "out")
    assert piped.code == 0 and "\r" not in piped.err and "scmapper: export: 3 persons and 3 roles written" in piped.err
    as_json = run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", db, "--out", tmp_path / "out", "--json", tty=True)
    assert as_json.code == 0 and as_json.err == ""
