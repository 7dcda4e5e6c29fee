"""A cache of validated mappings, so the per-event `apply` skips YAML and JSON Schema.

Vocabulary: an *entry* is the merged, validated document of one mapping file, stored as
JSON (never pickle: loading it runs no code) under a key made of scmapper's version, the
file's path and its bytes, with the path and SHA-256 of every base file it extends. An
entry is used only when every one of those files still has the same bytes; anything else
is a miss, and a miss is always safe: the mapping is loaded and validated in full.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from scmapper import __version__
from scmapper.files import write_atomic

Files = list[tuple[Path, bytes]]


def directory() -> Path:
    """SCMAPPER_CACHE_DIR, else the platform's per-user cache folder."""
    configured = os.environ.get("SCMAPPER_CACHE_DIR")
    if configured:
        return Path(configured)
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "scmapper" / "cache"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "scmapper"


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _entry(path: Path, raw: bytes) -> Path:
    key = _digest(f"{__version__}\0{path.resolve()}\0".encode() + raw)
    return directory() / f"{key}.json"


def lookup(path: Path) -> tuple[dict[str, Any], Files] | None:
    """The cached document and the files it was built from, or None on any doubt."""
    try:
        raw = path.read_bytes()
        saved = json.loads(_entry(path, raw).read_text("utf-8"))
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


def store(path: Path, data: dict[str, Any], files: Files) -> None:
    """Saves an entry; a cache that cannot be written only costs speed, so errors pass."""
    folder = directory()
    bases = [{"path": str(p.resolve()), "sha256": _digest(raw)} for p, raw in files[:-1]]
    text = json.dumps({"version": __version__, "bases": bases, "data": data}, ensure_ascii=False)
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(_entry(path, files[-1][1]), text.encode("utf-8"))
    except OSError:
        pass
