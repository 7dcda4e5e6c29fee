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
from scmapper.errors import EXIT_DATA, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, ScmapperError, UsageError
from scmapper.reports import emit


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
        _silence_stdout()
        return 141
    except OSError as exc:  # the machine's fault (a full disk, a closed standard output): what was done stays done
        _silence_stdout()
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"scmapper: {exc.strerror or exc}{where}; nothing after that was done", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # the one place a bug becomes an exit code
        if args.debug:
            raise
        environment = _environment_error(exc)
        if environment is not None:  # a corrupt or unreadable database: not a bug
            print(f"scmapper: {environment}", file=sys.stderr)
            return environment.exit_code
        print(f"scmapper: internal error ({type(exc).__name__}: {exc}); rerun with --debug", file=sys.stderr)
        return EXIT_INTERNAL


def _silence_stdout() -> None:
    """Keeps the interpreter's final flush of a broken standard output from failing again."""
    sys.stdout = open(os.devnull, "w")  # it stays open until the process ends


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scmapper", description="Keep Spend Cloud in step with HR data.")
    parser.add_argument("--version", action="version", version=f"scmapper {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks for internal errors")
    common.add_argument(
        "--root",
        metavar="DIR",
        help="the folder a mapping may read files from (default: SCMAPPER_ROOT, else the mapping's own folder)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", parents=[common], help="check mapping files; list every problem")
    p.add_argument("mapping", nargs="*", help="mapping files (or give each with --mapping)")
    _mapping_option(p, many=True)
    p.add_argument("--sample", help="a person JSON to run every expression on")
    p.add_argument("--json", action="store_true", help="report as JSON")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser("preview", parents=[common], help="show the rows a person gives; no database")
    p.add_argument("mapping", nargs="?", help="the mapping (or give it with --mapping)")
    p.add_argument(
        "person", nargs="?", help="person JSON (a bare person, a native event or a HelloID event); - for stdin"
    )
    _mapping_option(p)
    p.add_argument("--html", metavar="FILE", help="also write the record beside its rows as one HTML page")
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
    p.add_argument("--html", metavar="FILE", help="also write the report as one HTML page")
    p.set_defaults(handler=cmd_sync)

    p = sub.add_parser("test", parents=[common], help="run mappings' test cases")
    p.add_argument("mapping", nargs="*", help="mapping files, or their NAME.tests.yaml case files")
    _mapping_option(p, many=True)
    p.add_argument("--cases", help="the test case file, with one mapping (default: NAME.tests.yaml beside it)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_test)

    p = sub.add_parser("export", parents=[common], help="write the persons and roles files for Spend Cloud")
    p.add_argument("--mapping", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--out", required=True, help="output folder (created when missing)")
    # --check is the first spelling, kept for the schedules and scripts that use it.
    p.add_argument(
        "--dry-run",
        "--check",
        dest="check",
        action="store_true",
        help="run every check, report the diff; write nothing",
    )
    p.add_argument("--force", action="store_true", help="write even when a mass-removal threshold trips (recorded)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--html", metavar="FILE", help="also write the report as one HTML page")
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
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="check the files and settings, say what would go where; connect to nothing",
    )
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

    p = sub.add_parser("compare", parents=[common], help="what a mapping would change for HelloID events; no writes")
    p.add_argument("--mapping", required=True)
    p.add_argument("--db", required=True, help="the database to compare with (read only)")
    p.add_argument("events", nargs="+", metavar="EVENTS", help="event files: one JSON event each, or JSON lines")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_compare)

    p = sub.add_parser("reconcile", parents=[common], help="compare the database with Spend Cloud's user list")
    p.add_argument("--mapping", required=True)
    p.add_argument("--db", required=True, help="the database (read only)")
    p.add_argument("--spendcloud", required=True, metavar="USERS.csv", help="the user list exported from Spend Cloud")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_reconcile)

    p = sub.add_parser("accounts", parents=[common], help="list the accounts in the database; no writes")
    p.add_argument("--mapping", required=True)
    p.add_argument("--db", required=True, help="the database (read only)")
    shape = p.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="one JSON document")
    shape.add_argument("--json-lines", action="store_true", help="one JSON object per account (for scripts)")
    p.set_defaults(handler=cmd_accounts)

    p = sub.add_parser("log", parents=[common], help="show the audit trail")
    p.add_argument("--db", required=True)
    p.add_argument("--account", help="only this account reference")
    p.add_argument("--since", help="only events at or after this ISO time")
    p.add_argument("--action", metavar="ACTION", help="only this action (CreateAccount, ExportFiles, UploadFile, ...)")
    p.add_argument("--limit", metavar="N", help="only the newest N events (still oldest first)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_log)

    p = sub.add_parser("demo", parents=[common], help="run the main job on the bundled samples")
    p.add_argument("--out", default="demo-out", help="folder for the demo database (default: demo-out)")
    p.add_argument("--mapping", default="mappings/spendcloud.yaml")
    p.add_argument("--events", default="mappings/samples/helloid/events.jsonl")
    p.set_defaults(handler=cmd_demo)
    return parser


def _environment_error(exc: Exception) -> ScmapperError | None:
    from scmapper.store import environment_error

    return environment_error(exc)


# --- validate / preview / test -------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    from scmapper.validation import validate_files

    paths = _mappings(args, "validate")
    for path in paths:  # a file that is not there is the environment (2), not a problem in a mapping
        if not Path(path).is_file():
            raise UsageError(f"mapping {path} not found: check the path (it is read from {Path.cwd()})")
    sample = _read_person(args.sample) if args.sample else None
    return emit(validate_files(paths, sample, args.root), as_json=args.json)


def cmd_preview(args: argparse.Namespace) -> int:
    from scmapper.validation import preview

    mapping, person_file = _preview_inputs(args)
    person = _read_person(person_file)
    report = preview(mapping, person, args.root)
    if args.html:
        from scmapper.htmlreport import preview_page

        _write_html(args.html, preview_page(mapping, person, report))
    return emit(report, as_json=True)


def cmd_test(args: argparse.Namespace) -> int:
    from scmapper.testing import run_files

    paths = _mappings(args, "test")
    if args.cases and len(paths) > 1:
        raise UsageError("--cases goes with one mapping")
    return emit(run_files([Path(name) for name in paths], args.cases, args.root), as_json=args.json)


def _mapping_option(parser: argparse.ArgumentParser, *, many: bool = False) -> None:
    """--mapping, as every command that reads a mapping takes it; the positional form still works."""
    parser.add_argument(
        "--mapping",
        dest="mapping_option",
        action="append" if many else "store",
        metavar="MAPPING",
        help="the mapping file" + (" (may be repeated)" if many else ""),
    )


def _mappings(args: argparse.Namespace, command: str) -> list[str]:
    found: list[str] = [*args.mapping, *(args.mapping_option or [])]
    if not found:
        raise UsageError(f"name a mapping: scmapper {command} --mapping MAPPING (or scmapper {command} MAPPING)")
    return found


def _preview_inputs(args: argparse.Namespace) -> tuple[str, str]:
    """(mapping, person) from `preview MAPPING PERSON` or `preview --mapping MAPPING PERSON`."""
    given = [name for name in (args.mapping, args.person) if name is not None]
    mapping = args.mapping_option or (given.pop(0) if given else None)
    if mapping is None or len(given) != 1:
        raise UsageError(
            "preview takes a mapping and a person: scmapper preview --mapping MAPPING PERSON.json (- for stdin)"
        )
    return mapping, given[0]


def _write_html(path: str, page: str) -> None:
    from scmapper import files

    target = Path(path)
    if not target.parent.is_dir():
        raise UsageError(f"cannot write {path}: the folder {target.parent} does not exist")
    try:
        files.write_atomic(target, page.encode("utf-8"))  # private: it holds personal data
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    print(f"scmapper: wrote {path}", file=sys.stderr)


def _meters(args: argparse.Namespace) -> Any:
    """Progress on stderr when it is a terminal and no --json; the summary line unless --json."""
    from scmapper.progress import Meters

    quiet = bool(getattr(args, "json", False))
    return Meters(sys.stderr if sys.stderr.isatty() and not quiet else None, None if quiet else sys.stderr)


def _read_person(source: str) -> dict[str, Any]:
    from scmapper import events

    return events.person_from_bytes(_read_input(source))


def _read_input(source: str) -> bytes:
    if source == "-":
        if sys.stdin is None or sys.stdin.closed:  # started with no standard input at all
            raise UsageError("standard input is closed: give the event as a file, or pipe it in")
        try:
            return sys.stdin.buffer.read()
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read standard input: {exc}") from None
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}") from None


# --- apply / sync ------------------------------------------------------------------------------


def cmd_apply(args: argparse.Namespace) -> int:
    from scmapper import runner

    if args.batch:
        return _apply_batch(args)
    # The agent reads one JSON result whatever happens: failures to load the mapping, read the
    # event or open the database become that result too, and then the usual message and exit code.
    outcome = runner.apply_one(
        lambda: _read_input(args.event),
        lambda: _load(args.mapping, args.root),
        lambda rules, dry_run: _open_store(args.db, rules, dry_run=dry_run),
        action=args.action,
        dry_run=args.dry_run,
    )
    print(json.dumps(outcome.result, ensure_ascii=False), flush=True)
    if outcome.error is not None:
        raise outcome.error
    return outcome.exit_code


def _apply_batch(args: argparse.Namespace) -> int:
    from scmapper import runner

    rules = _load(args.mapping, args.root)
    path = Path(args.batch)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    meters = _meters(args)
    meter = meters.meter(f"apply {path.name}", path.stat().st_size, "events")
    with handle, closing(_open_store(args.db, rules, dry_run=args.dry_run, durable=False)) as store:
        counts = runner.run_batch(
            handle,
            rules,
            store,
            action=args.action,
            dry_run=args.dry_run,
            emit=lambda result: print(json.dumps(result, ensure_ascii=False)),
            meter=meter,
        )
    meter.close()
    meters.summary(str(counts), counts.succeeded + counts.failed, "events")
    return EXIT_OK if counts.failed == 0 else EXIT_DATA


def cmd_sync(args: argparse.Namespace) -> int:
    from scmapper import inputs
    from scmapper.sync import run_sync

    rules = _load(args.mapping, args.root)
    source = rules.mapping.source
    snapshot = inputs.read(source, inputs.assign(source, args.source))
    meters = _meters(args)
    with closing(_open_store(args.db, rules, dry_run=args.dry_run, durable=False)) as store:
        report = run_sync(rules, store, snapshot, dry_run=args.dry_run, force=args.force, meters=meters)
    if args.html:
        from scmapper.htmlreport import sync_page

        _write_html(args.html, sync_page(rules.mapping.file, report))
    code = emit(report, as_json=args.json)
    meters.summary(report.summary(), report.read, "records")
    return code


def _load(mapping: str, root: str | None) -> Any:
    from scmapper.loading import load_rules

    return load_rules(mapping, root)


def _open_store(db: str, rules: Any, *, dry_run: bool, durable: bool = True) -> Any:
    from scmapper.store import Shape, Store

    # A dry run against a database that does not exist yet must not create it.
    path = ":memory:" if dry_run and not Path(db).exists() else db
    if path != ":memory:" and not Path(db).parent.exists():
        raise UsageError(f"the folder for database {db} does not exist")
    store = Store(path, durable=durable)
    try:
        notes = store.prepare(Shape.of(rules.mapping))
    except BaseException:
        store.close()
        raise
    for note in notes:
        print(f"scmapper: {db}: {note}", file=sys.stderr)
    return store


def _existing_store(db: str, rules: Any) -> Any:
    if not Path(db).exists():
        raise UsageError(f"database {db} does not exist")
    return _open_store(db, rules, dry_run=False)


# --- export / upload ---------------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    from scmapper.export import run_export

    if args.upload and args.check:
        raise UsageError("--upload and --dry-run exclude each other: a dry run writes nothing to upload")
    rules = _load(args.mapping, args.root)
    meters = _meters(args)
    with closing(_existing_store(args.db, rules)) as store:
        meter = meters.meter("export", None, "rows")
        report = run_export(rules.mapping, store, Path(args.out), check=args.check, force=args.force, meter=meter)
        meter.close()
        if args.html:
            from scmapper.htmlreport import export_page

            _write_html(args.html, export_page(report))
        code = emit(report, as_json=args.json)
        meters.summary(report.summary_line(), meter.items, "rows")
        if args.upload and report.export_id is not None:
            uploaded = _upload(
                rules.mapping, store, report.export_id, args.trust_host_key, quiet=args.json, meters=meters
            )
            if not args.json:
                emit(uploaded, as_json=False)
    return code


def cmd_upload(args: argparse.Namespace) -> int:
    export_id = None if args.export.upper() == "LATEST" else _positive_int(args.export, "--export")
    rules = _load(args.mapping, args.root)
    with closing(_existing_store(args.db, rules)) as store:
        if args.dry_run:
            from scmapper.delivery import plan_upload

            return emit(
                plan_upload(rules.mapping, store, export_id, trust_host_key=args.trust_host_key), as_json=args.json
            )
        report = _upload(rules.mapping, store, export_id, args.trust_host_key, quiet=args.json, meters=_meters(args))
    return emit(report, as_json=args.json)


def _upload(mapping: Any, store: Any, export_id: int | None, trust: str | None, *, quiet: bool, meters: Any) -> Any:
    from scmapper.delivery import upload

    meter = None

    def log(line: str) -> None:
        if meter is not None:
            meter.close()  # a log line on a line of its own; the bar comes back on the next redraw
        print(f"sftp: {line}", file=sys.stderr)

    def start(total: int) -> Any:
        nonlocal meter
        meter = meters.meter("upload", total, "bytes")
        return meter

    report = upload(mapping, store, export_id, trust_host_key=trust, log=None if quiet else log, progress=start)
    if meter is not None:
        meter.close()
        meters.summary(report.summary_line(), meter.items, "bytes")
    return report


def _positive_int(text: str, option: str, what: str = "LATEST or an export number") -> int:
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"{option} takes {what}, not {text!r}")
    return int(text)


# --- adopt / log / demo ------------------------------------------------------------------------


def cmd_adopt(args: argparse.Namespace) -> int:
    from scmapper.adopt import analyse, load

    rules = _load(args.mapping, args.root)
    plan = analyse(rules.mapping, args.old_db)
    if args.force or not plan.report.errors:
        with closing(_open_store(args.db, rules, dry_run=False)) as store:
            load(rules.mapping, store, plan)
    return emit(plan.report, as_json=args.json)


# --- compare / reconcile / accounts: commands that only read -------------------------------


def _read_store(db: str, rules: Any) -> Any:
    """The database opened read-only with the mapping's shape: nothing migrated or added."""
    from scmapper.store import Shape, Store

    if not Path(db).is_file():
        raise UsageError(f"database {db} does not exist")
    store = Store(db, read_only=True)
    try:
        store.attach(Shape.of(rules.mapping))
    except BaseException:
        store.close()
        raise
    return store


def cmd_compare(args: argparse.Namespace) -> int:
    from scmapper.compare import run_compare

    rules = _load(args.mapping, args.root)
    with closing(_read_store(args.db, rules)) as store:
        report = run_compare(rules, store, [Path(p) for p in args.events])
    return emit(report, as_json=args.json)


def cmd_reconcile(args: argparse.Namespace) -> int:
    from scmapper.reconcile import run_reconcile

    rules = _load(args.mapping, args.root)
    with closing(_read_store(args.db, rules)) as store:
        report = run_reconcile(rules.mapping, list(store.persons.each()), Path(args.spendcloud))
    return emit(report, as_json=args.json)


def cmd_accounts(args: argparse.Namespace) -> int:
    from scmapper.accounts import list_accounts

    rules = _load(args.mapping, args.root)
    with closing(_read_store(args.db, rules)) as store:
        report = list_accounts(rules.mapping, store)
    if args.json_lines:
        for line in report.json_lines():
            print(line)
        return report.exit_code
    return emit(report, as_json=args.json)


def cmd_log(args: argparse.Namespace) -> int:
    from scmapper.auditlog import read_log

    if not Path(args.db).exists():
        raise UsageError(f"database {args.db} does not exist")
    since = _iso_utc(args.since) if args.since else None
    limit = _positive_int(args.limit, "--limit", "a number of events") if args.limit is not None else None
    report = read_log(args.db, ref=args.account, since=since, action=args.action, limit=limit)
    return emit(report, as_json=args.json)


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


def cmd_demo(args: argparse.Namespace) -> int:
    from scmapper.demo import run_demo

    return run_demo(Path(args.mapping), Path(args.events), Path(args.out))
