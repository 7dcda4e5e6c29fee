"""The one trust boundary for files a mapping names: they stay inside the mapping's root.

Vocabulary: the *root* is the folder of the mapping named on the command line, or the one
set with `--root` or `SCMAPPER_ROOT`; a *named path* is a path a mapping holds (`extends`,
export templates, `sftp.connection`, `key_file`, `known_hosts`, samples, test files). A named
path is taken relative to the folder of the file that names it, and after following symlinks
it must lie inside the root; anything else is refused, naming the key, before it is read.
Drive letters and UNC paths follow the same rule (`inside` works on either path flavour).

The *starters* scmapper ships (the default mapping, shared bases, each source system's mapping
with samples and test cases) are package data, trusted like the root and only ever read. A
mapping anywhere names one as `extends: starter:afas` (STARTER_PREFIX), which cannot be taken
for a path; what a starter names in turn (its bases, samples) resolves inside the package.
"""

from __future__ import annotations

import ntpath
import os
import posixpath
import re
from pathlib import Path
from types import ModuleType

from scmapper.errors import UsageError

ENVIRONMENT = "SCMAPPER_ROOT"
STARTER_PREFIX = "starter:"
# The shipped starters, read-only package data beside this module.
STARTERS = Path(os.path.realpath(Path(__file__).parent.parent / "starters"))
_STARTER_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)?")


class OutsideRoot(UsageError):
    """A path a mapping names leads outside the mapping's root (exit 2); nothing was read."""


def inside(root: str, path: str, flavour: ModuleType = os.path) -> bool:
    """Whether `path` is `root` or lies under it, both absolute and already resolved; on
    Windows (ntpath) without regard to case, and never across drives or UNC shares."""
    folder, target = (flavour.normcase(flavour.normpath(p)) for p in (root, path))
    try:
        return flavour.commonpath([folder, target]) == folder
    except ValueError:  # different drives, or one path relative
        return False


class Root:
    """The folder a mapping may read from."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(os.path.realpath(folder))

    @classmethod
    def of(cls, mapping: str | Path, configured: str | Path | None = None) -> Root:
        """The root for a mapping file: `configured` (--root), else SCMAPPER_ROOT, else its folder."""
        chosen = configured or os.environ.get(ENVIRONMENT) or Path(mapping).parent
        root = cls(chosen)
        if not root.holds(Path(mapping)):
            raise OutsideRoot(f"mapping {mapping} is outside the root {root.folder} set with --root or {ENVIRONMENT}")
        return root

    def holds(self, path: Path, named_from: Path | None = None) -> bool:
        """Whether `path`, symlinks followed, lies inside the root; or inside the shipped
        starters when a starter names it (`named_from`, the naming file's folder, is in them)."""
        try:
            real = os.path.realpath(path)
            if inside(str(self.folder), real):
                return True
            return named_from is not None and in_starters(named_from) and inside(str(STARTERS), real)
        except ValueError:  # a NUL in the name: it names no file at all
            return False

    def resolve(self, name: str, base: Path, key: str) -> Path:
        """The file `name` (relative to folder `base`, `~` expanded; or a shipped starter,
        `starter:NAME`) that key `key` names; OutsideRoot when it leads outside the root."""
        if name.startswith(STARTER_PREFIX):
            return starter(name, key)
        path = Path(base, Path(name).expanduser())
        if not self.holds(path, base):
            raise OutsideRoot(
                f"{key} {name!r} leads outside the mapping's folder {self.folder}: keep the files a mapping"
                f" names inside it, or name a wider folder with --root or {ENVIRONMENT}"
            )
        return path


def starter(name: str, key: str = "extends") -> Path:
    """The shipped mapping `starter:NAME` (`starter:afas`, `starter:shared/spendcloud-base`);
    OutsideRoot for a name that is not a starter's."""
    short = name.removeprefix(STARTER_PREFIX).removesuffix(".yaml")
    path = STARTERS / f"{short}.yaml"
    if not _STARTER_NAME.fullmatch(short) or not path.is_file():
        raise OutsideRoot(f"{key} {name!r}: scmapper ships no such starter; it has {', '.join(starter_names())}")
    return path


def starter_names() -> list[str]:
    """The names a mapping can extend as `starter:NAME`: the source systems, the default mapping."""
    found = (p.stem for p in STARTERS.glob("*.yaml") if not p.name.endswith(".tests.yaml"))
    return sorted(found)


def in_starters(path: str | Path) -> bool:
    """Whether `path`, symlinks followed, is one of the shipped starters' files or folders."""
    return inside(str(STARTERS), os.path.realpath(path))


def starter_of(path: str | Path) -> str | None:
    """`starter:NAME` when `path` is one of the shipped starters, else None."""
    real = os.path.realpath(path)
    if not inside(str(STARTERS), real):
        return None
    return STARTER_PREFIX + Path(os.path.relpath(real, STARTERS)).with_suffix("").as_posix()


# Both flavours, so the rule can be tested for Windows paths on any machine.
FLAVOURS = {"posix": posixpath, "windows": ntpath}
