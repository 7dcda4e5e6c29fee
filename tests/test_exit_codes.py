"""One exit-code table for every command (errors.py): 0 ok, 1 refused or failed on data, 2 usage,
mapping or environment (a missing file, a database that cannot be opened or is corrupt),
3 internal error, 10-16 delivery. Each row is an exact command with the code it must give and
the message it must print (with the way out); the README's commands table must name, for each
command, exactly the codes proven here."""

import json
import re
import shutil

import pytest
from test_adopt import PERSONS, old_database

from conftest import DEFAULT_MAPPING, ROOT, SAMPLE_EVENT, derived_mapping, make_person, native, run_cli

INTERNAL = "scmapper: internal error (RuntimeError: boom); rerun with --debug\n"
NOT_A_DATABASE = "file is not a database. Check that --db names scmapper's database"
MALFORMED = "database disk image is malformed. Check that --db names scmapper's database"


class World:
    """The files the commands run on, made once."""

    def __init__(self, root):
        self.root = root
        self.good = self.db("good", [make_person("1"), make_person("2")])
        assert run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", self.good, "--out", root / "good-out").code == 0
        self.refusing = self.db("refusing", [make_person(str(k)) for k in range(1, 5)])
        assert run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", self.refusing, "--out", root / "r-out").code == 0
        for key in ("1", "2", "3"):
            self.apply(self.refusing, native("disable", accountReference=key))
        self.corrupt = root / "corrupt.db"
        self.corrupt.write_bytes(bytes(range(256)) * 64)  # not SQLite at all
        self.malformed = self.db("malformed", [make_person(str(k)) for k in range(1, 200)])
        data = self.malformed.read_bytes()
        self.malformed.write_bytes(data[:4096] + b"\xff" * (len(data) - 4096))  # every page but the first
        self.healthy = self.db("healthy", [make_person("1")])  # exported, nothing since: status 0
        assert run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", self.healthy, "--out", root / "h-out").code == 0
        self.refused = self.db("refused", [make_person(str(k)) for k in range(1, 5)])  # a refusal logged
        assert run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", self.refused, "--out", root / "x-out").code == 0
        for key in ("1", "2", "3"):
            self.apply(self.refused, native("disable", accountReference=key))
        assert run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", self.refused, "--out", root / "x-out").code == 1
        self.taken = root / "taken"  # a customer folder that already has its README
        self.taken.mkdir()
        (self.taken / "README.md").write_text("ours\n")
        self.bad_mapping = root / "bad.yaml"
        self.bad_mapping.write_text("version: 1\nperson: [\n")
        self.failing = derived_mapping(root / "failing.yaml", lambda m: None)
        (root / "failing.tests.yaml").write_text(
            json.dumps(
                {
                    "version": 1,
                    "cases": [
                        {"name": "wrong", "record": make_person("1"), "expect": {"person": {"achternaam": "Nope"}}}
                    ],
                }
            )
        )
        self.snapshot = root / "snapshot.json"
        self.snapshot.write_text(json.dumps([make_person("1"), make_person("2")]))
        broken = make_person("3")
        broken["Accounts"]["MicrosoftActiveDirectory"]["sAMAccountName"] = None
        self.broken_snapshot = root / "broken.json"
        self.broken_snapshot.write_text(json.dumps([make_person("1"), broken]))
        sftp = {"host": "127.0.0.1", "port": 9, "username": "sc", "remote_dir": "/in", "password_env": "SCMAPPER_SC_PASS"}
        sftp |= {"known_hosts": str(root / "known_hosts"), "connect_timeout": 2, "retries": 0}
        self.sftp = derived_mapping(root / "sftp.yaml", lambda m: m.update(sftp=sftp))
        self.old = old_database(root / "SpendCloud.db")
        self.old_broken = old_database(
            root / "Broken.db", [*PERSONS, (None, "Zonder", "K", "", "kz", "M", "k@x.nl", "t", None)]
        )
        self.demo = root / "demo"
        (self.demo / "samples").mkdir(parents=True)
        shutil.copy(DEFAULT_MAPPING, self.demo)
        shutil.copytree(ROOT / "mappings" / "shared", self.demo / "shared")
        shutil.copytree(ROOT / "mappings" / "samples" / "helloid", self.demo / "samples" / "helloid")
        self.same = root / "same.json"
        self.same.write_text(native("update", make_person("1")))
        self.changed = root / "changed.json"
        self.changed.write_text(native("update", make_person("1", NickName="Anders")))
        headers = {"gebruikersnaam": "Gebruikersnaam", "email": "E-mailadres", "externalId": "Personeelsnummer"}
        self.reconcile = derived_mapping(root / "rec.yaml", lambda m: m.update(reconcile={"columns": headers}))
        self.users = {}
        for name, lines in (
            ("match", ["user1;user1@example.nl;1", "user2;user2@example.nl;2"]),
            ("clash", ["user1;user1@example.nl;1", "other;user2@example.nl;7"]),
        ):
            self.users[name] = root / f"{name}.csv"
            self.users[name].write_text("\n".join(["Gebruikersnaam;E-mailadres;Personeelsnummer", *lines]) + "\n")
        self.users["wrong"] = root / "wrong.csv"
        self.users["wrong"].write_text("Login;Mail\nuser1;user1@example.nl\n")
        self.failing_events = root / "failing-events.jsonl"
        self.failing_events.write_text(native("create", broken) + "\n")
        self.count = 0

    def db(self, name, people):
        path = self.root / f"{name}.db"
        for person in people:
            self.apply(path, native("create", person))
        return path

    def apply(self, db, event):
        assert run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "-", input=event).code == 0

    def fresh(self, name):
        """A path not used before (a new database, a new output folder)."""
        self.count += 1
        return self.root / f"{name}-{self.count}"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return World(tmp_path_factory.mktemp("world"))


M = str(DEFAULT_MAPPING)
BROKEN_PERSON = make_person("9")
BROKEN_PERSON["Accounts"]["MicrosoftActiveDirectory"]["sAMAccountName"] = None

# command, code, arguments (from the world), stdin, where the message is, the message
# fmt: off
TABLE = [
    ("validate", 0, lambda w: ["--mapping", M], None, "out", "spendcloud.yaml: ok"),
    ("validate", 1, lambda w: [w.bad_mapping], None, "out", "bad.yaml:3:1: YAML syntax error"),
    ("validate", 2, lambda w: ["--mapping", "no/such.yaml"], None, "err", "mapping no/such.yaml not found: check the path"),
    ("validate", 2, lambda w: [], None, "err", "name a mapping: scmapper validate --mapping MAPPING"),
    ("preview", 0, lambda w: ["--mapping", M, SAMPLE_EVENT], None, "out", '"achternaam": "Hoff - Op den Berg"'),
    ("preview", 1, lambda w: [M, "-"], json.dumps(BROKEN_PERSON), "err", "required column 'gebruikersnaam' is empty"),
    ("preview", 2, lambda w: ["--mapping", w.bad_mapping, SAMPLE_EVENT], None, "err", "YAML syntax error"),
    ("preview", 2, lambda w: ["--mapping", M], None, "err", "preview takes a mapping and a person: scmapper preview --mapping"),
    ("test", 0, lambda w: ["--mapping", ROOT / "mappings" / "afas.yaml"], None, "out", "afas.tests.yaml: 24 cases passed, 0 failed"),
    ("test", 1, lambda w: [w.failing], None, "out", "person.achternaam: expected 'Nope', got 'Person1'"),
    ("test", 2, lambda w: ["--mapping", "no/such.yaml"], None, "err", "cannot read mapping: No such file or directory"),
    ("apply", 0, lambda w: ["--mapping", M, "--db", w.fresh("a.db"), "-"], native("create", make_person("1")), "out", '"success": true'),
    ("apply", 1, lambda w: ["--mapping", M, "--db", w.fresh("a.db"), "-"], native("create", BROKEN_PERSON), "out", "required column 'gebruikersnaam' is empty"),
    ("apply", 2, lambda w: ["--mapping", M, "--db", w.fresh("a.db"), "-"], "{broken", "err", "event is not valid JSON"),
    ("apply", 2, lambda w: ["--mapping", M, "--db", w.corrupt, "-"], native("create", make_person("1")), "err", NOT_A_DATABASE),
    ("apply", 2, lambda w: ["--mapping", M, "--db", w.malformed, "-"], native("create", make_person("1")), "err", MALFORMED),
    ("sync", 0, lambda w: ["--mapping", M, "--db", w.fresh("s.db"), "--source", w.snapshot, "--json"], None, "out", '"created": 2'),
    ("sync", 1, lambda w: ["--mapping", M, "--db", w.fresh("s.db"), "--source", w.broken_snapshot], None, "out", "FAILED broken.json#2 (key 3): person '3': required column"),
    ("sync", 2, lambda w: ["--mapping", M, "--db", w.corrupt, "--source", w.snapshot], None, "err", NOT_A_DATABASE),
    ("sync", 2, lambda w: ["--mapping", M, "--db", w.fresh("s.db"), "--source", "no-such.json"], None, "err", "cannot read source no-such.json: No such file or directory"),
    ("export", 0, lambda w: ["--mapping", M, "--db", w.good, "--out", w.fresh("out"), "--dry-run"], None, "out", "Check only: nothing written."),
    ("export", 1, lambda w: ["--mapping", M, "--db", w.refusing, "--out", w.fresh("out"), "--dry-run"], None, "out", "threshold removed_persons: 3 of 4 persons"),
    ("export", 2, lambda w: ["--mapping", M, "--db", w.fresh("e.db"), "--out", w.fresh("out")], None, "err", "does not exist"),
    ("export", 2, lambda w: ["--mapping", M, "--db", w.corrupt, "--out", w.fresh("out")], None, "err", NOT_A_DATABASE),
    ("export", 2, lambda w: ["--mapping", M, "--db", w.malformed, "--out", w.fresh("out")], None, "err", MALFORMED),
    ("export", 10, lambda w: ["--mapping", w.sftp, "--db", w.good, "--out", w.fresh("out"), "--upload"], None, "err", "is unreachable after 1 attempt"),
    ("upload", 0, lambda w: ["--mapping", w.sftp, "--db", w.good, "--dry-run"], None, "out", "Dry run: nothing sent"),
    ("upload", 2, lambda w: ["--mapping", w.sftp, "--db", w.refusing, "--export", "7"], None, "err", "there is no export #7"),
    ("upload", 2, lambda w: ["--mapping", w.sftp, "--db", w.corrupt], None, "err", NOT_A_DATABASE),
    ("upload", 10, lambda w: ["--mapping", w.sftp, "--db", w.good], None, "err", "Check the host name, port and firewall"),
    ("adopt", 0, lambda w: ["--mapping", M, "--db", w.fresh("n.db"), w.old], None, "out", "Adopted 4 persons"),
    ("adopt", 1, lambda w: ["--mapping", M, "--db", w.fresh("n.db"), w.old_broken], None, "out", "has no externalId"),
    ("adopt", 2, lambda w: ["--mapping", M, "--db", w.fresh("n.db"), w.fresh("old.db")], None, "err", "does not exist"),
    ("compare", 0, lambda w: ["--mapping", M, "--db", w.good, w.same], None, "out", "No differences: going live"),
    ("compare", 1, lambda w: ["--mapping", M, "--db", w.good, w.changed], None, "out", "voornaam: 'Test' -> 'Anders'"),
    ("compare", 2, lambda w: ["--mapping", M, "--db", w.fresh("c.db"), w.same], None, "err", "does not exist"),
    ("reconcile", 0, lambda w: ["--mapping", w.reconcile, "--db", w.good, "--spendcloud", w.users["match"]], None, "out", "2 linked, 0 only in Spend Cloud, 0 only here"),
    ("reconcile", 1, lambda w: ["--mapping", w.reconcile, "--db", w.good, "--spendcloud", w.users["clash"]], None, "out", "email 'user2@example.nl' is held by Spend Cloud user 'other'"),
    ("reconcile", 2, lambda w: ["--mapping", w.reconcile, "--db", w.good, "--spendcloud", w.users["wrong"]], None, "err", "set reconcile.columns (and reconcile.active) in the mapping"),
    ("accounts", 0, lambda w: ["--mapping", M, "--db", w.good, "--json"], None, "out", '"accountReference": "1"'),
    ("accounts", 2, lambda w: ["--mapping", M, "--db", w.fresh("c.db")], None, "err", "does not exist"),
    ("log", 0, lambda w: ["--db", w.good], None, "out", "ExportFiles"),
    ("log", 2, lambda w: ["--db", w.fresh("l.db")], None, "err", "does not exist"),
    ("log", 2, lambda w: ["--db", w.corrupt], None, "err", NOT_A_DATABASE),
    ("log", 2, lambda w: ["--db", w.malformed], None, "err", MALFORMED),
    ("log", 2, lambda w: ["--db", w.good, "--since", "yesterday"], None, "err", "is not an ISO 8601 time"),
    ("demo", 0, lambda w: ["--mapping", w.demo / "spendcloud.yaml", "--events", w.demo / "samples" / "helloid" / "events.jsonl", "--out", w.fresh("d")], None, "out", "Files for Spend Cloud:"),
    ("demo", 1, lambda w: ["--mapping", w.demo / "spendcloud.yaml", "--events", w.failing_events, "--out", w.fresh("d")], None, "out", "required column 'gebruikersnaam' is empty"),
    ("demo", 2, lambda w: ["--mapping", w.fresh("none.yaml")], None, "err", "not found: name an existing file, or leave --mapping and --events out"),
    ("status", 0, lambda w: ["--mapping", M, "--db", w.healthy], None, "out", "healthy: nothing needs attention"),
    ("status", 1, lambda w: ["--mapping", M, "--db", w.refused], None, "out", "ATTENTION: refused since the last export"),
    ("status", 2, lambda w: ["--mapping", M, "--db", w.fresh("st.db")], None, "err", "does not exist"),
    ("init", 0, lambda w: [w.fresh("cust"), "--from", "afas"], None, "out", "spendcloud.yaml"),
    ("init", 2, lambda w: [w.fresh("cust"), "--from", "peoplesoft"], None, "err", "neither a starter (afas, raet"),
    ("init", 2, lambda w: [w.taken, "--from", "helloid"], None, "err", "init writes nothing over existing files"),
]
# fmt: on
# What each command runs first, made to fail with a bug: exit 3, and the way to see more.
BUGS = {
    "validate": ("scmapper.authoring.validation", "validate_files", ["--mapping", M]),
    "preview": ("scmapper.authoring.validation", "preview", ["--mapping", M, str(SAMPLE_EVENT)]),
    "test": ("scmapper.authoring.cases", "run_files", ["--mapping", M]),
    "apply": (
        "scmapper.lifecycle.actions",
        "apply",
        ["--mapping", M, "--db", "{fresh}", str(SAMPLE_EVENT), "--action", "create"],
    ),
    "sync": ("scmapper.lifecycle.sync", "run_sync", ["--mapping", M, "--db", "{fresh}", "--source", str(SAMPLE_EVENT)]),
    "export": ("scmapper.export.pipeline", "run_export", ["--mapping", M, "--db", "{good}", "--out", "{fresh}"]),
    "upload": ("scmapper.export.delivery", "upload", ["--mapping", "{sftp}", "--db", "{good}"]),
    "adopt": ("scmapper.migration.adopt", "analyse", ["--mapping", M, "--db", "{fresh}", "{old}"]),
    "log": ("scmapper.cli.auditlog", "read_log", ["--db", "{good}"]),
    "compare": ("scmapper.migration.compare", "run_compare", ["--mapping", M, "--db", "{good}", str(SAMPLE_EVENT)]),
    "reconcile": (
        "scmapper.migration.reconcile",
        "run_reconcile",
        ["--mapping", "{reconcile}", "--db", "{good}", "--spendcloud", "{users}"],
    ),
    "accounts": ("scmapper.migration.accounts", "list_accounts", ["--mapping", M, "--db", "{good}"]),
    "demo": ("scmapper.cli.demo", "run_demo", ["--out", "{fresh}"]),
    "init": ("scmapper.cli.init", "run_init", ["{fresh}", "--from", "afas"]),
    "status": ("scmapper.cli.status", "read_status", ["--mapping", M, "--db", "{good}"]),
}


@pytest.mark.parametrize(
    ("command", "code", "args", "stdin", "where", "message"), TABLE, ids=lambda v: v if isinstance(v, str | int) else ""
)
def test_the_table(world, command, code, args, stdin, where, message):
    result = run_cli(command, *args(world), input=stdin, env={"SCMAPPER_SC_PASS": "not used: nothing answers"})
    assert result.code == code, (result.out, result.err)
    assert message in getattr(result, where), (result.out, result.err)
    if code not in (0, 1) or where == "err":
        assert result.err.startswith("scmapper: ") or "sftp:" in result.err, result.err


@pytest.mark.parametrize("command", sorted(BUGS))
def test_a_bug_is_exit_3_and_says_to_rerun_with_debug(world, command, monkeypatch):
    import importlib

    module, name, args = BUGS[command]

    def boom(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(importlib.import_module(module), name, boom)
    places = {"fresh": str(world.fresh("x")), "good": str(world.good), "sftp": str(world.sftp), "old": str(world.old)}
    places |= {"reconcile": str(world.reconcile), "users": str(world.users["match"])}
    argv = [a.format(**places) for a in args]
    result = run_cli(command, *argv, env={"SCMAPPER_SC_PASS": "x"})
    assert (result.code, result.err.splitlines()[-1] + "\n") == (3, INTERNAL), result.err
    with pytest.raises(RuntimeError, match="boom"):
        run_cli(command, *argv, "--debug", env={"SCMAPPER_SC_PASS": "x"})


def readme_codes():
    """{command: the exit codes the README's commands table gives it}."""
    found = {}
    for line in (ROOT / "README.md").read_text("utf-8").replace("\\|", "/").splitlines():
        match = re.match(r"\| `scmapper (\w+)[^|]*\|[^|]*\|([^|]*)\|$", line)
        if match:
            codes = set()
            for low, high in re.findall(r"\b(\d+)(?:-(\d+))?\b", match.group(2)):
                codes |= set(range(int(low), int(high or low) + 1))
            found.setdefault(match.group(1), set()).update(codes)
    return found


def test_the_readme_gives_each_command_the_codes_proven_here():
    from scmapper.errors import DeliveryError

    proven = {}
    for command, code, *_ in TABLE:
        proven.setdefault(command, {3}).add(code)
    documented = readme_codes()
    assert set(documented) == set(proven) == set(BUGS)
    # 10-16 is the delivery class: one code here (10), each of the others against a real sshd (tests/sftp)
    delivery = set(range(10, 17))
    classes = [DeliveryError, *DeliveryError.__subclasses__()]
    assert {cls.exit_code for cls in classes} == delivery
    for command in proven:
        said = documented[command]
        assert said - delivery == proven[command] - delivery, command
        assert (said & delivery == delivery) == bool(proven[command] & delivery), command


def test_the_commands_a_run_builds_alone_are_the_parsers_commands():
    """`main` builds only the named command's options (COMMANDS); that list is every command."""
    from scmapper.cli.main import COMMANDS, _parser

    subparsers = next(a for a in _parser()._actions if a.dest == "command")
    assert set(subparsers.choices) == COMMANDS
    for name in COMMANDS:
        only = next(a for a in _parser(name)._actions if a.dest == "command")
        assert list(only.choices) == [name]
    assert run_cli("apply", "--mapping").code == 2  # its own usage error, as before
