"""The trust boundary for files: a mapping reads nothing outside its root, and no message
quotes a file it should not have read (issue 17)."""

import ntpath
import os
import posixpath

import pytest

from scmapper.mapping.trust import inside

from conftest import DEFAULT_MAPPING, derived_mapping, make_person, native, run_cli

# Every test here runs twice: on the mapping compiled to Python and on every piece in Jinja.
pytestmark = pytest.mark.usefixtures("evaluation")

SECRET = "root:$6$hash:19000:0:99999:7:::\nDB_PASSWORD=hunter2\n"
MAPPING = """version: 1
person:
  key: k
  extra_columns: [k, u]
  columns:
    k: "{{ person.ExternalId }}"
    u: "{{ person.Accounts.MicrosoftActiveDirectory.sAMAccountName }}"
"""


@pytest.fixture
def secret(tmp_path):
    """A file beside, not inside, the mapping's folder."""
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "customer"
    path.mkdir()
    return path


def assert_unquoted(*texts):
    for text in texts:
        assert "hunter2" not in text and "root:" not in text and "99999" not in text


def with_export(folder, template):
    mapping = folder / "m.yaml"
    mapping.write_text(MAPPING + f'export:\n  persons: {{file: u.csv, columns: [u], template: "{template}"}}\n')
    return mapping


@pytest.mark.parametrize("name", ["../secret.txt", "{secret}"], ids=["upwards", "absolute"])
def test_an_export_template_outside_the_folder_is_refused_unread(folder, secret, name, db):
    mapping = with_export(folder, name.format(secret=secret))
    checked = run_cli("validate", mapping)
    assert checked.code == 1 and "export.persons.template" in checked.out and "leads outside" in checked.out
    assert run_cli("apply", "--mapping", mapping, "--db", db, "-", input=native("create", make_person())).code == 0
    exported = run_cli("export", "--mapping", mapping, "--db", db, "--out", folder / "out")
    assert exported.code == 2 and "leads outside the mapping's folder" in exported.err
    assert not (folder / "out").exists()
    assert_unquoted(checked.out, exported.out, exported.err)


def test_a_symlink_inside_the_folder_to_a_file_outside_is_refused(folder, secret):
    (folder / "layout.j2").symlink_to(secret)
    checked = run_cli("validate", with_export(folder, "layout.j2"))
    assert checked.code == 1 and "leads outside the mapping's folder" in checked.out
    assert_unquoted(checked.out)


@pytest.mark.parametrize("base", ["{secret}", "../secret.txt", "/proc/self/environ"])
def test_extends_outside_the_folder_is_refused_unread(folder, secret, base, db):
    mapping = folder / "m.yaml"
    mapping.write_text(MAPPING.replace("version: 1\n", f"version: 1\nextends: {base.format(secret=secret)}\n"))
    checked = run_cli("validate", mapping)
    applied = run_cli("apply", "--mapping", mapping, "--db", db, "-", input=native("create", make_person()))
    assert checked.code == 1 and "extends" in checked.out and "leads outside" in checked.out
    assert applied.code == 2 and "leads outside" in applied.err and not db.exists()
    assert_unquoted(checked.out, applied.out, applied.err)


def test_a_sample_linked_from_outside_lends_no_field_names_to_suggestions(folder, tmp_path):
    (tmp_path / "hr.json").write_text('[{"ExternalId": "1", "DB_PASSWORD_hunter2": "x"}]')
    (folder / "samples").mkdir()
    (folder / "samples" / "people.json").symlink_to(tmp_path / "hr.json")
    mapping = folder / "m.yaml"
    mapping.write_text(MAPPING.replace("sAMAccountName }}", "sAMAccountName }}{{ person.DB_PASSWORD_hunter }}"))
    mapping.write_text(mapping.read_text() + "source:\n  samples: samples\n")
    checked = run_cli("validate", mapping)
    assert "people.json leads outside the mapping's folder" in checked.out and "no sample was read" in checked.out
    assert_unquoted(checked.out)


@pytest.mark.parametrize(("command", "code"), [("validate", 1), ("test", 2)])
def test_a_cases_file_linked_from_outside_is_not_read(folder, secret, command, code):
    mapping = folder / "m.yaml"
    mapping.write_text(MAPPING)
    (folder / "m.tests.yaml").symlink_to(secret)
    checked = run_cli(command, mapping)
    assert checked.code == code
    assert "the test cases file leads outside the mapping's folder" in checked.out + checked.err
    assert_unquoted(checked.out, checked.err)


def test_a_cases_file_named_on_purpose_may_live_elsewhere(folder, tmp_path):
    """`test --cases` reads the file the user named; its `mapping:` is only compared, never read."""
    mapping = folder / "m.yaml"
    mapping.write_text(MAPPING)
    cases = tmp_path / "elsewhere" / "m.tests.yaml"
    cases.parent.mkdir()
    cases.write_text(
        "version: 1\nmapping: ../customer/m.yaml\ncases:\n  - name: one\n    record: {ExternalId: '7',"
        " Accounts: {MicrosoftActiveDirectory: {sAMAccountName: jan}}}\n    expect: {person: {k: '7', u: jan}}\n"
    )
    result = run_cli("test", mapping, "--cases", cases)
    assert (result.code, result.out.splitlines()[-1]) == (0, f"{cases}: 1 cases passed, 0 failed"), result.out
    cases.write_text(cases.read_text().replace("../customer/m.yaml", '"a\\0b"'))  # YAML's \0: a NUL
    odd = run_cli("test", mapping, "--cases", cases)
    assert odd.code == 0 and "names no file" in odd.out, odd.out


def test_a_long_value_is_shortened_in_messages(folder):
    mapping = folder / "m.yaml"
    mapping.write_text(f"version: 1\nname: [x]\nperson: {'x' * 5000}\n")
    checked = run_cli("validate", mapping)
    assert checked.code == 1 and "x" * 50 + "..." in checked.out and "x" * 60 not in checked.out


def test_a_file_name_holding_a_nul_names_no_file(folder):
    mapping = folder / "m.yaml"
    mapping.write_text(MAPPING.replace("version: 1\n", 'version: 1\nextends: "a\\0b"\n'))
    checked = run_cli("validate", mapping)
    assert checked.code == 1 and "extends 'a\\x00b' leads outside the mapping's folder" in checked.out, checked.out


def test_a_file_inside_the_folder_that_is_no_mapping_is_not_quoted(folder):
    (folder / "notes.yaml").write_text(SECRET)
    (folder / "data.yaml").write_text("DB_PASSWORD: hunter2\nroot: x\n")
    for base in ("notes.yaml", "data.yaml"):
        mapping = folder / "m.yaml"
        mapping.write_text(MAPPING.replace("version: 1\n", f"version: 1\nextends: {base}\n"))
        checked = run_cli("validate", mapping)
        assert checked.code == 1 and "is not a mapping file" in checked.out, checked.out
        assert_unquoted(checked.out)


def test_an_sftp_connection_file_outside_the_folder_is_refused_unread(folder, secret, db, tmp_path):
    sftp = {"connection": "../secret.txt", "remote_dir": "/in"}
    mapping = derived_mapping(folder / "m.yaml", lambda m: m.update(sftp=sftp))
    checked = run_cli("validate", mapping)
    assert checked.code == 1 and "sftp.connection '../secret.txt' leads outside" in checked.out
    assert run_cli("apply", "--mapping", mapping, "--db", db, "-", input=native("create", make_person())).code == 0
    assert run_cli("export", "--mapping", mapping, "--db", db, "--out", tmp_path / "out").code == 0
    uploaded = run_cli("upload", "--mapping", mapping, "--db", db)
    assert uploaded.code == 2 and "leads outside the mapping's folder" in uploaded.err
    assert_unquoted(checked.out, uploaded.out, uploaded.err)


def test_a_wider_root_is_named_on_purpose(tmp_path, db):
    """A customer folder beside a shared one: refused by default, read with --root or SCMAPPER_ROOT."""
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "base.yaml").write_text("version: 1\nlifecycle: {delete: hard}\n")
    (tmp_path / "acme").mkdir()
    mapping = tmp_path / "acme" / "m.yaml"
    mapping.write_text(MAPPING.replace("version: 1\n", "version: 1\nextends: ../shared/base.yaml\n"))
    assert run_cli("validate", mapping).code == 1
    assert run_cli("validate", mapping, "--root", tmp_path).code == 0
    assert run_cli("validate", mapping, env={"SCMAPPER_ROOT": str(tmp_path)}).code == 0
    outside = run_cli("validate", mapping, "--root", tmp_path / "shared")
    assert outside.code == 2 and "is outside the root" in outside.err


@pytest.mark.parametrize(
    ("root", "path", "flavour", "expected"),
    [
        ("/srv/maps", "/srv/maps/shared/base.yaml", posixpath, True),
        ("/srv/maps", "/srv/maps", posixpath, True),
        ("/srv/maps", "/srv/maps-old/base.yaml", posixpath, False),
        ("/srv/maps", "/srv/secret.txt", posixpath, False),
        ("/srv/maps", "/SRV/maps/base.yaml", posixpath, False),  # POSIX names are case-sensitive
        (r"C:\scmapper\maps", r"C:\scmapper\maps\shared\base.yaml", ntpath, True),
        (r"C:\scmapper\maps", r"c:\SCMAPPER\Maps\base.yaml", ntpath, True),  # Windows names are not
        (r"C:\scmapper\maps", r"C:\scmapper\maps2\base.yaml", ntpath, False),
        (r"C:\scmapper\maps", r"D:\scmapper\maps\base.yaml", ntpath, False),  # another drive
        (r"C:\scmapper\maps", r"C:\scmapper\maps\..\secret.txt", ntpath, False),
        (r"\\fileserver\hr\maps", r"\\fileserver\hr\maps\base.yaml", ntpath, True),  # UNC
        (r"\\fileserver\hr\maps", r"\\fileserver\other\maps\base.yaml", ntpath, False),
        (r"\\fileserver\hr\maps", r"C:\hr\maps\base.yaml", ntpath, False),
    ],
)
def test_inside_the_root_on_either_platform(root, path, flavour, expected):
    assert inside(root, path, flavour) is expected


def test_the_export_report_is_never_written_through_a_planted_symlink(tmp_path, db):
    """The report's temporary name is predictable (the process id): a link planted there must not
    redirect the write to a file elsewhere."""
    assert (
        run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "-", input=native("create", make_person())).code == 0
    )
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (out / f".export-report.json.{os.getpid()}.tmp").symlink_to(victim)  # run_cli runs in this process
    assert run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", db, "--out", out).code == 0
    assert victim.read_text() == "keep me"
    assert (out / "export-report.json").is_file() and not (out / "export-report.json").is_symlink()
