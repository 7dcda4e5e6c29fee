"""One function per subcommand: read the arguments, call the module that does the work, print
the report it returns through `reports.emit` (text or --json), return the exit code.

Heavy modules are imported inside the commands that need them, so `apply` pays only for what
it uses.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scmapper.cli.opening import AGENT_WAIT, existing_store, open_store, read_store
from scmapper.core.reports import emit

if TYPE_CHECKING:  # for the annotations only: each command imports what it runs when it runs
    from scmapper.core.progress import Meter, Meters
    from scmapper.export.delivery import UploadReport
    from scmapper.mapping.model import Mapping
    from scmapper.mapping.rules import Rules
    from scmapper.store import Store
from scmapper.errors import EXIT_DATA, EXIT_OK, UsageError

# --- validate / preview / test -------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    from scmapper.authoring.validation import validate_files

    paths = _mappings(args, "validate")
    for path in paths:  # a file that is not there is the environment (2), not a problem in a mapping
        if not Path(path).is_file():
            raise UsageError(f"mapping {path} not found: check the path (it is read from {Path.cwd()})")
    sample = _read_person(args.sample) if args.sample else None
    return emit(validate_files(paths, sample, args.root, explain=args.explain), as_json=args.json)


def cmd_preview(args: argparse.Namespace) -> int:
    from scmapper.authoring.validation import preview

    mapping, person_file = _preview_inputs(args)
    if args.source:
        report = preview(mapping, None, args.root, source=args.source, key=args.key)
    elif args.key:
        raise UsageError("--key goes with --source: it picks one person from the input files")
    else:
        report = preview(mapping, _read_person(person_file or "-"), args.root)
    if args.html:
        from scmapper.cli.htmlreport import preview_page

        _write_html(args.html, preview_page(mapping, report.record, report))
    return emit(report, as_json=True)


def cmd_test(args: argparse.Namespace) -> int:
    from scmapper.authoring.cases import run_files

    paths = _mappings(args, "test")
    if args.cases and len(paths) > 1:
        raise UsageError("--cases goes with one mapping")
    return emit(run_files([Path(name) for name in paths], args.cases, args.root), as_json=args.json)


def _mappings(args: argparse.Namespace, command: str) -> list[str]:
    found: list[str] = [*args.mapping, *(args.mapping_option or [])]
    if not found:
        raise UsageError(f"name a mapping: scmapper {command} --mapping MAPPING (or scmapper {command} MAPPING)")
    return found


def _preview_inputs(args: argparse.Namespace) -> tuple[str, str | None]:
    """(mapping, person) from `preview MAPPING PERSON` or `preview --mapping MAPPING PERSON`; with
    --source, no person."""
    given = [name for name in (args.mapping, args.person) if name is not None]
    mapping = args.mapping_option or (given.pop(0) if given else None)
    if mapping is None or len(given) != (0 if args.source else 1):
        raise UsageError(
            "preview takes a mapping and a person: scmapper preview --mapping MAPPING PERSON.json (- for stdin),"
            " or the input files: scmapper preview MAPPING --source FILE... --key KEY"
        )
    return mapping, given[0] if given else None


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


def _meters(args: argparse.Namespace) -> Meters:
    """Progress on stderr when it is a terminal and no --json; the summary line unless --json."""
    from scmapper.core.progress import Meters

    quiet = bool(getattr(args, "json", False))
    return Meters(sys.stderr if sys.stderr.isatty() and not quiet else None, None if quiet else sys.stderr)


def _read_person(source: str) -> dict[str, Any]:
    from scmapper.lifecycle import events

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
    from scmapper.lifecycle import runner

    if args.batch:
        return _apply_batch(args)
    # The agent reads one JSON result whatever happens: failures to load the mapping, read the
    # event or open the database become that result too, and then the usual message and exit code.
    outcome = runner.apply_one(
        lambda: _read_input(args.event),
        lambda: _load(args.mapping, args.root),
        lambda rules, dry_run: open_store(args.db, rules, dry_run=dry_run, wait=AGENT_WAIT),
        action=args.action,
        dry_run=args.dry_run,
    )
    print(json.dumps(outcome.result, ensure_ascii=False), flush=True)
    if outcome.error is not None:
        raise outcome.error
    return outcome.exit_code


def _apply_batch(args: argparse.Namespace) -> int:
    from scmapper.lifecycle import runner

    rules = _load(args.mapping, args.root)
    path = Path(args.batch)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    meters = _meters(args)
    meter = meters.meter(f"apply {path.name}", path.stat().st_size, "events")
    encode = json.JSONEncoder(ensure_ascii=False).encode  # one encoder for the batch's answers
    with handle, closing(open_store(args.db, rules, dry_run=args.dry_run, durable=False)) as store:
        counts = runner.run_batch(
            handle,
            rules,
            store,
            action=args.action,
            dry_run=args.dry_run,
            emit=lambda result: print(encode(result)),
            meter=meter,
        )
    meter.close()
    meters.summary(str(counts), counts.succeeded + counts.failed, "events")
    return EXIT_OK if counts.failed == 0 else EXIT_DATA


def cmd_sync(args: argparse.Namespace) -> int:
    from scmapper.cli.retention import retain_after_run
    from scmapper.lifecycle.sync import run_sync
    from scmapper.sources import inputs

    rules = _load(args.mapping, args.root)
    source = rules.mapping.source
    given, encodings = inputs.with_encodings(args.source)
    snapshot = inputs.read(source, inputs.assign(source, given), encodings)
    meters = _meters(args)
    with closing(open_store(args.db, rules, dry_run=args.dry_run, durable=False)) as store:
        report = run_sync(rules, store, snapshot, dry_run=args.dry_run, force=args.force, meters=meters)
        if not args.dry_run:
            retain_after_run(rules.mapping, store)
    if args.html:
        from scmapper.cli.htmlreport import sync_page

        command = _shown("sync", args, "--mapping", args.mapping, "--db", args.db, "--source", *args.source)
        _write_html(args.html, sync_page(rules.mapping.file, report, command=command, files=given))
    code = emit(report, as_json=args.json)
    meters.summary(report.summary(), report.read, "records")
    return code


def _resend(args: argparse.Namespace, rules: Rules) -> int:
    from scmapper.cli.retention import retain_after_run
    from scmapper.export.resend import run_resend

    if args.upload or args.html:
        raise UsageError("--resend goes without --upload and --html: re-send, then run `scmapper upload`")
    with closing(existing_store(args.db, rules)) as store:
        report = run_resend(rules.mapping, store, Path(args.out), args.resend, check=args.check, force=args.force)
        if report.status == "written":
            retain_after_run(rules.mapping, store)
    return emit(report, as_json=args.json)


def _shown(command: str, args: argparse.Namespace, *words: str) -> str:
    """The command as a person would type it again, quoted for this system's shell."""
    import shlex
    import subprocess

    as_of = getattr(args, "as_of", None)
    extra = [*(["--root", args.root] if args.root else []), *(["--as-of", as_of] if as_of else [])]
    full = ["scmapper", command, *map(str, words), *extra]
    return subprocess.list2cmdline(full) if sys.platform == "win32" else shlex.join(full)


def _load(mapping: str, root: str | None) -> Rules:
    from scmapper.mapping.loading import load_rules

    return load_rules(mapping, root)


# --- export / upload ---------------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    from scmapper.cli.retention import retain_after_run
    from scmapper.export.pipeline import run_export

    if args.upload and args.check:
        raise UsageError("--upload and --dry-run exclude each other: a dry run writes nothing to upload")
    rules = _load(args.mapping, args.root)
    if args.resend is not None:
        return _resend(args, rules)
    meters = _meters(args)
    with closing(existing_store(args.db, rules)) as store:
        meter = meters.meter("export", None, "rows")
        report = run_export(rules.mapping, store, Path(args.out), check=args.check, force=args.force, meter=meter)
        meter.close()
        if not args.check:
            retain_after_run(rules.mapping, store)
        if args.html:
            from scmapper.cli.htmlreport import export_page

            command = _shown("export", args, "--mapping", args.mapping, "--db", args.db, "--out", args.out)
            _write_html(args.html, export_page(report, command=command, files=(str(args.db), str(args.out))))
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
    with closing(existing_store(args.db, rules)) as store:
        if args.dry_run:
            from scmapper.export.delivery import plan_upload

            return emit(
                plan_upload(rules.mapping, store, export_id, trust_host_key=args.trust_host_key), as_json=args.json
            )
        report = _upload(rules.mapping, store, export_id, args.trust_host_key, quiet=args.json, meters=_meters(args))
    return emit(report, as_json=args.json)


def _upload(
    mapping: Mapping, store: Store, export_id: int | None, trust: str | None, *, quiet: bool, meters: Meters
) -> UploadReport:
    from scmapper.export.delivery import upload

    meter = None

    def log(line: str) -> None:
        if meter is not None:
            meter.close()  # a log line on a line of its own; the bar comes back on the next redraw
        print(f"sftp: {line}", file=sys.stderr)

    def start(total: int) -> Meter:
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
    from scmapper.migration.adopt import analyse, load

    rules = _load(args.mapping, args.root)
    plan = analyse(rules.mapping, args.old_db)
    if args.force or not plan.report.errors:
        with closing(open_store(args.db, rules, dry_run=False)) as store:
            load(rules.mapping, store, plan)
    return emit(plan.report, as_json=args.json)


# --- compare / reconcile / accounts: commands that only read -------------------------------


def cmd_compare(args: argparse.Namespace) -> int:
    from scmapper.migration.compare import run_compare

    rules = _load(args.mapping, args.root)
    with closing(read_store(args.db, rules)) as store:
        report = run_compare(rules, store, [Path(p) for p in args.events])
    return emit(report, as_json=args.json)


def cmd_reconcile(args: argparse.Namespace) -> int:
    from scmapper.migration.reconcile import run_reconcile

    rules = _load(args.mapping, args.root)
    with closing(read_store(args.db, rules)) as store:
        report = run_reconcile(rules.mapping, list(store.persons.each()), Path(args.spendcloud))
    return emit(report, as_json=args.json)


def cmd_accounts(args: argparse.Namespace) -> int:
    from scmapper.migration.accounts import list_accounts

    rules = _load(args.mapping, args.root)
    with closing(read_store(args.db, rules)) as store:
        report = list_accounts(rules.mapping, store)
    if args.json_lines:
        for line in report.json_lines():
            print(line)
        return report.exit_code
    return emit(report, as_json=args.json)


def cmd_log(args: argparse.Namespace) -> int:
    from scmapper.cli.auditlog import read_log, since_utc
    from scmapper.cli.retention import prune_command

    if not Path(args.db).exists():
        raise UsageError(f"database {args.db} does not exist")
    if args.prune:
        return prune_command(args.db, args.older_than, args.archive, redact=args.redact, as_json=args.json)
    if args.older_than is not None or args.archive or args.redact:
        raise UsageError("--older-than, --archive and --redact go with --prune")
    since = since_utc(args.since) if args.since else None
    limit = _positive_int(args.limit, "--limit", "a number of events") if args.limit is not None else None
    report = read_log(args.db, ref=args.account, since=since, action=args.action, limit=limit)
    return emit(report, as_json=args.json)


def cmd_status(args: argparse.Namespace) -> int:
    from scmapper.cli.status import read_status

    max_age = float(_positive_int(args.max_age, "--max-age", "a number of hours")) if args.max_age else None
    rules = _load(args.mapping, args.root)
    with closing(read_store(args.db, rules)) as store:
        return emit(read_status(store, Path(args.db), max_age=max_age), as_json=args.json)


def cmd_demo(args: argparse.Namespace) -> int:
    from scmapper.cli.demo import run_demo
    from scmapper.mapping.trust import STARTERS

    mapping = Path(args.mapping) if args.mapping else STARTERS / "spendcloud.yaml"
    events = Path(args.events) if args.events else STARTERS / "samples" / "helloid" / "events.jsonl"
    return run_demo(mapping, events, Path(args.out))


def cmd_init(args: argparse.Namespace) -> int:
    from scmapper.cli.init import run_init

    for line in run_init(Path(args.folder), args.system):
        print(line)
    return EXIT_OK
