"""The one trust boundary for files a mapping names: they stay inside the mapping's root.

Vocabulary: the *root* is the folder of the mapping named on the command line, or the one
set with `--root` or `SCMAPPER_ROOT`; a *named path* is a path a mapping holds (`extends`,
export templates, `sftp.connection`, `key_file`, `known_hosts`, samples, test files). A named
path is taken relative to the folder of the file that names it, and after following symlinks
it must lie inside the root; anything else is refused, naming the key, before it is read.
Drive letters and UNC paths follow the same rule (`inside` works on either path flavour).
"""

from __future__ import annotations

import ntpath
import os
import posixpath
from pathlib import Path
from types import ModuleType

from scmapper.errors import UsageError

ENVIRONMENT = "SCMAPPER_ROOT"


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

    def holds(self, path: Path) -> bool:
        try:
            return inside(str(self.folder), os.path.realpath(path))
        except ValueError:  # a NUL in the name: it names no file at all
            return False

    def resolve(self, name: str, base: Path, key: str) -> Path:
        """The file `name` (relative to folder `base`, `~` expanded) that key `key` names;
        OutsideRoot when it leads outside the root."""
        path = Path(base, Path(name).expanduser())
        if not self.holds(path):
            raise OutsideRoot(
                f"{key} {name!r} leads outside the mapping's folder {self.folder}: keep the files a mapping"
                f" names inside it, or name a wider folder with --root or {ENVIRONMENT}"
            )
        return path


# Both flavours, so the rule can be tested for Windows paths on any machine.
FLAVOURS = {"posix": posixpath, "windows": ntpath}
