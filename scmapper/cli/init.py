"""`init`: a customer's own folder, made from a shipped starter.

The folder holds a mapping that extends the starter by name (`extends: starter:afas`, so no
`../` and no `--root`), with the settings customers change most shown commented beside it; a
copy of the starter's samples without the records broken on purpose (so the folder's own
`sync` runs clean); a tests file with one case built from the first sample record, its rows
as the mapping makes them today; and a README of the commands to run next. Nothing is written
when any of those files exists already.

Vocabulary: a *system* is what `--from` names: a starter (`afas`, `helloid`...) or a sample
file whose shape says which system published it.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

from scmapper import __version__, jsontext
from scmapper.errors import DataError, SandboxViolation, UsageError
from scmapper.lifecycle import events
from scmapper.mapping import trust, yamlio
from scmapper.mapping.rules import Rules
from scmapper.mapping.source import Input, Source
from scmapper.sources import inputs
from scmapper.sources import records as sources
from scmapper.sources.inputs import Snapshot

MAPPING = "spendcloud.yaml"
TESTS = "spendcloud.tests.yaml"
SYSTEMS = {  # --from name: (starter, what it reads)
    "afas": ("afas", "AFAS Profit, the HelloID GetConnectors"),
    "raet": ("raet", "Visma Raet, the IAM API"),
    "adp": ("adp", "ADP Workforce Now, GET /hr/v2/workers"),
    "successfactors": ("successfactors", "SAP SuccessFactors, the OData API"),
    "entra": ("entra", "Microsoft Entra ID, Graph /users"),
    "ad": ("ad", "Active Directory, Get-ADUser"),
    "helloid": ("spendcloud", "HelloID persons, from the agent's lifecycle events"),
}


def run_init(folder: Path, system: str) -> list[str]:
    """Writes the customer folder; the lines to print. UsageError, writing nothing, for an
    unknown system or a folder that already holds one of the files."""
    name = system_of(system)
    starter, label = SYSTEMS[name]
    samples = trust.STARTERS / "samples" / name
    sample_files = sorted(p for p in samples.iterdir() if p.is_file()) if samples.is_dir() else []
    targets = [folder / MAPPING, folder / TESTS, folder / "README.md"] + [
        folder / "samples" / p.name for p in sample_files
    ]
    taken = [str(p) for p in targets if p.exists() or p.is_symlink()]
    if taken:
        raise UsageError(f"init writes nothing over existing files: {', '.join(taken)}; choose an empty folder")
    from scmapper.mapping.loading import load_rules  # the heavy part: only once the arguments are sound

    rules = load_rules(trust.starter(starter))
    today = _starter_today(starter)
    kept: dict[Path, str] = {}
    if rules.mapping.source.inputs:
        snapshot, failed = _failed_origins(rules, sample_files, today)
        kept = _without(rules.mapping.source, sample_files, failed)
        case = _case(rules, snapshot, failed, today)
    else:
        case = _helloid_case(rules, samples / "create-event.json")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "samples").mkdir(exist_ok=True)
    for path in sample_files:
        target = folder / "samples" / path.name
        if path in kept:
            target.write_text(kept[path], encoding="utf-8")
        else:
            shutil.copyfile(path, target)
    with_samples = bool(sample_files) and bool(rules.mapping.source.inputs)
    (folder / MAPPING).write_text(_mapping_text(folder, starter, label, with_samples), encoding="utf-8")
    (folder / TESTS).write_text(_tests_text(case, today), encoding="utf-8")
    (folder / "README.md").write_text(_readme(folder, name, label, sample_files), encoding="utf-8")
    return [f"wrote {p}" for p in targets]


def system_of(given: str) -> str:
    """The system `--from` names: a starter's name, or a sample file recognised by its shape."""
    if given.lower() in SYSTEMS:
        return given.lower()
    if given.removeprefix(trust.STARTER_PREFIX) == "spendcloud":
        return "helloid"
    path = Path(given)
    if not path.is_file():
        raise UsageError(f"--from {given}: neither a starter ({', '.join(SYSTEMS)}) nor a sample file")
    data = jsontext.loads(jsontext.read_text(path, UsageError, "sample"))
    found = _shape(data)
    if found is None:
        raise UsageError(
            f"--from {given}: its shape is none scmapper knows (AFAS rows, Graph value, OData d.results, ADP"
            f" workers, Raet value with personCode, a HelloID Person, a list of AD users); name the system instead:"
            f" {', '.join(SYSTEMS)}"
        )
    return found


def _shape(data: Any) -> str | None:
    """Which system publishes a document of this shape."""
    if isinstance(data, list):
        first = data[0] if data and isinstance(data[0], dict) else {}
        return "ad" if {"sAMAccountName", "DistinguishedName"} & set(first) else None
    if not isinstance(data, dict):
        return None
    keys = {k.lower() for k in data}
    if keys & {"person", "personcontext"}:
        return "helloid"
    if "rows" in data:
        return "afas"
    if "workers" in data:
        return "adp"
    if isinstance(data.get("d"), dict):
        return "successfactors"
    if isinstance(data.get("value"), list):
        first = data["value"][0] if data["value"] and isinstance(data["value"][0], dict) else {}
        return "raet" if "personCode" in first else "entra"
    return None


def _starter_today(starter: str) -> date | None:
    """The date the starter's test cases run on: its samples' contracts are current then."""
    cases = trust.STARTERS / f"{starter}.tests.yaml"
    if not cases.is_file():
        return None
    found = yamlio.load_bytes(cases.read_bytes(), str(cases)).data.get("today")
    return date.fromisoformat(str(found)) if found else None


def _failed_origins(rules: Rules, files: list[Path], today: date | None) -> tuple[Snapshot, set[str]]:
    """The samples' snapshot, and the origins (`users.json#24`) of the records that fail the
    mapping, on the starter's date or today."""
    source = rules.mapping.source
    snapshot = inputs.read(source, inputs.assign(source, [str(p) for p in files]))
    records = list(snapshot.records)
    snapshot = Snapshot(records, snapshot.tables, snapshot.notes, snapshot.digest)
    failed = set()
    for record in records:
        for day in {today, None}:
            try:
                rules.map_person(record.data, day, inputs=snapshot.tables)
            except (DataError, SandboxViolation):
                failed.add(record.origin)
    return snapshot, failed


def _without(source: Source, files: list[Path], failed: set[str]) -> dict[Path, str]:
    """{file: its text without the failing records} for each main-input file that held one."""
    kept = {}
    for path in inputs.assign(source, [str(p) for p in files]).get(source.main.name, []):
        data = jsontext.loads(jsontext.read_text(path, UsageError, "sample"))
        items = sources.records_in(data, source.main.records, path)
        gone = [i for i in range(len(items)) if f"{path.name}#{i + 1}" in failed]
        if gone:
            for index in reversed(gone):
                del items[index]
            kept[path] = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    return kept


def _case(rules: Rules, snapshot: Snapshot, failed: set[str], today: date | None) -> dict[str, Any]:
    """One test case: the first sample record that maps, and the rows it gives today."""
    source = rules.mapping.source
    record = next(r for r in snapshot.records if r.origin not in failed)
    mapped = rules.map_person(record.data, today, inputs=snapshot.tables)
    case: dict[str, Any] = {"name": f"{mapped.key}: the first sample record, as the starter maps it"}
    if source.inputs:
        case["inputs"] = _split(source, source.main, record.data) | {
            name: list(table.values()) for name, table in snapshot.tables.items()
        }
    elif source.group_by:
        case["records"] = record.data["rows"]
    else:
        case["record"] = record.data
    case["expect"] = {"person": dict(mapped.row), "roles": [dict(r) for r in mapped.roles], "active": mapped.active}
    return case


def _helloid_case(rules: Rules, event: Path) -> dict[str, Any]:
    """The test case of the HelloID starter: the person of its sample create event."""
    person = events.person_from_bytes(event.read_bytes())
    mapped = rules.map_person(person)
    return {
        "name": f"{mapped.key}: the person of samples/{event.name}",
        "record": person,
        "expect": {"person": dict(mapped.row), "roles": [dict(r) for r in mapped.roles], "active": mapped.active},
    }


def _split(source: Source, item: Input, data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """A joined record taken apart again into each input's records (what a case's inputs hold)."""
    children = source.children(item)
    own = {k: v for k, v in data.items() if k not in {c.attach for c in children}}
    found: dict[str, list[dict[str, Any]]] = {item.name: [own]}
    for child in children:
        for attached in data.get(str(child.attach)) or []:
            for name, records in _split(source, child, attached).items():
                found.setdefault(name, []).extend(records)
    return found


def _settings(starter: str) -> list[tuple[str, dict[str, Any]]]:
    """(what it is, the starter's own setting) for each setting customers change most."""
    from scmapper.mapping.loading import resolved_data

    data = resolved_data(trust.starter(starter))
    columns = data["person"]["columns"]
    found: list[tuple[str, dict[str, Any]]] = []
    own_vars = data.get("vars") or {}
    if "username" in own_vars:
        found.append(("The username Spend Cloud keys on", {"vars": {"username": own_vars["username"]}}))
    elif "gebruikersnaam" in columns:
        found.append(("The username Spend Cloud keys on", {"person": {"columns": _only(columns, "gebruikersnaam")}}))
    naming = _only(columns, "voornaam", "tussenvoegsel", "achternaam")
    if "name" in own_vars:
        found.append(("The name, and the naming convention it follows", {"vars": {"name": own_vars["name"]}}))
    if naming:
        found.append(("How first name, prefix and last name are made", {"person": {"columns": naming}}))
    role_columns = (data.get("roles") or {}).get("columns") or {}
    if "functiecode" in role_columns:
        found.append(
            ("The function-profile code of a role", {"roles": {"columns": _only(role_columns, "functiecode")}})
        )
    if data.get("lookups"):
        found.append(
            ("The starter's tables (a code in the source to a value in Spend Cloud)", {"lookups": data["lookups"]})
        )
    export = data.get("export") or {}
    if "thresholds" in export:
        found.append(
            (
                "When an export refuses: removals at once, as a count or a percentage",
                {"export": {"thresholds": export["thresholds"]}},
            )
        )
    files = {
        kind: {k: v for k, v in export[kind].items() if k in ("file", "columns", "header")}
        for kind in ("persons", "roles")
        if kind in export
    }
    if files:
        found.append(("The files Spend Cloud's import reads", {"export": files}))
    return found


def _only(columns: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: columns[name] for name in names if name in columns}


def _commented(data: dict[str, Any]) -> str:
    text = yaml_dump(data)
    return "".join(f"# {line}\n" if line else "#\n" for line in text.splitlines())


def yaml_dump(data: Any) -> str:
    """YAML as a person writes it: keys in order, text of several lines as a block."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return yaml.dump(data, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=110, default_flow_style=False)


def _mapping_text(folder: Path, starter: str, label: str, samples: bool) -> str:
    schema = trust.STARTERS.parent / "schemas" / "mapping.schema.json"
    lines = [
        f"# yaml-language-server: $schema={schema.resolve().as_uri()}",
        f"# Spend Cloud for {folder.resolve().name}, from {label}. Made by `scmapper init` (scmapper {__version__}).",
        f"# It builds on the {starter} starter that ships inside scmapper: every setting not written here",
        "# is the starter's. `scmapper validate spendcloud.yaml` checks it and names the starter it builds on.",
        "version: 1",
        f"name: Spend Cloud for {folder.resolve().name}, from {label.split(',')[0]}",
        f"extends: {trust.STARTER_PREFIX}{starter}",
    ]
    if samples:
        lines += [
            "",
            "source:",
            "  samples: samples   # field paths are checked against these records (the starter's, copied)",
        ]
    lines += [
        "",
        "# The settings customers change most, as the starter has them. Uncomment a block and edit it:",
        "# what is written here wins over the starter (a column or var by name, a table entry by entry).",
    ]
    for title, setting in _settings(starter):
        lines += ["", f"# --- {title}", _commented(setting).rstrip("\n")]
    return "\n".join(lines) + "\n"


def _tests_text(case: dict[str, Any], today: date | None) -> str:
    document: dict[str, Any] = {"version": 1, "mapping": MAPPING}
    if today:
        document["today"] = today.isoformat()
    document["cases"] = [case]
    head = (
        "# yaml-language-server: $schema="
        f"{(trust.STARTERS.parent / 'schemas' / 'mapping-tests.schema.json').resolve().as_uri()}\n"
        "# The rows the first sample record gives, as the starter maps it on the date below. Run them with\n"
        "# `scmapper test spendcloud.yaml`; add a case for each rule you change (a record, the rows it must give).\n"
    )
    return head + yaml_dump(document)


def _readme(folder: Path, name: str, label: str, sample_files: list[Path]) -> str:
    given = " ".join(f"samples/{p.name}" for p in sample_files if p.suffix in (".json", ".jsonl"))
    if name == "helloid":
        run = (
            "scmapper apply --mapping spendcloud.yaml --db spendcloud.db --action create samples/create-event.json\n"
            "scmapper export --mapping spendcloud.yaml --db spendcloud.db --out out --dry-run\n"
        )
    else:
        run = (
            f"scmapper sync --mapping spendcloud.yaml --db spendcloud.db --source {given} --dry-run\n"
            f"scmapper sync --mapping spendcloud.yaml --db spendcloud.db --source {given}\n"
            "scmapper export --mapping spendcloud.yaml --db spendcloud.db --out out --dry-run\n"
        )
    return (
        f"# Spend Cloud for {folder.resolve().name}\n\n"
        f"Made by `scmapper init --from {name}` (scmapper {__version__}): {label}.\n\n"
        f"- `{MAPPING}`: the mapping. It extends the `{name}` starter shipped inside scmapper; the settings\n"
        "  customers change most stand in it, commented, as the starter has them.\n"
        f"- `{TESTS}`: a test case from the first sample record. Add one for each rule you change.\n"
        "- `samples/`: the starter's sample files (records broken on purpose left out). Replace them with\n"
        "  your own system's files, fetched as `docs/sources/` in scmapper's documentation says.\n\n"
        "Next, from this folder:\n\n"
        "```sh\n"
        "scmapper validate spendcloud.yaml     # every problem as file:line:col; names the starter it builds on\n"
        "scmapper test spendcloud.yaml         # the cases in spendcloud.tests.yaml\n"
        f"{run}"
        "```\n"
    )
