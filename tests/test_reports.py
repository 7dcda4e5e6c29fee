"""Reports tested as objects, not only through the CLI: what `text()` tells a person and what
`as_dict()` tells a machine must say the same thing."""

import json

from scmapper.core.diff import Diff, threshold
from scmapper.core.reports import emit, section
from scmapper.errors import Problem
from scmapper.export.pipeline import ExportReport
from scmapper.lifecycle.syncreport import SyncReport
from scmapper.mapping.exportspec import Threshold


def refused_diff():
    diff = Diff()
    diff.leaver("7", "kbos")
    diff.person("8", {"gebruikersnaam": "old", "email": "a@x"}, json.dumps({"gebruikersnaam": "new", "email": "a@x"}),
                ["gebruikersnaam", "email"], "gebruikersnaam")
    return diff


def test_a_section_cuts_its_list_and_says_how_many_more():
    lines = section("Leavers", [f"{n}" for n in range(53)], limit=50)
    assert lines[0] == "Leavers (53):" and lines[-1] == "  ... and 3 more (see --json)" and len(lines) == 52
    assert section("Leavers", []) == []


def test_a_diff_counts_a_username_change_as_a_change_and_says_both_names():
    diff = refused_diff()
    found = diff.as_dict()
    assert found["totals"]["leavers"] == 1 and found["totals"]["usernameChanges"] == 1
    assert found["usernameChanges"] == [{"key": "8", "before": "old", "after": "new"}]
    assert found["changed"][0]["fields"] == {"gebruikersnaam": {"before": "old", "after": "new"}}


def test_a_threshold_trips_at_its_count_or_percentage():
    limit = Threshold(count=2, percent=50, minimum=3)
    assert threshold("removed_persons", limit, 2, 100).tripped  # the count
    assert not threshold("removed_persons", limit, 1, 2).tripped  # 50%, but under the minimum of 3
    assert threshold("removed_persons", Threshold(percent=50, minimum=1), 1, 2).tripped
    assert threshold("removed_persons", limit, 5, 0) is None  # nothing exported before


def test_a_refused_sync_says_why_and_the_way_out_in_text_and_json():
    report = SyncReport(dry_run=False, refused=True, diff=refused_diff())
    report.threshold = threshold("removed_persons", Threshold(count=2), 2, 10)
    report.counts["disabled"] = 2
    text, data = report.text(), report.as_dict()
    assert text[0].startswith("Refused, nothing written: this snapshot would create 0")
    assert any("REFUSED, nothing written: threshold removed_persons: 2 of 10 persons" in line for line in text)
    assert data["status"] == "refused" and data["threshold"]["tripped"] is True
    assert "--force" in data["hint"] and "--dry-run" in data["hint"]
    assert report.exit_code == 1


def test_a_refused_export_names_what_force_cannot_override():
    report = ExportReport(mapping="m.yaml", time="t", previous=None, status="refused", blocking=["no active persons"])
    report.counts = {"persons": 0, "roles": 0, "previousPersons": 0, "previousRoles": 0}
    assert report.as_dict()["hint"] == "--force cannot override this: no active persons"
    assert report.exit_code == 1
    assert report.summary_line() == "export: 0 persons and 0 roles refused, nothing written"


def test_emit_prints_the_same_report_as_json_or_text(capsys):
    report = SyncReport(dry_run=True)
    assert emit(report, as_json=True) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "checked"
    emit(report, as_json=False)
    assert capsys.readouterr().out.startswith("Dry run, nothing written")


def test_a_validate_report_names_the_starter_in_text_and_json():
    from scmapper.authoring.validation import ValidateReport

    report = ValidateReport({"c.yaml": [Problem("c.yaml", 3, 5, "a note", "warning")]}, {"c.yaml": "starter:afas"})
    assert report.text()[-1].startswith("c.yaml: ok (builds on starter:afas of scmapper ")
    assert report.as_dict()["builds_on"]["c.yaml"]["starter"] == "starter:afas"
    assert report.exit_code == 0
