"""The docs are executed, not just shown: every ```sh block of the user guides runs here, in a
copy of the project's mappings, with the real `scmapper` command."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

GUIDES = ["implementers.md", "consultants.md", "operators.md"]
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.DOTALL | re.MULTILINE)


def blocks(name):
    return BLOCK.findall((ROOT / "docs" / name).read_text("utf-8"))


@pytest.mark.parametrize("guide", GUIDES)
def test_every_command_in_the_guide_works(guide, tmp_path):
    shutil.copytree(ROOT / "mappings", tmp_path / "mappings")
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "scmapper"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m scmapper "$@"\n')
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}
    found = blocks(guide)
    assert found, f"{guide} has no runnable examples"
    for number, script in enumerate(found, start=1):
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"{guide} block {number} failed:\n{script}\n{done.stdout}\n{done.stderr}"


def test_the_implementers_walkthrough_ends_with_files(tmp_path):
    test_every_command_in_the_guide_works("implementers.md", tmp_path)
    users = (tmp_path / "acme-out" / "Users.csv").read_text("utf-8-sig")
    assert '"Casper Johannes";"van \'t";"Hoff - Op den Berg";"M";"cas.vanthoff@gemeente-voorbeeld.nl";"choff"' in users


def test_mapping_reference_is_current():
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "mapping_reference.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout


def test_readme_opens_with_the_two_commands_ci_runs():
    readme = (ROOT / "README.md").read_text("utf-8")
    first_block = re.search(r"```sh\n(.*?)```", readme, re.DOTALL).group(1).strip().splitlines()
    assert len(first_block) == 2
    assert first_block[1] in (ROOT / ".ci" / "run").read_text("utf-8")
    assert "scmapper demo" in first_block[0]
