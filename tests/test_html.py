"""`--html FILE` pages, opened in a real browser: headless Chromium renders each page, and the
test reads the DOM it built (`--dump-dom`) and the size of its screenshot (`--screenshot`).
The export page is that of a real diff: a joiner, a leaver, a username change, a changed
column (holding markup, which must arrive as text), a preflight problem, a tripped threshold.

Without Chromium these tests are skipped, unless SCMAPPER_REQUIRE_CHROMIUM=1 (CI, which
installs Debian's `chromium`), which turns the skip into a failure."""

import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from html.parser import HTMLParser

import pytest

from conftest import DEFAULT_MAPPING, ROOT, SAMPLE_EVENT, edit, make_person, native, run_cli

HOSTILE = '<script>alert("x")</script> & Zoë'
WINDOW = (1280, 1600)


@pytest.fixture(scope="module")
def chromium():
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        reason = "no chromium on PATH (Debian: apt-get install chromium)"
        if os.environ.get("SCMAPPER_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"SCMAPPER_REQUIRE_CHROMIUM=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return found


def browse(chromium, page, *args):
    """Runs headless Chromium on a page, in a profile of its own, with nothing that phones home."""
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",  # CI runs as root
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                *args,
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    return done.stdout


class Dom(HTMLParser):
    """The elements of a dumped DOM: for each, its tag, attributes and the text inside it."""

    def __init__(self, text):
        super().__init__()
        self.elements, self.open = [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": dict(attrs), "text": "", "parents": [e["attrs"].get("id") for e in self.open]}
        self.elements.append(element)
        if tag not in ("meta", "br", "img", "link", "input"):
            self.open.append(element)

    def handle_endtag(self, tag):
        while self.open:
            if self.open.pop()["tag"] == tag:
                break

    def handle_data(self, data):
        for element in self.open:
            element["text"] += data

    def rows(self, section, kind):
        """The cells of each `tr.kind` in section#section."""
        found = [
            e for e in self.elements if e["tag"] == "tr" and e["attrs"].get("class") == kind and section in e["parents"]
        ]
        return [self._cells(row) for row in found]

    def _cells(self, row):
        start = self.elements.index(row)
        cells = []
        for element in self.elements[start + 1 :]:
            if element["tag"] == "tr":
                break
            if element["tag"] == "td":
                cells.append(element["text"].strip())
        return cells

    def by_id(self, name):
        return next(e for e in self.elements if e["attrs"].get("id") == name)


def png_size(path):
    """Width and height from a PNG's header, and how many distinct byte values its pixels hold."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    pixels, at = b"", 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        if kind == b"IDAT":
            pixels += data[at + 8 : at + 8 + length]
        at += 12 + length
    return width, height, len(set(zlib.decompress(pixels)))


def apply(db, event):
    assert run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "-", input=event).code == 0


def real_diff(db, tmp_path):
    """Twenty persons exported; then 21 joins, 2 and 6 leave, 3 gets a new username, 4 a first name
    holding markup, and 5's e-mail is emptied behind scmapper's back (a preflight problem)."""
    for key in range(1, 21):
        apply(db, native("create", make_person(str(key))))
    out = tmp_path / "out"
    assert run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", db, "--out", out).code == 0
    apply(db, native("create", make_person("21")))
    apply(db, native("disable", accountReference="2"))
    apply(db, native("disable", accountReference="6"))
    renamed = make_person("3")
    renamed["Accounts"]["MicrosoftActiveDirectory"]["sAMAccountName"] = "nieuw3"
    apply(db, native("update", renamed, accountReference="3"))
    apply(db, native("update", make_person("4", NickName=HOSTILE), accountReference="4"))
    edit(db, "UPDATE persons SET email = '' WHERE externalId = '5'")
    return out


def test_the_export_check_page_shows_the_diff_problems_and_thresholds(chromium, db, tmp_path):
    out = real_diff(db, tmp_path)
    page = tmp_path / "report.html"
    result = run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", db, "--out", out, "--dry-run", "--html", page)
    assert result.code == 1 and result.err.startswith(f"scmapper: wrote {page}\n")
    dom = Dom(browse(chromium, page, "--dump-dom"))
    assert dom.by_id("leavers") and dom.rows("leavers", "leaver") == [["2", "user2"], ["6", "user6"]]
    assert dom.rows("renames", "rename") == [["3", "user3", "nieuw3"]]
    assert dom.rows("changed", "change") == [
        ["3", "nieuw3", "gebruikersnaam", "user3", "nieuw3"],
        ["4", "user4", "voornaam", "Test", HOSTILE],
    ]
    assert dom.rows("joiners", "joiner") == [["21", "user21"]]
    # two leavers and a username change: 3 of 20 persons and 3 of 20 roles (15%) would go
    tripped = dom.rows("thresholds", "tripped")
    assert [(t[0], t[1], t[2], t[3], t[4]) for t in tripped] == [
        ("removed_persons", "3 of 20: 2 leavers + 1 username change", "15%", "25 or 5%", "TRIPPED"),
        ("removed_roles", "3 of 20", "15%", "50 or 10%", "TRIPPED"),
    ]
    # the gauge runs to twice the limit, the limit a mark in its middle: 15% of a 0-10% scale is full
    gauges = [e for e in dom.elements if e["attrs"].get("class") == "gauge"]
    assert [g["attrs"]["title"] for g in gauges] == ["scale 0-10%", "scale 0-20%"]
    way_out = [e["text"] for e in dom.elements if e["tag"] == "li" and "way-out" in e["parents"]]
    assert (
        way_out[0]
        == "removed_persons: 3 of 20 persons (15.0%) would be removed; the limit is 25 or 5% (from 3 removals on)"
    )
    command = f"scmapper export --mapping {DEFAULT_MAPPING} --db {db} --out {out}"
    assert f"If they are: {command} --force. The override is recorded in the report and the audit log." in way_out
    assert f"To look again without writing anything: {command} --dry-run." in way_out
    assert (
        "To change the rule itself: export.thresholds.removed_persons, export.thresholds.removed_roles in the mapping."
        in way_out
    )
    assert dom.by_id("way-out")["text"].strip().endswith(f"Read: {db}, {out}")
    assert widest(chromium, page, tmp_path) <= WINDOW[0]
    held = [e["text"] for e in dom.elements if e["tag"] == "li" and "held" in e["parents"]]
    assert held == ["5: person '5': column 'email' is empty (keeps its rows of the last export)"]
    assert not [e for e in dom.elements if e["tag"] == "li" and "problems" in e["parents"]]
    # the markup in the first name arrived as text: no script, nothing that loads anything
    assert [e["tag"] for e in dom.elements if e["tag"] in ("script", "img", "link", "iframe", "object")] == []
    assert not [e for e in dom.elements if {"src", "href"} & set(e["attrs"])]
    policy = [e["attrs"]["content"] for e in dom.elements if e["attrs"].get("http-equiv") == "Content-Security-Policy"]
    assert policy == ["default-src 'none'; style-src 'unsafe-inline'"]
    assert [e["text"] for e in dom.elements if e["attrs"].get("class") == "badge refused"] == ["REFUSED"]
    cards = [i for i, e in enumerate(dom.elements) if e["attrs"].get("class") in ("card", "card alert")]
    values = [dom.elements[i + 1]["text"] for i in cards]  # each card: <b>value</b> name
    glance = {dom.elements[i]["text"].removeprefix(v).strip(): v for i, v in zip(cards, values, strict=True)}
    assert (glance["joiners"], glance["leavers"], glance["username changes"], glance["held back"]) == (
        "1",
        "2",
        "1",
        "1",
    )
    assert glance["problems"] == "0"
    assert glance["persons"] == "20 \u2192 19"
    shot = tmp_path / "report.png"
    browse(chromium, page, f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}", "--hide-scrollbars")
    width, height, shades = png_size(shot)
    assert (width, height) == WINDOW and shades > 30  # a page with content, not a blank one


def test_the_sync_dry_run_page_lists_what_would_change(chromium, db, tmp_path):
    first = [make_person(str(key)) for key in range(1, 41)]
    snapshot = tmp_path / "snap.json"
    snapshot.write_text(json.dumps(first))
    assert run_cli("sync", "--mapping", DEFAULT_MAPPING, "--db", db, "--source", snapshot).code == 0
    renamed = make_person("3")
    renamed["Accounts"]["MicrosoftActiveDirectory"]["sAMAccountName"] = "nieuw3"
    later = [first[0], renamed, make_person("4", FamilyName="Jansen"), *first[4:], make_person("41")]
    snapshot.write_text(json.dumps(later))
    page = tmp_path / "sync.html"
    args = ("--mapping", DEFAULT_MAPPING, "--db", db, "--source", snapshot, "--dry-run", "--html", page)
    result = run_cli("sync", *args)
    assert result.code == 0, result.err
    dom = Dom(browse(chromium, page, "--dump-dom"))
    assert dom.rows("leavers", "leaver") == [["2", "user2"]]
    assert dom.rows("renames", "rename") == [["3", "user3", "nieuw3"]]
    assert ["4", "user4", "achternaam", "Person4", "Jansen"] in dom.rows("changed", "change")
    assert dom.rows("joiners", "joiner") == [["41", "user41"]]
    [check] = dom.rows("thresholds", "ok")
    assert check[:2] == ["removed_persons", "1 of 40"]
    assert dom.by_id("problems")["text"].strip().endswith("none")


def test_the_preview_page_puts_the_record_beside_its_rows(chromium, tmp_path):
    page = tmp_path / "preview.html"
    result = run_cli("preview", "--mapping", DEFAULT_MAPPING, SAMPLE_EVENT, "--html", page)
    assert result.code == 0 and result.json["person"]["achternaam"] == "Hoff - Op den Berg"
    dom = Dom(browse(chromium, page, "--dump-dom"))
    source = json.loads(next(e for e in dom.elements if e["tag"] == "pre" and "source" in e["parents"])["text"])
    assert source["ExternalId"] == "100482" and source["Name"]["FamilyNamePartner"] == "Berg"
    assert any(
        r[:2] == ["achternaam", "Hoff - Op den Berg"] and r[3] == "Users.csv" for r in dom.rows("rows", "column")
    )
    assert len(dom.rows("roles", "role")) == 2
    shot = tmp_path / "preview.png"
    browse(chromium, page, f"--screenshot={shot}", "--window-size=1200,900", "--hide-scrollbars")
    assert png_size(shot)[:2] == (1200, 900)


def test_html_next_to_a_folder_that_is_not_there_is_a_usage_error(db, tmp_path):
    page = tmp_path / "no" / "such" / "report.html"
    result = run_cli("preview", "--mapping", DEFAULT_MAPPING, SAMPLE_EVENT, "--html", page)
    assert (result.code, result.out) == (2, "")
    assert result.err == f"scmapper: cannot write {page}: the folder {page.parent} does not exist\n"


def widest(chromium, page, tmp_path, width=WINDOW[0]):
    """The page's scrollWidth at a window of `width` pixels: a copy of the page, its Content
    Security Policy taken out, with a script that writes the width into the DOM (the product's
    pages run no script; this copy is the test's)."""
    probe = tmp_path / f"probe-{page.name}"
    text = page.read_text("utf-8")
    text = text.replace(text[text.index('<meta http-equiv="Content-Security-Policy"') :].split(">", 1)[0] + ">", "")
    script = "<script>document.body.setAttribute('data-width', document.documentElement.scrollWidth)</script>"
    probe.write_text(text.replace("</body>", script + "</body>"), "utf-8")
    dom = browse(chromium, probe, "--dump-dom", f"--window-size={width},900", "--virtual-time-budget=2000")
    return int(re.search(r'data-width="(\d+)"', dom).group(1))


def test_preview_from_the_afas_files_shows_where_each_value_came_from_at_1280_pixels(chromium, tmp_path):
    files = sorted(str(p) for p in (ROOT / "mappings" / "samples" / "afas").glob("*.json"))
    page = tmp_path / "preview.html"
    result = run_cli("preview", ROOT / "mappings" / "afas.yaml", "--source", *files, "--key", "10001", "--html", page)
    assert result.code == 0, result.err
    found = result.json
    assert found["person"]["externalId"] == "10001" and [r["oucode"] for r in found["roles"]] == ["OE-FIN"]
    assert found["lineage"]["person"]["gebruikersnaam"] == {"read": ["person.UPN"], "file": "Users.csv"}
    assert found["lineage"]["person"]["externalId"]["file"] is None  # Users.csv has no such column
    assert found["lineage"]["roles"]["functiecode"] == {"read": ["employment.Functie_code"], "file": "Roles.csv"}
    dom = Dom(browse(chromium, page, "--dump-dom"))
    assert ["gebruikersnaam", "jjansen", "person.UPN", "Users.csv"] in dom.rows("rows", "column")
    assert ["functiecode", "employment.Functie_code", "Roles.csv"] in dom.rows("roles", "column")
    assert widest(chromium, page, tmp_path) <= WINDOW[0]


def test_preview_from_files_names_the_key_it_needs(tmp_path):
    files = sorted(str(p) for p in (ROOT / "mappings" / "samples" / "afas").glob("*.json"))
    many = run_cli("preview", ROOT / "mappings" / "afas.yaml", "--source", *files)
    assert many.code == 2 and "persons: name one with --key (externalId)" in many.err
    missing = run_cli("preview", ROOT / "mappings" / "afas.yaml", "--source", *files, "--key", "99999")
    assert missing.code == 2 and "no person with externalId '99999' in the files" in missing.err


def test_a_refused_sync_page_says_what_tripped_and_the_way_on(chromium, db, tmp_path):
    everyone = [make_person(str(key)) for key in range(1, 41)]
    snapshot = tmp_path / "snap.json"
    snapshot.write_text(json.dumps(everyone))
    assert run_cli("sync", "--mapping", DEFAULT_MAPPING, "--db", db, "--source", snapshot).code == 0
    snapshot.write_text(json.dumps(everyone[:30]))  # ten leave at once
    page = tmp_path / "sync.html"
    result = run_cli("sync", "--mapping", DEFAULT_MAPPING, "--db", db, "--source", snapshot, "--html", page)
    assert result.code == 1
    dom = Dom(browse(chromium, page, "--dump-dom"))
    way_out = [e["text"] for e in dom.elements if e["tag"] == "li" and "way-out" in e["parents"]]
    assert way_out[0].startswith("removed_persons: 10 of 40 persons (25.0%) would be removed")
    command = f"scmapper sync --mapping {DEFAULT_MAPPING} --db {db} --source {snapshot}"
    assert f"If they are: {command} --force. The override is recorded in the report and the audit log." in way_out
    assert dom.by_id("way-out")["text"].strip().endswith(f"Read: {snapshot}")
    assert [e["text"] for e in dom.elements if e["attrs"].get("class") == "badge refused"] == ["REFUSED"]
    assert widest(chromium, page, tmp_path) <= WINDOW[0]
    shot = tmp_path / "refused-sync.png"
    browse(chromium, page, f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}", "--hide-scrollbars")
    assert png_size(shot)[:2] == WINDOW
