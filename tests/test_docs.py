"""The docs are executed, not just shown: every ```sh block of the user guides runs here, in one
shell per guide, in a copy of the project's mappings, with the scmapper the README's first command
installs into `.venv` and nothing else: a guide that forgets to activate the venv fails with
`scmapper: command not found`, as its reader's shell would."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

GUIDES = ["implementers.md", "consultants.md", "operators.md"]
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.DOTALL | re.MULTILINE)
VENV = ROOT / ".venv"
ACTIVATE = ". .venv/bin/activate"
# A bare `scmapper VERB` (not .venv/bin/scmapper, not scmapper.exe by its full path).
COMMAND = re.compile(
    r"(?<![\w/\\.-])scmapper (init|validate|preview|test|apply|sync|export|upload|adopt|log|demo|compare|reconcile)\b"
)


def blocks(name):
    return BLOCK.findall((ROOT / "docs" / name).read_text("utf-8"))


def without_scmapper(path):
    """PATH without any folder that holds a `scmapper` (a developer's activated venv)."""
    return os.pathsep.join(d for d in path.split(os.pathsep) if d and not (os.path.exists(os.path.join(d, "scmapper"))))


@pytest.mark.parametrize("guide", GUIDES)
def test_every_command_in_the_guide_works(guide, tmp_path):
    if not (VENV / "bin" / "scmapper").exists():
        pytest.fail(f"the docs run with the README's venv: run the README's commands first ({VENV} has no scmapper)")
    shutil.copytree(ROOT / "mappings", tmp_path / "mappings")
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    (tmp_path / ".venv").symlink_to(VENV, target_is_directory=True)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = without_scmapper(env["PATH"])
    found = blocks(guide)
    assert found, f"{guide} has no runnable examples"
    assert found[0].strip() == ACTIVATE, f"{guide} must open with `{ACTIVATE}`, as its reader's shell needs"
    # One shell for the whole guide, as its reader has; each block announces itself on stderr.
    script = "".join(f"echo '::block {n}' >&2\n{block}" for n, block in enumerate(found, start=1))
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "! command -v scmapper >/dev/null\n" + script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    failed = re.findall(r"::block (\d+)", done.stderr)
    where = f"block {failed[-1]}:\n{found[int(failed[-1]) - 1]}" if failed else "before its first block"
    assert done.returncode == 0, f"{guide} failed in {where}\n{done.stdout}\n{done.stderr}"


def test_every_command_in_the_docs_follows_the_activation_or_names_the_venv():
    pages = sorted((ROOT / "docs").rglob("*.md"))
    late = []
    for page in pages:
        text = page.read_text("utf-8")
        first = COMMAND.search(text)
        if first and not 0 <= text.find(ACTIVATE) < first.start():
            late.append(f"{page.relative_to(ROOT)}: `{first.group(0)}` before `{ACTIVATE}`")
    assert late == []
    assert sum(bool(COMMAND.search(p.read_text("utf-8"))) for p in pages) >= 12  # the check does look


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
