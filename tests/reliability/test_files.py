"""What scmapper creates is readable by its owner only, unless the mapping says otherwise."""

import stat

from conftest import DEFAULT_MAPPING, SAMPLE_EVENT, derived_mapping, run_cli


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_database_exports_and_archive_are_private(tmp_path):
    db = tmp_path / "sc.db"
    assert run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "--action", "create", SAMPLE_EVENT).code == 0
    assert mode(db) == 0o600
    out = tmp_path / "out"
    assert run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", db, "--out", out).code == 0
    assert mode(out) == 0o700 and mode(out / "archive") == 0o700
    for path in [out / "Users.csv", out / "Roles.csv", out / "export-report.json", *(out / "archive").rglob("*.*")]:
        assert mode(path) == 0o600, path
    for folder in (out / "archive").iterdir():
        assert mode(folder) == 0o700


def test_a_wider_mode_on_purpose(tmp_path):
    mapping = derived_mapping(tmp_path / "m.yaml", lambda m: m["export"].update(file_mode="0640"))
    db = tmp_path / "sc.db"
    assert run_cli("apply", "--mapping", mapping, "--db", db, "--action", "create", SAMPLE_EVENT).code == 0
    out = tmp_path / "out"
    assert run_cli("export", "--mapping", mapping, "--db", db, "--out", out).code == 0
    assert mode(out / "Users.csv") == 0o640 and mode(out) == 0o750
    assert mode(db) == 0o600
