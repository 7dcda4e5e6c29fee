"""The product as customers install it: the sdist and the wheel built from this tree hold every
module and data file, and the installed copy works from a folder of the customer's own.

The wheel is installed into a folder of its own and run from an empty working folder outside the
checkout, with `python -S` and a path of that folder and the dependencies' folder alone: the
editable install of this checkout (a hook that `site` loads) cannot stand in for a file the wheel
lacks. (.ci/run also installs it into a fresh venv from a wheelhouse, offline.)
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "scmapper"


def source_files():
    """Every file of the package's tree as the wheel should hold it (symlinked folders followed)."""
    found = set()
    for folder, dirs, files in os.walk(PACKAGE, followlinks=True):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if not name.endswith((".pyc", ".pyo")):
                found.add((Path(folder) / name).relative_to(ROOT).as_posix())
    return found


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """The sdist, and the wheel built from that sdist, offline: `python -m build` without
    --sdist --wheel (with both it builds each from the tree, and a stale build/ folder there
    could lend the wheel files the tree no longer has)."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [wheel] = out.glob("scmapper-*.whl")
    [sdist] = out.glob("scmapper-*.tar.gz")
    return wheel, sdist


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory):
    """The wheel unpacked as pip installs it, into a folder of its own."""
    target = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(target), str(dist[0])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return target


def isolated(site):
    """An environment whose Python finds the installed copy and the dependencies, nothing else."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCMAPPER_", "PYTHON"))}
    dependencies = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    env["PYTHONPATH"] = os.pathsep.join([str(site), *dependencies])
    return env


def run_installed(site, cwd, *args, stdin=None):
    return subprocess.run(
        [sys.executable, "-S", "-m", "scmapper", *args],
        cwd=cwd,
        env=isolated(site),
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_wheel_holds_every_module_and_data_file(dist):
    wheel, _ = dist
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(source_files() - names)
    assert missing == []
    assert "scmapper/schemas/mapping.schema.json" in names
    assert "scmapper/starters/afas.yaml" in names and "scmapper/starters/samples/afas/T4E_HelloID_Users_v2.json" in names


def test_the_sdist_holds_every_module_and_data_file(dist):
    _, sdist = dist
    with tarfile.open(sdist) as archive:
        top = archive.getnames()[0].split("/")[0]
        names = {name.removeprefix(top + "/") for name in archive.getnames()}
    assert sorted(source_files() - names) == []


def test_the_installed_copy_is_the_one_that_runs(installed, tmp_path):
    done = run_installed(installed, tmp_path, "--version")
    assert done.returncode == 0 and done.stdout.startswith("scmapper "), done.stderr
    where = subprocess.run(
        [sys.executable, "-S", "-c", "import scmapper.store; print(scmapper.store.__file__)"],
        cwd=tmp_path,
        env=isolated(installed),
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(installed))


def test_init_validate_test_sync_from_an_empty_folder(installed, tmp_path):
    made = run_installed(installed, tmp_path, "init", "cust", "--from", "afas")
    assert made.returncode == 0, made.stderr
    mapping = (tmp_path / "cust" / "spendcloud.yaml").read_text("utf-8")
    assert "extends: starter:afas" in mapping and "../" not in mapping
    folder = tmp_path / "cust"
    checked = run_installed(installed, folder, "validate", "spendcloud.yaml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "builds on starter:afas" in checked.stdout
    tested = run_installed(installed, folder, "test", "spendcloud.yaml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    samples = sorted(str(p.relative_to(folder)) for p in (folder / "samples").glob("*.json"))
    synced = run_installed(installed, folder, "sync", "--mapping", "spendcloud.yaml", "--db", "s.db", "--json", "--source", *samples)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert json.loads(synced.stdout)["counts"]["created"] > 0


def test_the_agent_path_from_an_empty_folder(installed, tmp_path):
    assert run_installed(installed, tmp_path, "init", ".", "--from", "helloid").returncode == 0
    applied = run_installed(
        installed, tmp_path, "apply", "--mapping", "spendcloud.yaml", "--db", "s.db", "--action", "create",
        "samples/create-event.json",
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert json.loads(applied.stdout)["success"] is True
    exported = run_installed(installed, tmp_path, "export", "--mapping", "spendcloud.yaml", "--db", "s.db", "--out", "out")
    assert exported.returncode == 0, exported.stdout + exported.stderr
    assert (tmp_path / "out" / "Users.csv").read_text("utf-8-sig").count("\n") == 2  # header and the person


def test_demo_from_the_installed_copy(installed, tmp_path):
    done = run_installed(installed, tmp_path, "demo")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert (tmp_path / "demo-out" / "helloid" / "Users.csv").is_file()
    assert (tmp_path / "demo-out" / "afas" / "Roles.csv").is_file()


def test_a_broken_install_ends_in_one_line_and_exit_3(installed, tmp_path):
    broken = tmp_path / "site"
    shutil.copytree(installed, broken)
    shutil.rmtree(broken / "scmapper" / "store")
    (tmp_path / "work").mkdir()
    assert run_installed(broken, tmp_path / "work", "init", "c", "--from", "helloid").returncode == 0
    done = run_installed(broken, tmp_path / "work" / "c", "apply", "--mapping", "spendcloud.yaml", "--db", "s.db",
                         "--action", "create", "samples/create-event.json")
    assert done.returncode == 3
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0
    assert "internal error" in done.stderr and "scmapper.store" in done.stderr
    debug = run_installed(broken, tmp_path / "work" / "c", "apply", "--debug", "--mapping", "spendcloud.yaml",
                          "--db", "s.db", "--action", "create", "samples/create-event.json")
    assert "Traceback" in debug.stderr
