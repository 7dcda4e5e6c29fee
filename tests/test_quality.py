"""The project holds its own code to the rules in pyproject.toml: ruff (with bugbear and the
security rules) and mypy on the package."""

import subprocess
import sys

from conftest import ROOT


def run(*args):
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff():
    done = run("ruff", "check", "scmapper", "tests", "tools", "benchmarks")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy():
    done = run("mypy")
    assert done.returncode == 0, done.stdout + done.stderr
