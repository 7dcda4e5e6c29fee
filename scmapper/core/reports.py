"""What every command reports, and the one way the CLI prints it.

Vocabulary: a *report* is what a command did or would do: `as_dict()` for machines
(`--json`), `text()` for people, and `exit_code` by the one table in errors.py. A *diff*
(core.diff.Diff) is what Spend Cloud would see change; export and sync list it alike.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # reports stays light: every command imports it
    from scmapper.core.diff import Diff

USERNAME_WARNING = "Spend Cloud will create a new employee and deactivate the old one"


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


def diff_sections(diff: Diff) -> list[str]:
    """The diff for a text report: leavers first (what Spend Cloud deactivates), then username
    changes, changed columns with their old and new values, joiners, roles."""
    changed = [
        f"{c['key']} ({c['username']}): "
        + ", ".join(f"{k} {v['before']!r} -> {v['after']!r}" for k, v in c["fields"].items())
        for c in diff.changed
    ]
    return [
        *section("Leavers", [f"{p['key']} ({p['username']})" for p in diff.leavers]),
        *section(
            f"Username changes: {USERNAME_WARNING}",
            [f"{c['key']}: {c['before']!r} -> {c['after']!r}" for c in diff.username_changes],
        ),
        *section("Changed", changed),
        *section("Joiners", [f"{p['key']} ({p['username']})" for p in diff.joiners]),
        *section("Roles removed", [", ".join(f"{k}={v}" for k, v in r.items()) for r in diff.roles_removed]),
        *section("Roles added", [", ".join(f"{k}={v}" for k, v in r.items()) for r in diff.roles_added]),
    ]
