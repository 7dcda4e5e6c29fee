"""The `scmapper` command: argument parsing and one function per subcommand.

Each subcommand returns an exit code; `main` maps ScmapperError subclasses to theirs
and anything else to 3 (a bug), printing a traceback only with --debug. Heavy
modules are imported inside the subcommands that need them, so `apply` pays only
for what it uses.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scmapper import __version__
from scmapper.errors import EXIT_INTERNAL, EXIT_OK, MappingError, ScmapperError, UsageError


def main(argv: Sequence[str] | None = None) -> int:
    # Agents read our JSON as UTF-8 whatever the console's code page (Windows pipes default to ANSI).
    for stream, errors in ((sys.stdout, "strict"), (sys.stderr, "backslashreplace")):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8", errors=errors)
    parser = _parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except ScmapperError as exc:
        if args.debug:
            raise
        print(f"scmapper: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("scmapper: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): nothing more to say to it
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter's final flush from failing again
        return 141
    except Exception as exc:  # noqa: BLE001 - the one place a bug becomes an exit code
        if args.debug:
            raise
        print(f"scmapper: internal error ({type(exc).__name__}: {exc}); rerun with --debug", file=sys.stderr)
        return EXIT_INTERNAL


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scmapper", description="Keep Spend Cloud in step with HR data.")
    parser.add_argument("--version", action="version", version=f"scmapper {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks for internal errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", parents=[common], help="check mapping files; list every problem")
    p.add_argument("mapping", nargs="+")
    p.add_argument("--sample", help="a person JSON to run every expression on")
    p.add_argument("--json", action="store_true", help="report as JSON")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser("preview", parents=[common], help="show the rows a person gives; no database")
    p.add_argument("mapping")
    p.add_argument("person", help="person JSON (a bare person, a native event or a HelloID event); - for stdin")
    p.set_defaults(handler=cmd_preview)

    p = sub.add_parser("apply", parents=[common], help="apply one lifecycle event (or a batch) to the database")
    p.add_argument("--mapping", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--action", choices=("create", "update", "enable", "disable", "delete"))
    p.add_argument("--dry-run", action="store_true", help="compute and report; write nothing")
    p.add_argument("--batch", metavar="EVENTS.jsonl", help="apply one event per line, each its own transaction")
    p.add_argument("event", nargs="?", default="-", help="event JSON file, or - for stdin (the default)")
    p.set_defaults(handler=cmd_apply)

    p = sub.add_parser("sync", parents=[common], help="bring the database in line with a full source snapshot")
    p.add_argument("--mapping", required=True)
    p.add_argument("--db", required=True)
    p.add_argument(
        "--source",
        required=True,
        nargs="+",
        action="extend",
        metavar="[NAME=]FILE",
        help="snapshot files (JSON, JSON lines, envelopes), each NAME=FILE for the mapping's input NAME",
    )
    p.add_argument("--dry-run", action="store_true", help="report what would change; write nothing")
    p.add_argument("--force", action="store_true", help="apply even when the removal threshold trips (recorded)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_sync)

    p = sub.add_parser("test", parents=[common], help="run mappings' test cases")
    p.add_argument("mapping", nargs="+", help="mapping files, or their NAME.tests.yaml case files")
    p.add_argument("--cases", help="the test case file, with one mapping (default: NAME.tests.yaml beside it)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_test)

    p = sub.add_parser("export", parents=[common], help="write the persons and roles files for Spend Cloud")
    p.add_argument("--mapping", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--out", required=True, help="output folder (created when missing)")
    p.add_argument("--check", action="store_true", help="run every check and print the diff report; write nothing")
    p.add_argument("--force", action="store_true", help="write even when a mass-removal threshold trips (recorded)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--upload", action="store_true", help="upload the files over SFTP once written")
    p.add_argument("--trust-host-key", metavar="SHA256:...", help="accept this SFTP host key fingerprint")
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser("upload", parents=[common], help="upload an export's files over SFTP")
    p.add_argument("--mapping", required=True)
    p.add_argument("--db", required=True)
    p.add_argument(
        "--export", default="LATEST", metavar="LATEST|ID", help="which export (default: the newest complete one)"
    )
    p.add_argument("--trust-host-key", metavar="SHA256:...", help="accept this SFTP host key fingerprint")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_upload)

    p = sub.add_parser("adopt", parents=[common], help="take over the old PowerShell connector's database")
    p.add_argument("--mapping", required=True)
    p.add_argument("--db", required=True, help="the new database (must not hold persons yet)")
    p.add_argument("old_db", metavar="OLD_SPENDCLOUD_DB")
    p.add_argument(
        "--force", action="store_true", help="load despite errors: newest duplicates win, unplaceable rows left out"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_adopt)

    p = sub.add_parser("log", parents=[common], help="show the audit trail")
    p.add_argument("--db", required=True)
    p.add_argument("--account", help="only this account reference")
    p.add_argument("--since", help="only events at or after this ISO time")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_log)

    p = sub.add_parser("demo", parents=[common], help="run the main job on the bundled samples")
    p.add_argument("--out", default="demo-out", help="folder for the demo database (default: demo-out)")
    p.add_argument("--mapping", default="mappings/spendcloud.yaml")
    p.add_argument("--events", default="mappings/samples/helloid/events.jsonl")
    p.set_defaults(handler=cmd_demo)
    return parser


# --- validate / preview -------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    from scmapper.validation import validate

    sample = _read_person(args.sample) if args.sample else None
    problems = []
    for mapping in args.mapping:
        found = validate(mapping, sample)
        problems += found
        if not args.json:
            print("\n".join(str(p) for p in found) if found else f"{mapping}: ok")
    valid = all(p.severity == "warning" for p in problems)
    if args.json:
        report = {"files": args.mapping, "valid": valid, "problems": [p.as_dict() for p in problems]}
        print(json.dumps(report, indent=2, ensure_ascii=False))
    return EXIT_OK if valid else 1


def cmd_preview(args: argparse.Namespace) -> int:
    from scmapper.loading import load_rules
    from scmapper.sources import records_from

    rules = load_rules(args.mapping)
    # A source record passes through the mapping's grouping, as in sync (rows become person.rows).
    [record] = records_from([_read_person(args.person)], rules.mapping.source.group_by)
    mapped = rules.map_person(record.data)
    result = {"person": mapped.row, "roles": mapped.roles, "warnings": mapped.warnings, "active": mapped.active}
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return EXIT_OK


def _read_person(source: str) -> dict[str, Any]:
    from scmapper import events

    return events.person_from_bytes(_read_input(source))


def _read_input(source: str) -> bytes:
    if source == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}") from None


# --- apply ---------------------------------------------------------------------------------------


def cmd_apply(args: argparse.Namespace) -> int:
    from scmapper import events, lifecycle, runner
    from scmapper.errors import EventError
    from scmapper.loading import load_rules

    try:
        rules = load_rules(args.mapping)
    except MappingError as exc:
        if args.batch:
            raise
        print(json.dumps(runner.failure(args.action, str(exc)), ensure_ascii=False))
        raise
    if args.batch:
        return _apply_batch(args, rules)
    try:
        event = events.parse_bytes(_read_input(args.event), action=args.action, dry_run=args.dry_run)
    except EventError as exc:
        print(json.dumps(runner.failure(args.action, str(exc)), ensure_ascii=False))
        raise
    try:
        with closing(_open_store(args.db, rules, dry_run=event.dry_run)) as store:
            result = lifecycle.apply(event, rules, store)
    except ScmapperError as exc:  # the agent reads a JSON result whatever happened
        print(json.dumps(runner.failure(event.action, str(exc)), ensure_ascii=False))
        raise
    print(json.dumps(result.as_dict(), ensure_ascii=False))
    return result.exit_code


def _apply_batch(args: argparse.Namespace, rules: Any) -> int:
    from scmapper import runner

    path = Path(args.batch)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    progress = runner.Progress(path.name, path.stat().st_size, sys.stderr) if sys.stderr.isatty() else None
    with handle, closing(_open_store(args.db, rules, dry_run=args.dry_run, durable=False)) as store:
        counts = runner.run_batch(
            handle,
            rules,
            store,
            action=args.action,
            dry_run=args.dry_run,
            emit=lambda result: print(json.dumps(result, ensure_ascii=False)),
            progress=progress,
        )
    print(f"scmapper: {counts}", file=sys.stderr)
    return EXIT_OK if counts.failed == 0 else 1


def _open_store(db: str, rules: Any, *, dry_run: bool, durable: bool = True) -> Any:
    from scmapper.store import Store

    # A dry run against a database that does not exist yet must not create it.
    path = ":memory:" if dry_run and not Path(db).exists() else db
    if path != ":memory:" and not Path(db).parent.exists():
        raise UsageError(f"the folder for database {db} does not exist")
    store = Store(path, durable=durable)
    mapping = rules.mapping
    notes = store.prepare(
        mapping.key, mapping.column_names, mapping.unique, mapping.role_column_names, mapping.fingerprint
    )
    for note in notes:
        print(f"scmapper: {db}: {note}", file=sys.stderr)
    return store


# --- sync / test ---------------------------------------------------------------------------------


def cmd_sync(args: argparse.Namespace) -> int:
    from scmapper import inputs
    from scmapper.loading import load_rules
    from scmapper.sync import run_sync

    rules = load_rules(args.mapping)
    source = rules.mapping.source
    snapshot = inputs.read(source, inputs.assign(source, args.source))
    with closing(_open_store(args.db, rules, dry_run=args.dry_run, durable=False)) as store:
        report = run_sync(rules, store, snapshot, dry_run=args.dry_run, force=args.force)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        print("\n".join(report.text()))
    return report.exit_code


def cmd_test(args: argparse.Namespace) -> int:
    from scmapper.testing import pair, run_cases

    if args.cases and len(args.mapping) > 1:
        raise UsageError("--cases goes with one mapping")
    outcomes = [run_cases(*pair(Path(name), args.cases)) for name in args.mapping]
    if args.json:
        reports = [o.as_dict() for o in outcomes]
        print(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2, ensure_ascii=False))
    else:
        print("\n".join(line for o in outcomes for line in o.text()))
    return max(o.exit_code for o in outcomes)


# --- export ------------------------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    from scmapper.export import run_export
    from scmapper.loading import load_rules

    if args.upload and args.check:
        raise UsageError("--upload and --check exclude each other: a check writes nothing to upload")
    rules = load_rules(args.mapping)
    with closing(_existing_store(args.db, rules)) as store:
        outcome = run_export(rules.mapping, store, Path(args.out), check=args.check, force=args.force)
        if args.json:
            print(json.dumps(outcome.report, indent=2, ensure_ascii=False), flush=True)
        else:
            print("\n".join(outcome.text), flush=True)
        if args.upload and outcome.status == "written":
            _upload(rules.mapping, store, outcome.report["exportId"], args.trust_host_key, quiet=args.json)
    return outcome.exit_code


def cmd_upload(args: argparse.Namespace) -> int:
    from scmapper.loading import load_rules

    export_id = None if args.export.upper() == "LATEST" else _positive_int(args.export, "--export")
    rules = load_rules(args.mapping)
    with closing(_existing_store(args.db, rules)) as store:
        rows = _upload(rules.mapping, store, export_id, args.trust_host_key, quiet=args.json)
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    return EXIT_OK


def _upload(mapping: Any, store: Any, export_id: int | None, trust: str | None, *, quiet: bool) -> list[Any]:
    from scmapper.delivery import upload

    def log(line: str) -> None:
        print(f"sftp: {line}", file=sys.stderr)

    rows = upload(mapping, store, export_id, trust_host_key=trust, log=None if quiet else log)
    if not quiet:
        for row in rows:
            if row["outcome"] == "ok":
                print(f"Uploaded {row['remotePath']} ({row['size']} bytes)")
    return rows


def _positive_int(text: str, option: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"{option} takes LATEST or an export number, not {text!r}")
    return int(text)


def _existing_store(db: str, rules: Any) -> Any:
    if not Path(db).exists():
        raise UsageError(f"database {db} does not exist")
    return _open_store(db, rules, dry_run=False)


# --- adopt ---------------------------------------------------------------------------------------


def cmd_adopt(args: argparse.Namespace) -> int:
    from scmapper.adopt import analyse, load
    from scmapper.loading import load_rules

    rules = load_rules(args.mapping)
    plan = analyse(rules.mapping, args.old_db)
    report = plan.report
    if args.force or not report.errors:
        with closing(_open_store(args.db, rules, dry_run=False)) as store:
            load(rules.mapping, store, plan)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        print("\n".join(report.text()))
    return report.exit_code


# --- log -----------------------------------------------------------------------------------------


def cmd_log(args: argparse.Namespace) -> int:
    from scmapper.store import Store

    if not Path(args.db).exists():
        raise UsageError(f"database {args.db} does not exist")
    since = _iso_utc(args.since) if args.since else None
    store = Store(args.db)
    try:
        found = store.events(ref=args.account, since=since)
    finally:
        store.close()
    if args.json:
        print(json.dumps([e.as_dict() for e in found], indent=2, ensure_ascii=False))
        return EXIT_OK
    for event in found:
        mark = "" if event.success else " FAILED"
        print(f"{event.time}  {event.action:<16} {event.account_ref or '-':<14}{mark} {event.message}")
    if not found:
        print("no audit events", file=sys.stderr)
    return EXIT_OK


def _iso_utc(text: str) -> str:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--since {text!r} is not an ISO 8601 time (e.g. 2026-11-26 or 2026-11-26T08:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- demo ----------------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from scmapper.demo import run_demo

    return run_demo(Path(args.mapping), Path(args.events), Path(args.out))
