"""What a sync did or would do: counts, failures, the fields most records lacked, the
threshold, the diff; as text for people and as a dict for `--json`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from scmapper.core.diff import Diff, ThresholdCheck
from scmapper.core.reports import diff_sections
from scmapper.errors import EXIT_DATA, EXIT_OK

COUNTS = ("created", "updated", "enabled", "unchanged", "disabled", "deleted", "skipped", "undecided", "failed")


SyncStatus = Literal["applied", "checked", "refused"]  # checked: --dry-run, nothing written


@dataclass
class SyncReport:
    dry_run: bool
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    failures: list[dict[str, str | None]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    threshold: ThresholdCheck | None = None
    refused: bool = False
    forced: bool = False
    unplaced: int = 0  # failed records whose key is unknown: they protect everyone missing
    read: int = 0  # records read from the snapshot
    diff: Diff = field(default_factory=Diff)
    absent: list[str] = field(default_factory=list)  # fields most records lack: why the sync refused

    @property
    def exit_code(self) -> int:
        return EXIT_DATA if self.refused or self.failures else EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "dryRun": self.dry_run,
            "counts": self.counts,
            "failures": self.failures,
            "warnings": self.warnings,
            "threshold": self.threshold.as_dict() if self.threshold else None,
            "absent": self.absent,
            "forced": self.forced,
            "records": self.read,
            "diff": self.diff.as_dict(),
        } | ({"hint": WAY_OUT} if self.refused else {})

    @property
    def status(self) -> SyncStatus:
        return "refused" if self.refused else ("checked" if self.dry_run else "applied")

    def text(self) -> list[str]:
        c = self.counts
        rest = f"; {c['unchanged']} unchanged, {c['skipped']} skipped (inactive in the source)"
        if c["undecided"]:
            rest += f"; {c['undecided']} left as they are (the source does not say whether they are active)"
        if c["failed"]:
            rest += f"; {c['failed']} failed and left as they are (listed below)"
        if self.dry_run or self.refused:
            would = ", ".join(f"{verb} {c[name]}" for verb, name in _VERBS)
            opening = "Refused, nothing written" if self.refused else "Dry run, nothing written"
            lines = [f"{opening}: this snapshot would {would}{rest}."]
        else:
            lines = [", ".join(f"{name} {c[name]}" for _, name in _VERBS).capitalize() + rest + "."]
            if sum(c[name] for _, name in _VERBS) == 0:
                lines.append("Nothing changed.")
        verdict = "OVERRIDDEN with --force" if self.forced else "REFUSED, nothing written"
        lines += [f"{verdict}: {found}" for found in self.absent]
        if self.threshold and self.threshold.tripped:
            lines.append(f"{verdict}: threshold {self.threshold.describe()}")
        if self.refused:
            lines.append(WAY_OUT + ".")
        lines += [f"WARNING: {w}" for w in self.warnings]
        lines += [f"FAILED {f['origin']} (key {f['key'] or '?'}): {f['reason']}" for f in self.failures]
        return lines + diff_sections(self.diff)

    def summary(self) -> str:
        """The closing line's words: records read and changes made (or not)."""
        changes = sum(self.counts[name] for _, name in _VERBS)
        done = {"refused": "refused", "checked": "would be made"}.get(self.status, "made")
        return f"sync: {self.read:,} records read, {changes:,} change{'' if changes == 1 else 's'} {done}"


WAY_OUT = "--force applies the snapshot anyway (recorded in the audit log); --dry-run lists the changes"
_VERBS = (
    ("create", "created"),
    ("update", "updated"),
    ("enable", "enabled"),
    ("disable", "disabled"),
    ("delete", "deleted"),
)


def count_name(action: str) -> str:
    return {"create": "created", "update": "updated", "enable": "enabled", "disable": "disabled", "delete": "deleted"}[
        action
    ]
