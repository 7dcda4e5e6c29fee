"""The `scmapper` command: argument parsing and the one error handler.

Each subcommand (commands.py) returns an exit code; `main` maps ScmapperError subclasses to
theirs and anything else to 3 (a bug), printing a traceback only with --debug. Heavy
modules are imported inside the subcommands that need them, so `apply` pays only
for what it uses. This module imports only the standard library and `errors` at its top, and
the handler imports nothing: even an install that lost a module ends in one line and exit 3.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from scmapper import __version__
from scmapper.errors import EXIT_INTERNAL, EXIT_USAGE, ScmapperError, UsageError

_AS_OF_HELP = "the run's date: `today` in expressions and the versions effective-dated inputs keep"


def _as_of_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--as-of {text[:40]!r} is not a date: give it as YYYY-MM-DD") from None


def main(argv: Sequence[str] | None = None) -> int:
    # Agents read our JSON as UTF-8 whatever the console's code page (Windows pipes default to ANSI).
    for stream, errors in ((sys.stdout, "strict"), (sys.stderr, "backslashreplace")):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8", errors=errors)
    given = list(sys.argv[1:] if argv is None else argv)
    # Only the named command's options are built (argparse takes milliseconds a command); a
    # first word that is no command, or --help, builds them all, to list them.
    parser = _parser(given[0] if given and given[0] in COMMANDS else None)
    args = parser.parse_args(given)
    try:
        from scmapper.cli import commands

        handler: Callable[[argparse.Namespace], int] = getattr(commands, f"cmd_{args.command}")
        if getattr(args, "as_of", None) is None:
            return handler(args)
        from scmapper.mapping.day import as_of

        with as_of(_as_of_date(args.as_of)):
            return handler(args)
    except ScmapperError as exc:
        if args.debug:
            raise
        print(f"scmapper: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        print(f"scmapper: {exc or 'interrupted'}", file=sys.stderr)
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


COMMANDS = frozenset(
    "validate preview apply sync test export upload adopt compare reconcile accounts status log demo init".split()
)


class _NotBuilt:
    """The parser of a command this run does not name: whatever is added to it is dropped."""

    def __getattr__(self, name: str) -> Callable[..., _NotBuilt]:
        return lambda *args, **kwargs: self


def _parser(wanted: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `wanted`, the other commands are named but their options not built."""
    parser = argparse.ArgumentParser(prog="scmapper", description="Keep Spend Cloud in step with HR data.")
    parser.add_argument("--version", action="version", version=f"scmapper {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks for internal errors")
    common.add_argument(
        "--root",
        metavar="DIR",
        help="the folder a mapping may read files from (default: SCMAPPER_ROOT, else the mapping's own folder)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, **options: Any) -> Any:
        return _NotBuilt() if wanted is not None and name != wanted else subparsers.add_parser(name, **options)

    p = command("validate", parents=[common], help="check mapping files; list every problem")
    p.add_argument("mapping", nargs="*", help="mapping files (or give each with --mapping)")
    _mapping_option(p, many=True)
    p.add_argument("--sample", help="a person JSON to run every expression on")
    p.add_argument(
        "--explain", action="store_true", help="say which expressions compile to Python and which run in Jinja, and why"
    )
    p.add_argument("--json", action="store_true", help="report as JSON")

    p = command("preview", parents=[common], help="show the rows a person gives; no database")
    p.add_argument("mapping", nargs="?", help="the mapping (or give it with --mapping)")
    p.add_argument(
        "person", nargs="?", help="person JSON (a bare person, a native event or a HelloID event); - for stdin"
    )
    _mapping_option(p)
    p.add_argument(
        "--source",
        nargs="+",
        action="extend",
        metavar="[NAME=]FILE",
        help="instead of a person: the mapping's input files, joined as sync joins them",
    )
    p.add_argument("--key", help="with --source: the person's key (the mapping's key column)")
    p.add_argument("--html", metavar="FILE", help="also write the record beside its rows as one HTML page")
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help=_AS_OF_HELP)

    p = command("apply", parents=[common], help="apply one lifecycle event (or a batch) to the database")
    p.add_argument("--mapping", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--action", choices=("create", "update", "enable", "disable", "delete"))
    p.add_argument("--dry-run", action="store_true", help="compute and report; write nothing")
    p.add_argument("--batch", metavar="EVENTS.jsonl", help="apply one event per line, each its own transaction")
    p.add_argument("event", nargs="?", default="-", help="event JSON file, or - for stdin (the default)")

    p = command("sync", parents=[common], help="bring the database in line with a full source snapshot")
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
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help=_AS_OF_HELP)

    p = command("test", parents=[common], help="run mappings' test cases")
    p.add_argument("mapping", nargs="*", help="mapping files, or their NAME.tests.yaml case files")
    _mapping_option(p, many=True)
    p.add_argument("--cases", help="the test case file, with one mapping (default: NAME.tests.yaml beside it)")
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help=_AS_OF_HELP)
    p.add_argument("--json", action="store_true")

    p = command("export", parents=[common], help="write the persons and roles files for Spend Cloud")
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
    p.add_argument("--resend", type=int, metavar="ID", help="make archived export ID the current files again")

    p = command("upload", parents=[common], help="upload an export's files over SFTP")
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

    p = command("adopt", parents=[common], help="take over the old PowerShell connector's database")
    p.add_argument("--mapping", required=True)
    p.add_argument("--db", required=True, help="the new database (must not hold persons yet)")
    p.add_argument("old_db", metavar="OLD_SPENDCLOUD_DB")
    p.add_argument(
        "--force", action="store_true", help="load despite errors: newest duplicates win, unplaceable rows left out"
    )
    p.add_argument("--json", action="store_true")

    p = command("compare", parents=[common], help="what a mapping would change for HelloID events; no writes")
    p.add_argument("--mapping", required=True)
    p.add_argument("--db", required=True, help="the database to compare with (read only)")
    p.add_argument("events", nargs="+", metavar="EVENTS", help="event files: one JSON event each, or JSON lines")
    p.add_argument("--json", action="store_true")

    p = command("reconcile", parents=[common], help="compare the database with Spend Cloud's user list")
    p.add_argument("--mapping", required=True)
    p.add_argument("--db", required=True, help="the database (read only)")
    p.add_argument("--spendcloud", required=True, metavar="USERS.csv", help="the user list exported from Spend Cloud")
    p.add_argument("--json", action="store_true")

    p = command("accounts", parents=[common], help="list the accounts in the database; no writes")
    p.add_argument("--mapping", required=True)
    p.add_argument("--db", required=True, help="the database (read only)")
    shape = p.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="one JSON document")
    shape.add_argument("--json-lines", action="store_true", help="one JSON object per account (for scripts)")

    p = command("status", parents=[common], help="the database's health at a glance (for monitoring)")
    p.add_argument("--mapping", required=True)
    p.add_argument("--db", required=True, help="the database (read only)")
    p.add_argument("--max-age", metavar="HOURS", help="attention when the last export is older than this")
    p.add_argument("--json", action="store_true")

    p = command("log", parents=[common], help="show the audit trail")
    p.add_argument("--db", required=True)
    p.add_argument("--account", help="only this account reference")
    p.add_argument("--since", help="only events at or after this ISO time")
    p.add_argument("--action", metavar="ACTION", help="only this action (CreateAccount, ExportFiles, UploadFile, ...)")
    p.add_argument("--limit", metavar="N", help="only the newest N events (still oldest first)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--prune", action="store_true", help="remove the entries older than --older-than (recorded)")
    p.add_argument("--older-than", metavar="DAYS", help="with --prune: entries older than this many days")
    p.add_argument("--archive", metavar="FILE.jsonl", help="with --prune: write the entries there first")
    p.add_argument("--redact", action="store_true", help="with --prune: keep the entries, drop the person data")

    p = command("demo", parents=[common], help="run the main job on the bundled samples")
    p.add_argument("--out", default="demo-out", help="folder for the demo database (default: demo-out)")
    p.add_argument("--mapping", help="the HelloID mapping (default: the starter:spendcloud shipped in scmapper)")
    p.add_argument("--events", help="HelloID events, one a line (default: the shipped samples)")

    p = command("init", parents=[common], help="make a customer folder from a starter")
    p.add_argument("folder", metavar="DIR", help="the folder to make (existing files in it are never overwritten)")
    p.add_argument(
        "--from",
        dest="system",
        required=True,
        metavar="SYSTEM",
        help="a starter (afas, raet, adp, successfactors, entra, ad, helloid) or a sample file of the system",
    )
    return parser


def _environment_error(exc: Exception) -> ScmapperError | None:
    """A database at fault rather than a bug, as the store judges it; asked only when the store
    was loaded (no SQLite error can come from elsewhere), so the handler imports nothing."""
    store = sys.modules.get("scmapper.store.connection")
    judge = getattr(store, "environment_error", None)
    return judge(exc) if judge is not None else None


def _mapping_option(parser: argparse.ArgumentParser, *, many: bool = False) -> None:
    """--mapping, as every command that reads a mapping takes it; the positional form still works."""
    parser.add_argument(
        "--mapping",
        dest="mapping_option",
        action="append" if many else "store",
        metavar="MAPPING",
        help="the mapping file" + (" (may be repeated)" if many else ""),
    )
