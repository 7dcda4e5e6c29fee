"""The export's scan: its cheap SQL tests find every row Python's exact checks would fail."""

import sqlite3

from test_export import export, load, make_person

from scmapper import checks, scan

from conftest import rows


def test_blank_start_covers_exactly_what_str_strip_removes():
    everything = "".join(map(chr, range(0x110000)))
    assert set(scan.WHITESPACE) == {ch for ch in everything if ch.isspace()}


def test_the_cp1252_pattern_matches_exactly_the_characters_cp1252_cannot_hold():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (c TEXT)")
    chars = [chr(c) for c in range(1, 0x10000) if not 0xD800 <= c <= 0xDFFF] + ["\U0001f600", "\U00010000"]
    conn.executemany("INSERT INTO t VALUES (?)", [(c,) for c in chars])
    found = {c for (c,) in conn.execute("SELECT c FROM t WHERE c GLOB ?", (checks.outside_cp1252_glob(),))}

    def unencodable(ch):
        try:
            ch.encode("cp1252")
        except UnicodeEncodeError:
            return True
        return False

    assert found == {c for c in chars if unencodable(c)}
    assert "Ł" in found and "€" not in found and "é" not in found


def test_the_first_export_counts_its_joiners_and_the_next_lists_changes(db, tmp_path):
    load(db, [make_person(str(i)) for i in (1, 2, 3)])
    first = export(db, tmp_path / "out", "--json").json
    assert first["diff"]["listed"] is False and first["diff"]["joiners"] == []
    assert first["diff"]["totals"]["joiners"] == 3 and first["diff"]["totals"]["rolesAdded"] == 3
    load(db, [make_person("4"), make_person("2", NickName="Tessa")])
    second = export(db, tmp_path / "out", "--json").json
    assert second["diff"]["listed"] is True
    assert second["diff"]["joiners"] == [{"key": "4", "username": "user4"}]
    assert second["diff"]["changed"] == [
        {"key": "2", "username": "user2", "fields": {"voornaam": {"before": "Test", "after": "Tessa"}}}
    ]
    assert second["diff"]["rolesAdded"] == [
        {"person": "4", "ou": "Afdeling 1", "gebruikersnaam": "user4", "functiecode": "FP-1"}
    ]
    assert rows(db, "SELECT count(*) AS n FROM exported_persons") == [{"n": 4}]
