"""Every evaluation bounded, and odd data answered per record (issue 17): the attacks that used
to hang the agent, exhaust memory, empty Spend Cloud or crash a run."""

import json
import resource
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import DEFAULT_MAPPING, ROOT, count, derived_mapping, make_person, native, rows, run_cli, spawn

# Every test here runs twice: on the mapping compiled to Python and on every piece in Jinja.
pytestmark = pytest.mark.usefixtures("evaluation")

# Nested loops over 60,000 characters each, before the rows: 3.6 billion steps unless stopped.
NESTED_LOOPS = (
    "{% for i in 'x' * 60000 %}{% for j in 'x' * 60000 %}{% endfor %}{% endfor %}"
    "{% for p in rows %}{{ p | csv_row }}{% endfor %}"
)


def load(db, *people, mapping=DEFAULT_MAPPING):
    for person in people:
        result = run_cli("apply", "--mapping", mapping, "--db", db, "-", input=native("create", person))
        assert result.code == 0, result.out


def templated(tmp_path, template, **limits):
    (tmp_path / "layout.j2").write_text(template)

    def change(m):
        m["export"]["persons"]["template"] = "layout.j2"
        m["limits"] = limits

    return derived_mapping(tmp_path / "m.yaml", change)


def test_a_runaway_export_template_stops_at_its_limit_and_agents_get_through(tmp_path, db):
    mapping = templated(tmp_path, NESTED_LOOPS, export_seconds=1)
    load(db, *(make_person(str(i)) for i in range(300)), mapping=mapping)
    began = time.monotonic()
    export = spawn("export", "--mapping", mapping, "--db", db, "--out", tmp_path / "out", text=True)
    time.sleep(0.3)  # the export holds the write lock now
    agent = run_cli("apply", "--mapping", mapping, "--db", db, "-", input=native("create", make_person("999")))
    out, err = export.communicate(timeout=60)
    assert agent.code == 0, agent.out  # it waited for the lock, then went ahead
    assert export.returncode == 2 and "took more than the 1,000,000 steps of work its limit of 1 s allows" in err
    assert time.monotonic() - began < 20
    assert not (tmp_path / "out").exists()


def test_a_template_that_writes_no_row_is_refused_whatever_it_selected(tmp_path, db):
    mapping = templated(tmp_path, "{% for p in rows %}{% if false %}{{ p | csv_row }}{% endif %}{% endfor %}")
    load(db, make_person("1"), make_person("2"))
    result = run_cli("export", "--mapping", mapping, "--db", db, "--out", tmp_path / "out")
    assert result.code == 1 and "the template wrote no data row" in result.out
    assert not (tmp_path / "out").exists() and count(db, "exports") == 0


@pytest.mark.parametrize(
    ("template", "wrote"),
    [
        # rows can be read once: a look ahead inside the loop uses them up, and three persons go missing
        (
            "{% for p in rows %}{% if loop.first %}{% for q in rows %}{% if q.email == 'x' %}{{ q | csv_row }}{% endif %}{% endfor %}{% endif %}{{ p | csv_row }}"
            "{% endfor %}",
            1,
        ),
        ("{% for p in rows %}{{ p | csv_row }}{{ p | csv_row }}{% endfor %}", 8),
    ],
    ids=["rows read twice", "each row twice"],
)
def test_a_template_that_writes_other_rows_than_it_was_given_is_refused(tmp_path, db, template, wrote):
    mapping = templated(tmp_path, template)
    load(db, *(make_person(str(i)) for i in range(1, 5)))
    result = run_cli("export", "--mapping", mapping, "--db", db, "--out", tmp_path / "out")
    assert result.code == 1 and f"Users.csv: the template wrote {wrote} data rows for 4 persons" in result.out
    assert "--force writes anyway" in result.out and not (tmp_path / "out").exists()
    forced = run_cli("export", "--mapping", mapping, "--db", db, "--out", tmp_path / "out", "--force", "--json")
    assert forced.code == 0 and forced.json["forced"] and forced.json["files"][0]["rows"] == wrote


def test_a_template_that_writes_its_rows_is_counted_by_what_it_wrote(tmp_path, db):
    mapping = templated(tmp_path, "{% for p in rows %}{{ p | csv_row }}\n{% endfor %}")  # a blank line between rows
    load(db, make_person("1"), make_person("2"))
    result = run_cli("export", "--mapping", mapping, "--db", db, "--out", tmp_path / "out", "--json")
    assert result.code == 0, result.out
    assert [f["rows"] for f in result.json["files"]] == [2, 2]


def test_growing_values_are_refused_before_they_take_the_memory(tmp_path, db):
    """Peak memory of this process (ru_maxrss, KiB on Linux) hardly moves while each attack runs."""
    attacks = [
        "'x'.ljust(10**10)",
        "['x'] | batch(300000000, 'y') | list",
        "('y' * 60000).replace('y', 'yyyyyyyyyy' * 1000)",
        "'x' * 10**9",
        "person.L | join(person.S)",
    ]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for i, attack in enumerate(attacks):
        mapping = tmp_path / f"m{i}.yaml"
        mapping.write_text(
            f'version: 1\nperson:\n  key: k\n  extra_columns: [k, y]\n  columns:\n    k: "{{{{ person.k }}}}"\n    y: "{{{{ {attack} }}}}"\n'
        )
        person = {"k": "1", "L": list(range(2000)), "S": "s" * 60_000}
        started = time.monotonic()
        result = run_cli("apply", "--mapping", mapping, "--db", db, "-", input=native("create", person))
        assert result.code in (1, 2) and result.json["success"] is False, attack
        assert "limit" in result.out, result.out
        assert time.monotonic() - started < 5, attack
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 200, f"peak memory grew by {grown_mib:.0f} MiB"
    assert count(db, "persons") == 0


def test_finding_a_failed_records_key_is_bounded_too(tmp_path, db):
    """sync looks up the key of a record that failed; a key that loops is cut off at the limit."""

    def change(m):
        m["vars"] = {"spin": "person.L | map('string') | join(',') ~ (person.L | map('string') | join(','))"}
        m["person"]["columns"]["externalId"] = {
            "value": "{% for a in person.L %}{% for b in person.L %}{% endfor %}{% endfor %}{{ person.ExternalId }}",
            "required": True,
        }
        m["limits"] = {"seconds": 0.5}

    mapping = derived_mapping(tmp_path / "m.yaml", change)
    person = {**make_person("1"), "L": list(range(3000))}
    source = tmp_path / "snap.json"
    source.write_text(json.dumps([person]))
    began = time.monotonic()
    result = run_cli("sync", "--mapping", mapping, "--db", db, "--source", source, "--json")
    assert result.code == 1 and "its limit of 0.5 s allows" in result.json["failures"][0]["reason"]
    assert time.monotonic() - began < 5


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("jos\u00e9", "jose\u0301"),  # é composed and decomposed
        ("JAN", "jan "),  # case and a trailing space
        ("STRASSE", "straße"),  # case-folded
    ],
    ids=["NFC", "case and space", "casefold"],
)
def test_lookalike_usernames_are_the_same_username(db, first, second):
    one, two = make_person("1"), make_person("2")
    one["Accounts"]["MicrosoftActiveDirectory"]["sAMAccountName"] = first
    two["Accounts"]["MicrosoftActiveDirectory"]["sAMAccountName"] = second
    load(db, one)
    result = run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "-", input=native("create", two))
    assert result.code == 1 and "gebruikersnaam" in result.out and "is already used by account '1'" in result.out


@pytest.mark.parametrize(
    ("username", "character"),
    [("ja\u200bn", "U+200B"), ("\u200b", "U+200B"), ("jan\u202eevil", "U+202E"), ("\u3164", "U+3164")],
    ids=["zero width inside", "zero width alone", "bidi override", "hangul filler"],
)
def test_invisible_and_bidi_characters_are_refused_in_usernames(db, username, character):
    person = make_person("1")
    person["Accounts"]["MicrosoftActiveDirectory"]["sAMAccountName"] = username
    result = run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "-", input=native("create", person))
    assert result.code == 1 and character in result.out and count(db, "persons") == 0


def test_a_stored_value_cannot_forge_a_line_of_the_log(db):
    person = make_person("1\n2026-01-01T00:00:00.000000Z  DeleteAccount    everyone")
    person["Accounts"]["MicrosoftActiveDirectory"] = {"sAMAccountName": "jan", "userPrincipalName": "jan@x.nl"}
    load(db, person)
    result = run_cli("log", "--db", db)
    assert result.code == 0 and len(result.out.splitlines()) == 1
    assert "\\n2026-01-01" in result.out


def test_a_key_that_changed_is_answered_not_crashed(db):
    """Person 1 is correlated by username and gets employee number 2; a new person 1 then cannot
    take account reference '1', which still belongs to the first: a clear refusal, not a crash."""
    load(db, make_person("1"))
    moved = make_person("2")
    moved["Accounts"]["MicrosoftActiveDirectory"]["sAMAccountName"] = "user1"
    event = {
        "actionContext": {
            "CorrelationConfiguration": {
                "Enabled": True,
                "AccountField": "gebruikersnaam",
                "AccountFieldValue": "user1",
            }
        },
        "personContext": {"Person": moved},
    }
    args = ("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "--action", "create", "-")
    assert run_cli(*args, input=json.dumps(event)).code == 0
    assert rows(db, "SELECT scm_ref, externalId FROM persons") == [{"scm_ref": "1", "externalId": "2"}]
    again = run_cli(
        "apply",
        "--mapping",
        DEFAULT_MAPPING,
        "--db",
        db,
        "-",
        input=native("create", make_person("1", NickName="Nieuw")),
    )
    assert again.code == 1
    assert "account reference '1' belongs to the person whose externalId changed from '1' to '2'" in again.out
    assert count(db, "persons") == 1


def test_a_closed_standard_input_gets_a_result_not_a_crash(db):
    done = subprocess.run(
        [sys.executable, "-m", "scmapper", "apply", "--mapping", str(DEFAULT_MAPPING), "--db", str(db), "-"],
        capture_output=True,
        cwd=ROOT,
        preexec_fn=lambda: __import__("os").close(0),
        check=False,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert json.loads(done.stdout)["success"] is False and b"standard input is closed" in done.stderr


def test_a_full_standard_output_is_reported_after_the_work_is_done(db):
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [sys.executable, "-m", "scmapper", "apply", "--mapping", str(DEFAULT_MAPPING), "--db", str(db), "-"],
            input=native("create", make_person("1")).encode(),
            stdout=full,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            check=False,
            timeout=60,
        )
    assert done.returncode == 2 and b"No space left on device" in done.stderr and b"Traceback" not in done.stderr
    assert count(db, "persons") == 1  # the event was applied; only its result could not be written


# --- SFTP without an SSH server ----------------------------------------------------------------


def sftp_mapping(tmp_path, port, **extra):
    settings = {
        "host": "127.0.0.1",
        "port": port,
        "username": "u",
        "remote_dir": "/in",
        "connect_timeout": 3,
        "retries": 0,
        "password_env": "SCMAPPER_SC_PASSWORD",
        **extra,
    }
    return derived_mapping(tmp_path / "m.yaml", lambda m: m.update(sftp=settings))


def exported(tmp_path, db, mapping):
    load(db, make_person("1"), mapping=mapping)
    assert run_cli("export", "--mapping", mapping, "--db", db, "--out", tmp_path / "out").code == 0


def test_a_peer_that_is_no_ssh_server_gets_a_message_not_a_traceback(tmp_path, db):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def answer():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:  # the test closed the server
                return
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            conn.close()

    answering = threading.Thread(target=answer, daemon=True)
    answering.start()
    mapping = sftp_mapping(tmp_path, server.getsockname()[1])
    exported(tmp_path, db, mapping)
    result = run_cli("upload", "--mapping", mapping, "--db", db, env={"SCMAPPER_SC_PASSWORD": "pw"})
    server.shutdown(socket.SHUT_RDWR)
    server.close()
    answering.join(timeout=5)
    assert result.code in (10, 16) and "Traceback" not in result.err and "paramiko" not in result.err, result.err
    assert result.err.count("\n") <= 3


def test_a_password_that_is_not_utf8_is_refused_with_a_message(tmp_path, db):
    mapping = sftp_mapping(tmp_path, 9)
    exported(tmp_path, db, mapping)
    result = run_cli("upload", "--mapping", mapping, "--db", db, env={"SCMAPPER_SC_PASSWORD": "pa\udcffss"})
    assert result.code == 12 and "is not valid UTF-8 text" in result.err and "Traceback" not in result.err
