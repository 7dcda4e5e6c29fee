"""The validated-mapping cache: used only while every file is unchanged, never trusted blindly."""

import hashlib
import hmac
import shutil
import stat
import subprocess
import sys

from scmapper.mapping import cache
from scmapper.mapping.loading import load_rules
from scmapper.mapping.trust import Root

from conftest import DEFAULT_MAPPING, ROOT, SAMPLE_EVENT, make_person, native, run_cli

# One apply in a fresh process; which of the modules that parse, validate or compile it loaded.
PROBE = (
    "import sys; from scmapper.cli.main import main; "
    "rc = main(['apply', '--mapping', {mapping!r}, '--db', {db!r}, '--action', 'create', {event!r}]); "
    "print(rc, sorted(m for m in {watched!r} if m in sys.modules), file=sys.stderr)"
)
WATCHED = ("yaml", "jsonschema", "paramiko", "jinja2", "scmapper.mapping.compiler")


def probe(mapping, db):
    code = PROBE.format(mapping=str(mapping), db=str(db), event=str(SAMPLE_EVENT), watched=WATCHED)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    return done.stderr.strip().splitlines()[-1]


FIRST_RUN = "0 ['jinja2', 'jsonschema', 'scmapper.mapping.compiler', 'yaml']"


def test_steady_state_apply_skips_yaml_json_schema_and_jinja_and_compiles_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("SCMAPPER_CACHE_DIR", str(tmp_path / "cache"))  # empty: the first run must miss
    db = tmp_path / "sc.db"
    assert probe(DEFAULT_MAPPING, db) == FIRST_RUN  # the first run validates and compiles in full
    assert probe(DEFAULT_MAPPING, db) == "0 []"  # later runs take both from the cache, and run no Jinja


def test_an_interpreted_piece_brings_jinja_back_and_its_code_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("SCMAPPER_CACHE_DIR", str(tmp_path / "cache"))
    shutil.copytree(ROOT / "mappings" / "shared", tmp_path / "shared")
    mapping = tmp_path / "m.yaml"
    first_name = '"{{ person.Name.NickName | default(person.Name.GivenName, true) }}"'
    looped = '"{% for n in [person.Name.GivenName] %}{{ n }}{% endfor %}"'  # a loop: left to Jinja
    mapping.write_text(DEFAULT_MAPPING.read_text("utf-8").replace(first_name, looped), "utf-8")
    db = tmp_path / "sc.db"
    assert probe(mapping, db) == FIRST_RUN
    assert probe(mapping, db) == "0 ['jinja2']"  # Jinja for the one piece, from kept code: nothing compiled


def test_compiled_code_is_trusted_only_under_the_users_seal(tmp_path, monkeypatch):
    monkeypatch.setenv("SCMAPPER_CACHE_DIR", str(tmp_path / "cache"))
    db = tmp_path / "sc.db"
    probe(DEFAULT_MAPPING, db)
    [code] = (tmp_path / "cache").glob("*.code")
    seal, _, payload = code.read_bytes().partition(b"\n")
    code.write_bytes(seal + b"\n" + payload[:-1] + b"\x00")  # one byte changed
    assert "scmapper.mapping.compiler" in probe(DEFAULT_MAPPING, db)  # refused: compiled again, and kept again
    assert probe(DEFAULT_MAPPING, db) == "0 []"


def test_a_changed_base_file_is_seen_at_once(tmp_path):
    (tmp_path / "shared").mkdir()
    base = tmp_path / "shared" / "base.yaml"
    base.write_text((ROOT / "mappings" / "shared" / "spendcloud-base.yaml").read_text("utf-8"))
    mapping = tmp_path / "m.yaml"
    mapping.write_text(DEFAULT_MAPPING.read_text("utf-8").replace("shared/spendcloud-base.yaml", "shared/base.yaml"))
    assert load_rules(mapping).mapping.delete == "soft"
    assert load_rules(mapping).mapping.delete == "soft"  # from the cache
    base.write_text(base.read_text().replace("delete: soft", "delete: hard"))
    assert load_rules(mapping).mapping.delete == "hard"
    base.write_text(base.read_text().replace("delete: hard", "delete: never"))
    result = run_cli(
        "apply", "--mapping", mapping, "--db", tmp_path / "x.db", "-", input=native("create", make_person())
    )
    assert result.code == 2 and "lifecycle.delete: 'never' is not one of" in result.err


def entry_of(mapping):
    return cache._entry(mapping, Root.of(mapping).folder, mapping.read_bytes())


def test_a_damaged_entry_is_a_miss(tmp_path):
    load_rules(DEFAULT_MAPPING)
    entry = entry_of(DEFAULT_MAPPING)
    seal, _, payload = entry.read_bytes().partition(b"\n")
    for damage in (
        seal + b"\n" + payload[:-20],  # cut short
        seal + b"\n" + payload.replace(b'"delete": "soft"', b'"delete": "hard"'),  # edited after sealing
        b'{"version": "0", "bases": [], "data": {"person": "not a mapping"}}',  # no seal at all
    ):
        entry.write_bytes(damage)
        mapping = load_rules(DEFAULT_MAPPING).mapping
        assert mapping.key == "externalId" and mapping.delete == "soft"
        assert entry.read_bytes().partition(b"\n")[2] == payload  # rewritten whole


def test_an_entry_planted_in_a_shared_cache_folder_is_not_trusted(tmp_path, monkeypatch):
    """Another user who can write SCMAPPER_CACHE_DIR can plant an entry, but cannot seal it: the
    key stays in this user's own cache folder."""
    shared = tmp_path / "shared-cache"
    monkeypatch.setenv("SCMAPPER_CACHE_DIR", str(shared))
    load_rules(DEFAULT_MAPPING)
    entry = entry_of(DEFAULT_MAPPING)
    payload = entry.read_bytes().partition(b"\n")[2].replace(b'"delete": "soft"', b'"delete": "hard"')
    forged = hmac.new(b"k" * 32, payload, hashlib.sha256).hexdigest().encode()  # not the user's key
    entry.write_bytes(forged + b"\n" + payload)
    assert load_rules(DEFAULT_MAPPING).mapping.delete == "soft"
    assert not (shared / cache.KEY_NAME).exists()  # the key never lives in the configured folder


def test_entries_are_private(tmp_path):
    load_rules(DEFAULT_MAPPING)
    folder = cache.directory()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(e.stat().st_mode) == 0o600 for e in folder.glob("*.json"))


def test_an_entry_made_by_an_older_loader_is_not_used(monkeypatch):
    """Loading rules change within one version (an override keeping its base's checks): an entry
    from before such a change would bring the old document back, so the loader is in the key."""
    root = Root.of(DEFAULT_MAPPING).folder
    load_rules(DEFAULT_MAPPING)
    data, files = cache.lookup(DEFAULT_MAPPING, root)
    with monkeypatch.context() as older:
        older.setattr(cache, "LOADER", cache.LOADER - 1)
        cache.store(DEFAULT_MAPPING, root, {**data, "lifecycle": {**data["lifecycle"], "delete": "hard"}}, files)
        assert load_rules(DEFAULT_MAPPING).mapping.delete == "hard"  # sealed: the older loader would use it
    assert load_rules(DEFAULT_MAPPING).mapping.delete == "soft"
