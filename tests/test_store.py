"""The SQLite store: migrations from the mapping, quoting, append-only audit, concurrency."""

import json
import multiprocessing
import sqlite3
import sys

import pytest

from scmapper.errors import ConflictError, StoreError
from scmapper.store import SCHEMA_VERSION, Shape, Store, quote
from scmapper.store.connection import Database

from conftest import DEFAULT_MAPPING, count, make_person, native, rows, run_cli, spawn


def prepared(db, columns=("k", "a"), unique=("a",), roles=("r",), fingerprint="f1"):
    store = Store(db)
    try:
        notes = store.prepare(Shape("k", columns, unique, roles, fingerprint))
    except BaseException:
        store.close()
        raise
    return store, notes


def test_tables_use_wal_and_record_version(db):
    store, notes = prepared(db)
    assert notes == []
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert dict(store.db.execute("SELECT key, value FROM scm_meta").fetchall()) == {
        "schema_version": str(SCHEMA_VERSION),
        "mapping_fingerprint": f"{SCHEMA_VERSION}:f1",
    }
    store.close()


def test_added_column_is_added_and_removed_column_is_kept_and_reported(db):
    store, _ = prepared(db)
    with store.transaction():
        store.persons.insert("1", {"k": "1", "a": "x"}, "t")
    store.close()
    store, notes = prepared(db, columns=("k", "b"), unique=(), fingerprint="f2")
    assert notes == ["column 'a' of table persons is no longer in the mapping; kept with its data"]
    assert rows(db, "SELECT k, a, b FROM persons") == [{"k": "1", "a": "x", "b": ""}]
    store.close()


def test_unchanged_mapping_does_not_migrate_again(db):
    store, _ = prepared(db)
    store.close()
    store, notes = prepared(db, columns=("k", "b"), fingerprint="f1")  # same fingerprint: trusted
    assert notes == [] and "b" not in [r[1] for r in store.db.execute("PRAGMA table_info(persons)")]
    store.close()


def test_schema_6_gets_the_aliases_table_and_its_guards(db):
    store, _ = prepared(db)
    with store.transaction():
        store.persons.insert("1", {"k": "1", "a": "x"}, "t")
    store.close()
    conn = sqlite3.connect(db)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND sql LIKE '%scm_aliases%'"):
        conn.execute(f'DROP TRIGGER "{name}"')
    conn.execute("DROP TABLE scm_aliases")
    conn.execute("UPDATE scm_meta SET value = '6' WHERE key = 'schema_version'")
    conn.execute("UPDATE scm_meta SET value = '6:f1' WHERE key = 'mapping_fingerprint'")
    conn.commit()
    conn.close()
    store, _ = prepared(db)
    assert rows(db, "SELECT value FROM scm_meta WHERE key = 'schema_version'") == [{"value": str(SCHEMA_VERSION)}]
    with store.transaction():
        store.aliases.add("old1", "1", origin="test", time="t")
    assert store.persons.account("old1").ref == "1" and store.aliases.of("1") == ["old1"]
    with pytest.raises(ConflictError, match="the reference is an alias of another account"):
        with store.transaction():
            store.persons.insert("old1", {"k": "2", "a": "y"}, "t")
    store.close()


def test_a_read_only_store_reads_as_it_is_and_writes_nothing(db, tmp_path):
    store, _ = prepared(db)
    with store.transaction():
        store.persons.insert("1", {"k": "1", "a": "x"}, "t")
    store.close()
    with Store(db, read_only=True) as reader:
        reader.attach(Shape("k", ("k", "a"), ("a",), ("r",), "another mapping"))
        assert reader.persons.account("1").row == {"k": "1", "a": "x"}
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.db.execute("DELETE FROM persons")
        with pytest.raises(StoreError, match="has no persons column b: it was written with another mapping"):
            reader.attach(Shape("k", ("k", "b"), (), ("r",), "f"))
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "missing.db", read_only=True)
    assert not (tmp_path / "missing.db").exists()


@pytest.mark.parametrize("name", ['a"b', "a b", "1a", "a;--", "", "ä"])
def test_identifiers_are_validated(name):
    with pytest.raises(StoreError, match="not a valid column name"):
        quote(name)


def test_audit_log_is_append_only(db):
    store, _ = prepared(db)
    with store.transaction():
        store.audit.add(
            time="t",
            action="CreateAccount",
            ref="1",
            success=True,
            message="m",
            details=[],
            before=None,
            after={"x": 1},
        )
    for sql in ("UPDATE events SET message = 'forged'", "DELETE FROM events"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            store.db.execute(sql)
    assert [e.message for e in store.audit.events()] == ["m"]
    store.close()


def test_transaction_rolls_back_everything_on_error(db):
    store, _ = prepared(db)
    with pytest.raises(RuntimeError), store.transaction():
        store.persons.insert("1", {"k": "1", "a": "x"}, "t")
        store.persons.replace_roles("1", [{"r": "role"}])
        raise RuntimeError("boom")
    assert count(db, "persons") == 0 and count(db, "roles") == 0
    store.close()


def test_existing_duplicates_block_a_new_unique_column(db):
    store, _ = prepared(db, unique=())
    with store.transaction():
        store.persons.insert("1", {"k": "1", "a": "same"}, "t")
        store.persons.insert("2", {"k": "2", "a": "SAME"}, "t")
    store.close()
    with pytest.raises(StoreError, match="resolve the duplicates first"):
        prepared(db, unique=("a",), fingerprint="f2")


def test_log_on_a_database_that_is_not_ours(tmp_path):
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    result = run_cli("log", "--db", other)
    assert result.code == 2 and "is not an scmapper database" in result.err


def test_parallel_agents_never_see_database_is_locked(db, tmp_path):
    """Four processes applying creates and updates at once: every event applied, none locked out."""
    batches = []
    for worker in range(4):
        lines = []
        for i in range(25):
            person = make_person(str(1000 + i))  # the same people in every worker
            lines.append(native("create", person))
            lines.append(
                native(
                    "update",
                    {**person, "Name": {**person["Name"], "NickName": f"w{worker}"}},
                    accountReference=person["ExternalId"],
                )
            )
        path = tmp_path / f"batch{worker}.jsonl"
        path.write_text("\n".join(lines) + "\n")
        batches.append(path)
    procs = [spawn("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "--batch", b) for b in batches]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
        results = [json.loads(line) for line in out.decode().splitlines()]
        assert len(results) == 50 and all(r["success"] for r in results)
        assert b"locked" not in err
    assert count(db, "persons") == 25 and count(db, "roles") == 25
    creates = rows(db, "SELECT count(*) AS n FROM events WHERE action = 'CreateAccount'")[0]["n"]
    assert creates == 25  # the other workers correlated


def _open_at_once(path, barrier, results):
    barrier.wait()
    try:
        Database(path).close()
        results.put("ok")
    except StoreError as exc:
        results.put(str(exc))


def test_agents_opening_a_new_database_at_the_same_moment_all_get_in(tmp_path):
    """Turning a new file into WAL takes a lock SQLite's busy handler does not wait for; six
    processes released together on each of 20 new files (before the fix, about one open in 25
    failed with "database is locked")."""
    context = multiprocessing.get_context("spawn" if sys.platform == "win32" else "fork")
    failures = []
    for round_no in range(20):
        path = tmp_path / f"new{round_no}.db"
        barrier, results = context.Barrier(6), context.Queue()
        workers = [context.Process(target=_open_at_once, args=(path, barrier, results)) for _ in range(6)]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join()
        failures += [o for o in outcomes if o != "ok"]
    assert failures == []
