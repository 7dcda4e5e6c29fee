"""What every command reports, and the one way the CLI prints it.

Vocabulary: a *report* is what a command did or would do: `as_dict()` for machines
(`--json`), `text()` for people, and `exit_code` by the one table in errors.py.
"""

from __future__ import annotations

import json
from typing import Any, Protocol


class Report(Protocol):
    @property
    def exit_code(self) -> int: ...

    def as_dict(self) -> Any: ...

    def text(self) -> list[str]: ...


def emit(report: Report, *, as_json: bool) -> int:
    """Prints a report on stdout, as indented JSON or as text lines; returns its exit code."""
    if as_json:
        print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False), flush=True)
    else:
        lines = report.text()
        if lines:
            print("\n".join(lines), flush=True)
    return report.exit_code


def section(title: str, items: list[str], limit: int = 50) -> list[str]:
    """A titled list for a text report, cut at `limit` items (the JSON report has them all)."""
    if not items:
        return []
    shown = [f"  {item}" for item in items[:limit]]
    if len(items) > limit:
        shown.append(f"  ... and {len(items) - limit} more (see --json)")
    return [f"{title} ({len(items)}):", *shown]
