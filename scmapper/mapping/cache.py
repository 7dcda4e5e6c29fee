"""A cache of validated mappings, so the per-event `apply` skips YAML and JSON Schema.

Vocabulary: an *entry* is the merged, validated document of one mapping file, stored as
JSON (never pickle: loading it runs no code) under a key made of scmapper's version and
loader number, the file's path, its root and its bytes, with the path and SHA-256 of every
base file it extends; beside it, its *code*: the compiled templates and expressions of the
mapping (marshal, for this Python only): the program compiler.py wrote and the Jinja code of the
pieces it left interpreted (for that Jinja version only), so a steady-state event compiles nothing. Both
are *sealed* with an HMAC under the user's own *cache key*, kept in the user's private cache
folder even when SCMAPPER_CACHE_DIR points elsewhere: an entry someone else planted or edited
fails the seal, and so does one renamed to another key (the seal covers the entry's own name).
It is used only when sealed and when every one of its files, read again by the path it was read
by (a base reached through a symlinked folder is read through the link, so a switched link is
seen), still has the same bytes; anything else is a miss, and a miss is always safe: the mapping
is loaded and validated in full.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import marshal
import os
import sys
from functools import cache
from pathlib import Path
from types import CodeType
from typing import Any

from scmapper import __version__
from scmapper.files import create_private, write_atomic
from scmapper.mapping import program
from scmapper.mapping.program import Key

Files = list[tuple[Path, bytes]]
KEY_NAME = "cache-key"
# Part of every entry's key beside the version: raised whenever loading the same files gives a
# different document, so no entry made by an older loader is used, not even on a machine that
# ran a development copy of this version. 2: an override keeps its base column's checks;
# 3: an override that sets only a lookup's default or map, or a check, keeps the rest.
LOADER = 4  # 4: seals bound to the entry's name, bases kept by the path they were read by


def directory() -> Path:
    """SCMAPPER_CACHE_DIR, else the platform's per-user cache folder."""
    return Path(os.environ.get("SCMAPPER_CACHE_DIR") or _user_directory())


def _user_directory() -> Path:
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "scmapper" / "cache"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "scmapper"


@cache
def _key(folder: Path) -> bytes | None:
    """The user's cache key (made once, readable by the user only); None where there is none
    to be had, and then nothing is cached."""
    path = folder / KEY_NAME
    with contextlib.suppress(OSError):
        key = path.read_bytes()
        if len(key) == 32 and _private(path):
            return key
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        import secrets  # once per user, not per event

        with create_private(path) as handle:
            key = secrets.token_bytes(32)
            handle.write(key)
        return key
    except OSError:
        return None


def _private(path: Path) -> bool:
    """Owned by this user and open to nobody else (POSIX); on Windows the per-user folder's ACL."""
    if not hasattr(os, "getuid"):
        return True
    info = path.stat()
    return info.st_uid == os.getuid() and info.st_mode & 0o077 == 0


def _seal(payload: bytes, name: str) -> str | None:
    """The HMAC of an entry's payload bound to the entry's own file name (its key)."""
    key = _key(_user_directory())
    return None if key is None else hmac.new(key, name.encode() + b"\0" + payload, hashlib.sha256).hexdigest()


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _entry(path: Path, root: Path, raw: bytes) -> Path:
    key = _digest(f"{__version__}\0{LOADER}\0{path.resolve()}\0{root}\0".encode() + raw)
    return directory() / f"{key}.json"


def lookup(path: Path, root: Path) -> tuple[dict[str, Any], Files] | None:
    """The cached document and the files it was built from, or None on any doubt."""
    try:
        raw = path.read_bytes()
        entry = _entry(path, root, raw)
        seal, _, payload = entry.read_bytes().partition(b"\n")
        expected = _seal(payload, entry.name)
        if expected is None or not hmac.compare_digest(seal.decode("ascii"), expected):
            return None
        saved = json.loads(payload)
        files: Files = []
        for item in saved["bases"]:
            base = Path(item["path"])
            base_raw = base.read_bytes()
            if _digest(base_raw) != item["sha256"]:
                return None
            files.append((base, base_raw))
        data = saved["data"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (data, [*files, (path, raw)]) if isinstance(data, dict) else None


def store(path: Path, root: Path, data: dict[str, Any], files: Files) -> None:
    """Saves a sealed entry; a cache that cannot be written only costs speed, so errors pass."""
    # Each base by the path it was read by (absolute, links not resolved), so a lookup reads it
    # again the same way: a symlinked release folder switched since is a different file then.
    bases = [{"path": os.path.abspath(p), "sha256": _digest(raw)} for p, raw in files[:-1]]
    payload = json.dumps({"version": __version__, "bases": bases, "data": data}, ensure_ascii=False).encode()
    _write_sealed(_entry(path, root, files[-1][1]), payload)


def _write_sealed(entry: Path, payload: bytes) -> None:
    """The payload behind its seal (bound to the entry's name), written whole; a cache that
    cannot be written only costs speed, so errors pass."""
    seal = _seal(payload, entry.name)
    if seal is None:
        return
    with contextlib.suppress(OSError):
        directory().mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(entry, seal.encode("ascii") + b"\n" + payload)


def _code_path(path: Path, root: Path, raw: bytes) -> Path:
    entry = _entry(path, root, raw)
    runtime = _digest(f"{sys.version}\0{program.COMPILER}".encode())[:16]
    return entry.with_name(f"{entry.stem}.{runtime}.code")


class Kept:
    """The code kept for a mapping: its program and the Jinja code of what it interprets."""

    def __init__(self, saved: dict[str, Any] | None = None) -> None:
        saved = saved or {}
        self.code: CodeType | None = saved.get("program")
        self.fallbacks: dict[Key, str] = {(n, k): why for n, k, why in saved.get("fallbacks", ())}
        self._jinja: dict[Any, CodeType] = saved.get("jinja", {})
        self._jinja_version: str = saved.get("jinja_version", "")

    def program(self) -> program.Program | None:
        return None if self.code is None else program.Program(self.code, self.fallbacks)

    def jinja(self) -> dict[Any, CodeType]:
        """The Jinja code kept, when the Jinja that made it is the one loaded (it is by now)."""
        import jinja2

        return self._jinja if self._jinja_version == jinja2.__version__ else {}


def lookup_code(path: Path, root: Path, raw: bytes) -> Kept:
    """The compiled code kept for a mapping, or nothing. marshal runs no code as it loads, but
    only a sealed payload is ever given to it (it trusts its input's shape)."""
    try:
        code_path = _code_path(path, root, raw)
        seal, _, payload = code_path.read_bytes().partition(b"\n")
        expected = _seal(payload, code_path.name)
        if expected is None or not hmac.compare_digest(seal.decode("ascii"), expected):
            return Kept()
        saved = marshal.loads(payload)  # noqa: S302 - sealed with the user's own key, checked above
        return Kept(saved) if isinstance(saved, dict) else Kept()
    except (OSError, ValueError, EOFError, TypeError):
        return Kept()


def store_code(
    path: Path, root: Path, raw: bytes, compiled: program.Program | None, jinja: dict[Any, CodeType]
) -> None:
    import jinja2  # Jinja code was compiled, so Jinja is loaded

    saved = {
        "program": None if compiled is None else compiled.code,
        "fallbacks": [(n, k, why) for (n, k), why in ({} if compiled is None else compiled.fallbacks).items()],
        "jinja": jinja,
        "jinja_version": jinja2.__version__,
    }
    _write_sealed(_code_path(path, root, raw), marshal.dumps(saved))
