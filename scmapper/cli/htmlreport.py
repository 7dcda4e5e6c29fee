"""Reports people look at: `--html FILE` of `sync`, `export` and `preview`, one page each.

Vocabulary: *markup* is text already safe to put in a page; `el()` builds an element from
its children, escaping every child that is not markup, so no HR value (a name typed as
`<script>`) can reach the page unescaped: escaping is decided by type, not remembered per
field. A page is self-contained: its style inline, no script, nothing fetched (its Content
Security Policy forbids any load), so it opens the same from a mail attachment or offline.

markupsafe's `escape` (installed with Jinja) under a small element builder rather than a Jinja template: the page's
structure is code (tables of the diff), every value is HR data, and a builder makes the
unescaped case impossible to write; the one Jinja environment factory stays for mappings
and CSV templates.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

from scmapper import __version__
from scmapper.core.reports import USERNAME_WARNING

if TYPE_CHECKING:
    from scmapper.authoring.validation import PreviewReport
    from scmapper.core.diff import Diff, Person, ThresholdCheck
    from scmapper.export.pipeline import ExportReport
    from scmapper.lifecycle.syncreport import SyncReport

POLICY = "default-src 'none'; style-src 'unsafe-inline'"  # nothing loads: no script, font, image or frame
CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1d2430; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.meta { color: #5b6472; margin: 0 0 16px; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 10px; font-weight: 600; color: #fff; }
.badge.refused { background: #b42318; } .badge.checked { background: #175cd3; }
.badge.written, .badge.applied { background: #067647; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; }
.card { border: 1px solid #d0d5dd; border-radius: 8px; padding: 8px 14px; min-width: 110px; }
.card b { display: block; font-size: 22px; } .card.alert { border-color: #b42318; background: #fef3f2; }
table { border-collapse: collapse; margin: 4px 0; }
th, td { border: 1px solid #d0d5dd; padding: 3px 8px; text-align: left; }
th { background: #f2f4f7; } td.before { background: #fef3f2; } td.after { background: #ecfdf3; }
tr.tripped td { background: #fef3f2; font-weight: 600; } tr.overridden td { background: #fffaeb; }
.gauge { display: inline-block; vertical-align: middle; position: relative; width: 120px; height: 10px;
  background: #eaecf0; border-radius: 5px; }
.gauge span { position: absolute; left: 0; top: 0; bottom: 0; background: #f79009; border-radius: 5px; }
.gauge i { position: absolute; top: -3px; bottom: -3px; width: 2px; background: #1d2430; }
ul.problems li { color: #b42318; } p.none { color: #5b6472; }
.side { display: flex; gap: 24px; align-items: flex-start; flex-wrap: wrap; }
.side > section { flex: 2 1 560px; min-width: 0; } .side > section.narrow { flex: 1 1 300px; }
.scroll { overflow-x: auto; max-width: 100%; } td { overflow-wrap: break-word; }
pre { background: #f8f9fb; border: 1px solid #d0d5dd; padding: 10px; overflow: auto; white-space: pre-wrap; }
footer { margin-top: 32px; color: #5b6472; font-size: 12px; }
"""


class Cell(Markup):
    """A finished table cell (one with a class), which `table` takes as it is."""


def el(tag: str, *children: Any, **attrs: Any) -> Markup:
    """An element; children are escaped unless they are markup, lists are spread, None is left out.
    Attribute names: `class_` for class, `_` for `-`."""
    names = "".join(
        f' {name.rstrip("_").replace("_", "-")}="{escape(value)}"' for name, value in attrs.items() if value is not None
    )
    # The tag is ours; every name, value and child in it passed escape().
    return Markup(f"<{tag}{names}>{''.join(escape(c) for c in _spread(children))}</{tag}>")  # noqa: S704


def _spread(children: Iterable[Any]) -> Iterable[Any]:
    for child in children:
        if isinstance(child, list | tuple):
            yield from _spread(child)
        elif child is not None:
            yield child


def page(title: str, *body: Any) -> str:
    head = Markup(  # noqa: S704 - constant text, the one value in it escaped
        '<meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{escape(POLICY)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
    )
    footer = el("footer", f"Written by scmapper {__version__}. This page loads nothing from the network.")
    style = Markup(CSS)  # noqa: S704 - our own constant
    head_part = el("head", head, el("title", title), el("style", style))
    document = el("html", head_part, el("body", *body, footer), lang="en")
    return f"<!DOCTYPE html>\n{document}\n"


def td(value: Any, class_: str) -> Cell:
    return Cell(el("td", value, class_=class_))


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], *, row_class: str | None = None) -> Markup:
    head = el("tr", [el("th", h) for h in header])
    body = [el("tr", [c if isinstance(c, Cell) else el("td", c) for c in row], class_=row_class) for row in rows]
    return el("table", el("thead", head), el("tbody", body))


def listed(section_id: str, title: str, count: int, content: Any) -> Markup:
    """A section of the page; an empty one says so instead of showing an empty table."""
    heading = el("h2", f"{title} ({count})")
    return el("section", heading, content if count else el("p", "none", class_="none"), id=section_id)


# --- the diff page: export and sync --------------------------------------------------------


@dataclass(frozen=True)
class View:
    """What a diff page shows, from an export or a sync report."""

    title: str
    status: str  # written | checked | refused | applied
    meta: str
    facts: list[tuple[str, Any]]
    thresholds: list[ThresholdCheck]
    forced: bool
    problems_title: str
    problems: list[str]
    warnings: list[str]
    diff: Diff
    held: list[str] | None = None  # an export's held persons: why, and what is written instead
    command: str = ""  # how the run was started, for the way out ("scmapper export ...")
    files: tuple[str, ...] = ()  # what it read and where it would write


def export_page(report: ExportReport, *, command: str = "", files: Sequence[str] = ()) -> str:
    last = report.previous
    against = f"export #{last.id} of {last.time}" if last else "nothing (the first export)"
    counts = report.counts
    view = View(
        title=f"{'Export' if report.status == 'written' else 'Export check'} of {report.mapping}",
        status=report.status,
        meta=f"{report.time}, compared with {against}",
        facts=[
            ("persons", f"{counts.get('previousPersons', 0)} \u2192 {counts.get('persons', 0)}"),
            ("roles", f"{counts.get('previousRoles', 0)} \u2192 {counts.get('roles', 0)}"),
        ],
        thresholds=report.thresholds,
        forced=report.forced,
        problems_title="Preflight problems",
        problems=report.problems,
        warnings=report.warnings,
        diff=report.diff,
        held=report.held_lines(),
        command=command,
        files=tuple(files),
    )
    return diff_page(view)


def sync_page(mapping: str, report: SyncReport, *, command: str = "", files: Sequence[str] = ()) -> str:
    c = report.counts
    view = View(
        title=f"Sync {'dry run ' if report.dry_run else ''}of {mapping}",
        status=report.status,
        meta=f"{report.read} records read; {c['unchanged']} unchanged, {c['skipped']} skipped (inactive in the source)",
        facts=[("records", report.read), ("failed", c["failed"])],
        thresholds=[report.threshold] if report.threshold else [],
        forced=report.forced,
        problems_title="Records that failed (left as they are)",
        problems=[f"{f['origin']} (key {f['key'] or '?'}): {f['reason']}" for f in report.failures],
        warnings=report.warnings,
        diff=report.diff,
        command=command,
        files=tuple(files),
    )
    return diff_page(view)


def diff_page(view: View) -> str:
    diff = view.diff
    badge = el("span", view.status.upper(), class_=f"badge {view.status}")
    return page(
        view.title,
        el("h1", view.title, " ", badge),
        el("p", view.meta, class_="meta"),
        _way_out(view),
        _glance(view),
        listed("thresholds", "Thresholds", len(view.thresholds), _thresholds(view)),
        listed(
            "held",
            "Held back (their rows fail a check; the others are written)",
            len(view.held),
            el("ul", [el("li", h) for h in view.held], class_="held"),
        )
        if view.held is not None
        else None,
        listed(
            "problems",
            view.problems_title,
            len(view.problems),
            el("ul", [el("li", p) for p in view.problems], class_="problems"),
        ),
        el("section", el("h2", "Warnings"), el("ul", [el("li", w) for w in view.warnings]), id="warnings")
        if view.warnings
        else None,
        _diff_sections(diff),
    )


def _glance(view: View) -> Markup:
    totals = view.diff.totals
    cards = [(name, value, False) for name, value in view.facts]
    cards += [
        ("joiners", totals["joiners"], False),
        ("leavers", totals["leavers"], totals["leavers"] > 0),
        ("changed", totals["changed"], False),
        ("username changes", totals["usernameChanges"], totals["usernameChanges"] > 0),
        ("roles added", totals["rolesAdded"], False),
        ("roles removed", totals["rolesRemoved"], totals["rolesRemoved"] > 0),
        ("problems", len(view.problems), bool(view.problems)),
    ]
    if view.held is not None:
        cards.insert(-1, ("held back", len(view.held), bool(view.held)))
    shown = [
        el("div", el("b", value), " ", name, class_="card alert" if alert else "card") for name, value, alert in cards
    ]
    return el("section", el("h2", "At a glance"), el("div", shown, class_="cards"), id="glance")


def _way_out(view: View) -> Markup | None:
    """For a refused run: what tripped, in words, and the ways on from here."""
    if view.status != "refused":
        return None
    tripped = [c for c in view.thresholds if c.tripped]
    run = view.command or "the same command"
    steps = []
    if tripped:
        steps.append(
            "Read the changes below: are these removals expected (a reorganisation, leavers approved in HelloID)?"
        )
        steps.append(f"If they are: {run} --force. The override is recorded in the report and the audit log.")
        steps.append(f"To look again without writing anything: {run} --dry-run.")
        settings = ", ".join(sorted({f"export.thresholds.{c.name}" for c in tripped if c.name != "held"}))
        if any(c.name == "held" for c in tripped):
            settings = ", ".join(filter(None, [settings, "export.held"]))
        steps.append(f"To change the rule itself: {settings} in the mapping.")
    if view.problems and not tripped:
        steps.append(
            "Fix what the problems below name, in the source or the mapping, and run again; --force does not"
            " write an empty persons file or a value the file's encoding cannot hold."
        )
    reasons = [el("li", c.describe()) for c in tripped] + ([el("li", view.problems_title)] if view.problems else [])
    read = el("p", "Read: ", ", ".join(view.files), class_="meta") if view.files else None
    return el(
        "section",
        el("h2", "Refused: nothing was written"),
        el("ul", reasons, class_="problems"),
        el("ol", [el("li", step) for step in steps]),
        read,
        id="way-out",
    )


def _thresholds(view: View) -> Markup:
    rows = []
    totals = view.diff.totals
    for check in view.thresholds:
        data = check.as_dict()
        limit = data["limit"]
        limits = " or ".join(
            part for part in (f"{limit['count'] or ''}", f"{limit['percent']:g}%" if limit["percent"] else "") if part
        )
        verdict = ("OVERRIDDEN with --force" if view.forced else "TRIPPED") if check.tripped else "ok"
        removed = f"{data['removed']} of {data['of']}"
        if check.name == "removed_persons":
            removed += _made_of(data["removed"], totals["leavers"], totals["usernameChanges"])
        rows.append(
            el(
                "tr",
                el("td", check.name),
                el("td", removed),
                el("td", f"{data['percent']:g}%", " ", _gauge(data, limit)),
                el("td", limits),
                el("td", verdict),
                class_=("overridden" if view.forced else "tripped") if check.tripped else "ok",
            )
        )
    return el(
        "table",
        el("thead", el("tr", [el("th", h) for h in ("threshold", "removed", "share", "limit", "verdict")])),
        el("tbody", rows),
    )


def _made_of(removed: int, leavers: int, renames: int) -> str:
    """What a count of removed persons is made of: leavers, and usernames that change (Spend
    Cloud sees the old username go and a new one come)."""
    parts = [f"{leavers} leaver{'s' if leavers != 1 else ''}"] if leavers else []
    if renames:
        parts.append(f"{renames} username change{'s' if renames != 1 else ''}")
    other = removed - leavers - renames
    if other > 0:
        parts.append(f"{other} other")
    return f": {' + '.join(parts)}" if parts and removed != leavers else ""


def _gauge(data: dict[str, Any], limit: dict[str, Any]) -> Markup:
    """The share removed as a bar on a scale of twice the limit, the limit a mark in the middle:
    4.8 % against 5 % shows nearly at the mark, not nearly empty."""
    base = data["of"] or 1
    limit_percent = limit["percent"] or (100 * limit["count"] / base if limit["count"] else None)
    scale = min(2 * limit_percent, 100) if limit_percent else 100
    bar = min(100 * data["percent"] / scale, 100)
    mark = el("i", style=f"left: {min(100 * limit_percent / scale, 100):g}%") if limit_percent else None
    return el("div", el("span", style=f"width: {bar:g}%"), mark, class_="gauge", title=f"scale 0-{scale:g}%")


def _diff_sections(diff: Diff) -> list[Markup]:
    if not diff.listed:
        note = "Nothing exported before: every person and role is new (counted above, not listed)."
        return [el("section", el("h2", "Changes"), el("p", note, class_="none"), id="changes")]
    changes = [
        (c["key"], c["username"], column, td(v["before"], "before"), td(v["after"], "after"))
        for c in diff.changed
        for column, v in c["fields"].items()
    ]
    renames = [(c["key"], td(c["before"], "before"), td(c["after"], "after")) for c in diff.username_changes]
    role_header = list(dict.fromkeys(k for r in diff.roles_added + diff.roles_removed for k in r))
    person = ("key", "username")
    parts: list[tuple[str, str, Sequence[str], list[Any], str]] = [
        ("leavers", "Leavers: Spend Cloud deactivates them", person, _people(diff.leavers), "leaver"),
        ("renames", f"Username changes: {USERNAME_WARNING}", (*person, "new username"), renames, "rename"),
        ("changed", "Changed columns", (*person, "column", "before", "after"), changes, "change"),
        ("joiners", "Joiners", person, _people(diff.joiners), "joiner"),
        ("roles-removed", "Roles removed", role_header, _roles(diff.roles_removed, role_header), "role-removed"),
        ("roles-added", "Roles added", role_header, _roles(diff.roles_added, role_header), "role-added"),
    ]
    return [
        listed(name, title, len(rows), table(header, rows, row_class=kind)) for name, title, header, rows, kind in parts
    ]


def _people(found: list[Person]) -> list[tuple[str, str]]:
    return [(p["key"], p["username"]) for p in found]


def _roles(found: list[dict[str, str]], header: list[str]) -> list[list[str]]:
    return [[r.get(k, "") for k in header] for r in found]


# --- preview -------------------------------------------------------------------------------


def preview_page(mapping: str, record: dict[str, Any], report: PreviewReport) -> str:
    """The source record beside the rows it maps to; for every column its value, the source
    fields it read and the file it goes to, so a consultant can follow each value back."""
    source = json.dumps(record, indent=2, ensure_ascii=False)
    person_lineage, role_lineage = report.lineage.get("person", {}), report.lineage.get("roles", {})
    person = table(
        ("column", "value", "fields read", "file"),
        [(name, value, *_traced(person_lineage.get(name))) for name, value in report.person.items()],
        row_class="column",
    )
    header = list(dict.fromkeys(k for r in report.roles for k in r))
    roles = el("div", table(header, _roles(report.roles, header), row_class="role"), class_="scroll")
    role_columns = table(
        ("role column", "fields read", "file"),
        [(name, *_traced(role_lineage.get(name))) for name in header],
        row_class="column",
    )
    state = "active: exported to Spend Cloud" if report.active else "inactive: left out of the export"
    rows = el(
        "section",
        el("h2", "Person row"),
        el("p", state, class_="meta"),
        el("div", person, class_="scroll"),
        listed("roles", "Role rows", len(report.roles), [roles, el("div", role_columns, class_="scroll")]),
        listed("warnings", "Warnings", len(report.warnings), el("ul", [el("li", w) for w in report.warnings])),
        id="rows",
    )
    title = f"Preview of {mapping}"
    return page(
        title,
        el("h1", title),
        el(
            "div",
            el("section", el("h2", "Source record"), el("pre", source), id="source", class_="narrow"),
            rows,
            class_="side",
        ),
    )


def _traced(entry: dict[str, Any] | None) -> tuple[str, str]:
    """(fields read, file) of a column's lineage, as table cells."""
    if entry is None:
        return "", ""
    return ", ".join(entry.get("read", [])) or "(none: a fixed value)", entry.get("file") or "not exported"
