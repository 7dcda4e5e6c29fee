"""Property-based: any Unicode value survives to the CSV file and reads back unchanged."""

import csv
import io
import sqlite3
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scmapper.core.values import clean_text
from scmapper.export.csvformat import TEMPLATES, Dialect, Layout, csv_environment
from scmapper.export.pipeline import run_export
from scmapper.lifecycle import actions as lifecycle
from scmapper.lifecycle.events import Event
from scmapper.mapping.exportspec import ExportFile
from scmapper.mapping.loading import load_rules

from conftest import open_store

# Any Unicode but surrogates (not encodable) and the C0 controls records may not hold (tab, LF, CR may).
# What a record may hold: whatever passes the one check of every value (core.values).
TEXT = st.text(
    st.characters(blacklist_categories=("Cs",)).filter(clean_text),
    max_size=40,
)
TEMPLATE = csv_environment().from_string((TEMPLATES / "csv.j2").read_text("utf-8"))


@given(
    rows=st.lists(st.lists(TEXT, min_size=1, max_size=4), min_size=1, max_size=5).filter(
        lambda rs: len({len(r) for r in rs}) == 1
    ),
    delimiter=st.sampled_from([";", ",", "\t", "|"]),
    quote_all=st.booleans(),
    line_ending=st.sampled_from(["\r\n", "\n"]),
)
def test_rendered_rows_read_back_through_the_csv_module(rows, delimiter, quote_all, line_ending):
    dialect = Dialect(delimiter, quote_all, line_ending)
    text = TEMPLATE.render(header=None, rows=rows, columns=[], scm_dialect=dialect)
    assert list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)) == rows


MAPPING = """
version: 1
person:
  key: k
  unique: []
  extra_columns: [k, a, b]
  columns:
    k: "{{ person.k }}"
    a: "{{ person.a }}"
    b: "{{ person.b }}"
roles:
  for_each: c in person.c
  when: "true"
  extra_columns: [owner, r]
  columns:
    owner: "{{ person.a }}"
    r: "{{ c }}"
export:
  persons: { file: p.csv, columns: [a, b] }
  roles: { file: r.csv, columns: [r], delimiter: "," }
"""


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(st.tuples(TEXT, TEXT, TEXT.filter(str.strip)), min_size=1, max_size=4))  # roles may not be blank
def test_any_value_survives_event_to_database_to_csv(values):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "m.yaml").write_text(MAPPING, "utf-8")
        rules = load_rules(root / "m.yaml")
        mapping = rules.mapping
        store = open_store(root / "db.sqlite", mapping)
        for i, (a, b, role) in enumerate(values):
            person = {"k": f"{i:04d}", "a": a, "b": b, "c": [role]}
            result = lifecycle.apply(Event("create", person), rules, store)
            assert result.success, result.audit
        outcome = run_export(mapping, store, root / "out", check=False, force=False)
        assert outcome.status == "written", outcome.text()
        # The same rows through the Jinja template (a copy of the built-in one, so not the SQL-built lines).
        (root / "copy.j2").write_bytes((TEMPLATES / "csv.j2").read_bytes())
        (root / "t.yaml").write_text(
            MAPPING.replace("columns: [a, b]", "columns: [a, b], template: copy.j2").replace(
                "columns: [r],", "columns: [r], template: copy.j2,"
            ),
            "utf-8",
        )
        templated = load_rules(root / "t.yaml").mapping
        assert run_export(templated, store, root / "jinja", check=False, force=False).status == "written"
        store.close()
        for name in ("p.csv", "r.csv"):
            assert (root / "out" / name).read_bytes() == (root / "jinja" / name).read_bytes()
        with (root / "out" / "p.csv").open(encoding="utf-8-sig", newline="") as handle:
            assert list(csv.reader(handle, delimiter=";"))[1:] == [[a, b] for a, b, _ in values]
        with (root / "out" / "r.csv").open(encoding="utf-8-sig", newline="") as handle:
            assert list(csv.reader(handle, delimiter=","))[1:] == [[r] for _, _, r in values]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.tuples(TEXT, TEXT), max_size=6),
    delimiter=st.sampled_from([";", ",", "\t", "|"]),
    quoting=st.sampled_from(["all", "minimal"]),
    guard=st.booleans(),
    header=st.booleans(),
)
def test_the_fast_writer_is_byte_identical_to_the_template(rows, delimiter, quoting, guard, header):
    """The built-in layout skips the Jinja loop, its lines built by SQLite where the dialect allows
    and by Dialect.row elsewhere; whatever the data and dialect, not one byte differs."""
    spec = ExportFile(
        "p.csv",
        "csv",
        ("a", "b"),
        ("A", 'B "x"') if header else None,
        delimiter,
        quote_all=quoting == "all",
        formula_guard=guard,
    )
    dialect = Dialect.of(spec)
    builtin = Layout("persons", spec, dialect, None)
    templated = Layout("persons", spec, dialect, (TEMPLATES / "csv.j2").read_text("utf-8"))
    records = list(rows)
    fast = "".join(builtin.render(records))
    assert fast == "".join(templated.render(records))
    built = dialect.line_sql(['"a"', '"b"'])
    assert (built is None) == (quoting == "minimal" or guard)
    if built is not None:
        conn = sqlite3.connect(":memory:")
        conn.execute("CREATE TABLE t (a TEXT, b TEXT)")
        conn.executemany("INSERT INTO t VALUES (?, ?)", records)
        lines = [line for (line,) in conn.execute(f"SELECT {built[0]} FROM t ORDER BY rowid", built[1])]
        conn.close()
        assert "".join(builtin.render(lines)) == fast
