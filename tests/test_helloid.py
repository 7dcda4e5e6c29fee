"""The HelloID integration (integrations/helloid).

Part one feeds the payloads the PowerShell scripts send (tests/data/helloid) through the real
`scmapper apply --action X -`, exactly as the scripts do: the event as compact UTF-8 JSON on stdin.
It asserts the fields the scripts copy into HelloID's $outputContext (success, accountReference,
accountCorrelated, auditLogs action/message/isError, data, previousData) and the database effect.

Part two is a set of cheap static guards on the scripts: each one hands its own action to scmapper,
none holds business logic, the result fields they read exist, configuration.json is a HelloID form.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import DEFAULT_MAPPING, ROOT, count, derived_mapping, rows, run_cli, run_process

SCRIPTS = ROOT / "integrations" / "helloid"
PAYLOADS = Path(__file__).parent / "data" / "helloid"
ACTIONS = ("create", "update", "enable", "disable", "delete")
AUDIT_ACTION = {
    "create": "CreateAccount",
    "update": "UpdateAccount",
    "enable": "EnableAccount",
    "disable": "DisableAccount",
    "delete": "DeleteAccount",
}
REF = "100731"
ROW = {
    "externalId": "100731",
    "voornaam": "Zoë",
    "tussenvoegsel": "ten",
    "achternaam": "Brink - van 't Veld",
    "gebruikersnaam": "zveld",
    "geslacht": "V",
    "email": "zoe.vantveld@gemeente-voorbeeld.nl",
}
ROLES = [
    {
        "gebruikersnaam": "zveld",
        "ou": "Personeel & Organisatie",
        "functie": "HR-adviseur",
        "oucode": "OE-PO",
        "functiecode": "FP-HR-03",
    },
    {
        "gebruikersnaam": "zveld",
        "ou": "Sociaal Domein",
        "functie": "Consulent Wmo",
        "oucode": "OE-SD",
        "functiecode": "WMO1",
    },
]


# --- helpers ---------------------------------------------------------------------------------


def payload(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / f"{name}.json").read_text("utf-8"))


def find_key(data: dict[str, Any], name: str) -> str:
    """The key of `data` that matches `name` case-insensitively (PowerShell's rule)."""
    return next(k for k in data if k.lower() == name.lower())


def section(event: dict[str, Any], *path: str) -> Any:
    for name in path:
        event = event[find_key(event, name)]
    return event


def person(event: dict[str, Any]) -> dict[str, Any]:
    return section(event, "personContext", "Person")


def set_dry_run(event: dict[str, Any], value: bool) -> dict[str, Any]:
    """Sets DryRun under whatever casing the payload uses for it."""
    context = section(event, "actionContext")
    context[find_key(context, "DryRun")] = value
    return event


def encode(event: dict[str, Any]) -> bytes:
    """What the scripts put on stdin: ConvertTo-Json -Compress, written as UTF-8 bytes."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def send(
    db: Path,
    action: str,
    event: dict[str, Any] | bytes,
    env: dict[str, str] | None = None,
    mapping: Path = DEFAULT_MAPPING,
):
    data = event if isinstance(event, bytes) else encode(event)
    return run_cli(
        "apply",
        "--mapping",
        mapping,
        "--db",
        db,
        "--action",
        action,
        "-",
        input=data,
        env=env,
    )


def copied(run) -> dict[str, Any]:
    """The fields the scripts copy into $outputContext, read from the one JSON result line."""
    lines = [line for line in run.out.splitlines() if line.strip()]
    assert len(lines) == 1, run.out
    result = json.loads(lines[0])
    return {
        "success": result["success"],
        "accountReference": result["accountReference"],
        "accountCorrelated": result["accountCorrelated"],
        "auditLogs": [(e["action"], e["message"], e["isError"]) for e in result["auditLogs"]],
        "data": result["data"],
        "previousData": result["previousData"],
    }


def dump(db: Path) -> dict[str, list[dict[str, Any]]] | None:
    """Every row of the tables a lifecycle action may touch, or None when there is no database."""
    if not db.exists():
        return None
    return {table: rows(db, f"SELECT * FROM {table} ORDER BY rowid") for table in ("persons", "roles", "events")}


def stored(db: Path) -> dict[str, Any]:
    [row] = rows(db, "SELECT * FROM persons WHERE scm_ref = ?", REF)
    return row


def stored_roles(db: Path) -> list[dict[str, Any]]:
    return rows(
        db,
        "SELECT gebruikersnaam, ou, functie, oucode, functiecode FROM roles WHERE scm_ref = ? ORDER BY scm_seq",
        REF,
    )


def audit_trail(db: Path) -> list[str]:
    return [e["action"] for e in rows(db, "SELECT action FROM events ORDER BY id")]


def create(db: Path, name: str = "create", **name_fields: Any) -> dict[str, Any]:
    event = payload(name)
    person(event)["Name"].update(name_fields)
    run = send(db, "create", event)
    assert run.code == 0, run.out + run.err
    return copied(run)


# --- create ----------------------------------------------------------------------------------


def test_create_maps_the_person_and_ignores_helloids_own_field_mapping(db):
    event = payload("create")
    # HelloID's own field mapping says "Zoe"...
    assert section(event, "actionContext", "Data")["voornaam"] == "Zoe"
    run = send(db, "create", event)
    assert run.code == 0, run.err
    assert copied(run) == {
        "success": True,
        "accountReference": REF,
        "accountCorrelated": False,
        "auditLogs": [("CreateAccount", "Created account '100731' with 2 roles", False)],
        "data": ROW,  # ...but the mapping file is the single source of the columns
        "previousData": None,
    }
    row = stored(db)
    assert {k: row[k] for k in ROW} == ROW and row["scm_active"] == 1 and row["scm_deleted_at"] is None
    assert stored_roles(db) == ROLES
    assert audit_trail(db) == ["CreateAccount"]


def test_camel_case_keys_give_the_same_result_as_pascal_case(tmp_path):
    pascal = send(tmp_path / "pascal.db", "create", payload("create"))
    camel = send(tmp_path / "camel.db", "create", payload("create-camelcase"))
    assert (pascal.code, camel.code) == (0, 0)
    assert copied(camel) == copied(pascal)
    assert dump(tmp_path / "camel.db")["roles"] == dump(tmp_path / "pascal.db")["roles"]


def test_correlating_create_then_the_update_helloid_runs_at_once(db):
    # An account made earlier (another target system, or before correlation was switched on)
    # whose data has drifted from HelloID's person.
    create(db, "create-no-correlation", NickName="Johanna")
    correlated = send(db, "create", payload("create"))
    assert correlated.code == 0, correlated.err
    first = copied(correlated)
    assert first == {
        "success": True,
        "accountReference": REF,
        "accountCorrelated": True,
        "auditLogs": [
            ("CorrelateAccount", "Correlated to account '100731' on externalId = '100731'", False),
            ("UpdateAccount", "Updated account '100731': voornaam", False),
        ],
        "data": ROW,
        "previousData": {**ROW, "voornaam": "Johanna"},
    }
    # HelloID then runs update with the reference the create returned, and the same person.
    update = payload("update")
    section(update, "actionContext", "References")["Account"] = first["accountReference"]
    assert section(update, "actionContext", "AccountCorrelated") is True
    second = send(db, "update", update)
    assert second.code == 0, second.err
    assert copied(second) == {
        "success": True,
        "accountReference": REF,
        "accountCorrelated": False,
        "auditLogs": [("UpdateAccount", "Account '100731' is up to date; nothing changed", False)],
        "data": ROW,
        "previousData": ROW,
    }
    assert count(db, "persons") == 1 and stored(db)["voornaam"] == "Zoë"
    assert audit_trail(db) == [
        "CreateAccount",
        "CorrelateAccount",
    ]  # the no-op update wrote nothing


def test_correlation_on_another_account_field_with_lower_case_keys(db):
    create(db, "create-no-correlation")
    correlation = section(payload("create-correlate-username"), "actionContext", "CorrelationConfiguration")
    assert "accountField" in correlation and "AccountField" not in correlation
    run = send(db, "create", payload("create-correlate-username"))
    assert run.code == 0, run.err
    assert copied(run)["accountCorrelated"] is True and copied(run)["accountReference"] == REF
    assert copied(run)["auditLogs"] == [
        ("CorrelateAccount", "Correlated to account '100731' on gebruikersnaam = 'zveld'", False),
        ("UpdateAccount", "Account '100731' is up to date; nothing changed", False),
    ]
    assert count(db, "persons") == 1


def test_correlation_off_creates_once_then_refuses_an_existing_key(db):
    first = send(db, "create", payload("create-no-correlation"))
    assert first.code == 0 and copied(first)["accountCorrelated"] is False
    before = dump(db)
    again = send(db, "create", payload("create-no-correlation"))
    assert again.code == 1
    assert copied(again) == {
        "success": False,
        "accountReference": None,
        "accountCorrelated": False,
        "auditLogs": [
            (
                "CreateAccount",
                "person '100731' already exists as account '100731' and correlation is off;"
                " turn correlation on or update that account",
                True,
            )
        ],
        "data": None,
        "previousData": None,
    }
    assert dump(db) == before


def test_person_without_the_ad_account_yet_fails_and_writes_nothing(db):
    # HelloID may run this target before the AD account exists (no dependency configured).
    event = payload("create")
    person(event)["Accounts"] = {}
    run = send(db, "create", event)
    assert run.code == 1
    out = copied(run)
    assert out["success"] is False and out["data"] is None
    assert out["auditLogs"] == [
        (
            "CreateAccount",
            "person '100731': required column 'gebruikersnaam' is empty"
            " (person.Accounts.MicrosoftActiveDirectory is absent)",
            True,
        )
    ]
    assert count(db, "persons") == 0 and count(db, "events") == 0


# --- update / enable / disable / delete ------------------------------------------------------


def test_update_written_by_windows_powershell_51_with_bom_and_escapes(db):
    create(db)
    raw = (PAYLOADS / "update-ps51.json").read_bytes()
    assert b"\\u0027" in raw and b"\\/Date(" in raw and b"\n" not in raw.strip()
    run = send(db, "update", b"\xef\xbb\xbf" + raw)
    assert run.code == 0, run.err
    assert copied(run) == {
        "success": True,
        "accountReference": REF,
        "accountCorrelated": False,
        "auditLogs": [
            ("UpdateAccount", "Updated account '100731': voornaam", False),
            ("UpdatePermission", "Roles of '100731': 0 added, 1 removed", False),
        ],
        "data": {**ROW, "voornaam": "Zoey"},
        "previousData": ROW,
    }
    assert stored(db)["voornaam"] == "Zoey" and stored_roles(db) == ROLES[:1]
    assert audit_trail(db) == ["CreateAccount", "UpdateAccount"]


def test_update_of_an_unknown_reference_fails_clearly(db):
    create(db)
    event = payload("update")
    section(event, "actionContext", "References")["Account"] = "999999"
    before = dump(db)
    run = send(db, "update", event)
    assert run.code == 1
    assert copied(run)["success"] is False
    assert copied(run)["auditLogs"] == [("UpdateAccount", "cannot update: no account with reference '999999'", True)]
    assert dump(db) == before


def test_disable_enable_delete_by_reference_in_any_casing(db):
    create(db)
    assert "References" in section(payload("disable"), "actionContext")
    assert "references" in section(payload("enable"), "actionContext")
    assert "account" in section(payload("delete"), "actionContext", "References")

    disabled = send(db, "disable", payload("disable"))
    assert disabled.code == 0, disabled.err
    assert copied(disabled) == {
        "success": True,
        "accountReference": REF,
        "accountCorrelated": False,
        "auditLogs": [("DisableAccount", "Disabled account '100731'; it leaves the export", False)],
        "data": ROW,
        "previousData": ROW,
    }
    # the roles stay; the export skips the roles of inactive persons
    assert stored(db)["scm_active"] == 0 and stored_roles(db) == ROLES

    enabled = send(db, "enable", payload("enable"))
    assert enabled.code == 0, enabled.err
    assert copied(enabled)["auditLogs"] == [
        ("UpdateAccount", "Account '100731' is up to date; nothing changed", False),
        ("EnableAccount", "Enabled account '100731'", False),
    ]
    assert stored(db)["scm_active"] == 1

    deleted = send(db, "delete", payload("delete"))
    assert deleted.code == 0, deleted.err
    assert copied(deleted) == {
        "success": True,
        "accountReference": REF,
        "accountCorrelated": False,
        "auditLogs": [
            (
                "DeleteAccount",
                "Deleted account '100731' (marked inactive; its roles removed)",
                False,
            )
        ],
        "data": None,
        "previousData": ROW,
    }
    row = stored(db)
    assert row["scm_active"] == 0 and row["scm_deleted_at"] is not None and stored_roles(db) == []
    assert audit_trail(db) == ["CreateAccount", "DisableAccount", "EnableAccount", "DeleteAccount"]


def test_enable_carrying_a_changed_person_brings_the_data_up_to_date(db):
    create(db)
    assert send(db, "disable", payload("disable")).code == 0
    event = payload("enable")
    person(event)["Name"]["NickName"] = "Jo"
    run = send(db, "enable", event)
    assert run.code == 0, run.err
    out = copied(run)
    assert out["auditLogs"] == [
        ("UpdateAccount", "Updated account '100731': voornaam", False),
        ("EnableAccount", "Enabled account '100731'", False),
    ]
    assert out["data"]["voornaam"] == "Jo" and out["previousData"]["voornaam"] == "Zoë"
    assert stored(db)["voornaam"] == "Jo" and stored(db)["scm_active"] == 1


def test_reconciliation_disable_without_a_person_context(db):
    create(db)
    event = payload("disable-reconciliation")
    assert event["personContext"] is None and section(event, "actionContext", "Origin") == "reconciliation"
    run = send(db, "disable", event)
    assert run.code == 0, run.err
    assert copied(run)["auditLogs"] == [("DisableAccount", "Disabled account '100731'; it leaves the export", False)]
    assert stored(db)["scm_active"] == 0


# --- dry run ---------------------------------------------------------------------------------


def _setup_for(action: str, db: Path) -> None:
    """A database in which `action` would change something."""
    if action == "create":
        return  # no database at all: HelloID's preview of a new person
    create(db)
    if action == "enable":
        assert send(db, "disable", payload("disable")).code == 0


@pytest.mark.parametrize(
    ("action", "fixture"),
    [
        ("create", "create"),
        ("create", "create-camelcase"),
        ("update", "update-ps51"),
        ("enable", "enable"),
        ("disable", "disable"),
        ("delete", "delete"),
    ],
)
def test_dry_run_on_every_action_previews_exactly_and_writes_nothing(tmp_path, action, fixture):
    db = tmp_path / "spendcloud.db"
    _setup_for(action, db)
    before = dump(db)
    preview = send(db, action, set_dry_run(payload(fixture), True))
    assert preview.code == 0, preview.err
    result = json.loads(preview.out)
    assert result["dryRun"] is True and result["changed"] is True
    shown = copied(preview)
    assert shown["auditLogs"] and all(message.startswith("[DryRun] ") for _, message, _ in shown["auditLogs"])
    assert dump(db) == before  # nothing written, not even the audit event; no database created

    real = send(db, action, set_dry_run(payload(fixture), False))
    assert real.code == 0, real.err
    unprefixed = [(a, m.removeprefix("[DryRun] "), e) for a, m, e in shown["auditLogs"]]
    # the preview is what the real run does
    assert {**shown, "auditLogs": unprefixed} == copied(real)
    assert dump(db) != before


def test_dry_run_of_an_action_that_fails_reports_the_failure(db):
    create(db)
    event = set_dry_run(payload("update"), True)
    section(event, "actionContext", "References")["Account"] = "999999"
    run = send(db, "update", event)
    assert run.code == 1
    assert copied(run)["auditLogs"] == [
        ("UpdateAccount", "[DryRun] cannot update: no account with reference '999999'", True)
    ]


# --- what the scripts show when scmapper cannot answer ----------------------------------------


def test_a_malformed_event_exits_2_with_the_reason_on_stderr(db):
    event = payload("create")
    section(event, "actionContext")["DryRun"] = "true"  # a string: not what HelloID sends
    run = send(db, "create", event)
    assert run.code == 2
    assert run.err == "scmapper: 'DryRun' must be true or false, not a string\n"
    assert copied(run)["success"] is False
    assert not db.exists()


def test_a_mapping_that_cannot_be_read_exits_2(db, tmp_path):
    run = run_cli(
        "apply",
        "--mapping",
        tmp_path / "missing.yaml",
        "--db",
        db,
        "--action",
        "create",
        "-",
        input=encode(payload("create")),
    )
    assert run.code == 2 and "missing.yaml" in run.err
    assert not db.exists()


def test_utf8_output_when_python_is_told_to_use_it_as_the_scripts_do(db):
    event = payload("create")
    person(event)["Name"]["NickName"] = "Łukasz"
    # A real process: the interpreter reads these variables as it starts.
    args = ("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "--action", "create", "-")
    run = run_process(*args, input=encode(event), env={"PYTHONIOENCODING": "utf-8", "PYTHONUTF8": "1"})
    assert run.code == 0 and copied(run)["data"]["voornaam"] == "Łukasz"


# --- gaps these payloads found in scmapper (fixed there; kept as regression tests) -------------


def test_correlation_account_field_matches_the_column_in_any_casing(db):
    create(db, "create-no-correlation")
    event = payload("create")
    section(event, "actionContext", "CorrelationConfiguration")["AccountField"] = "ExternalId"
    run = send(db, "create", event)
    assert run.code == 0, run.out
    assert copied(run)["accountCorrelated"] is True and count(db, "persons") == 1


def _raw_apply(db: Path, event: dict[str, Any], env: dict[str, str]) -> tuple[int, bytes]:
    """The agent's call as a real process; stdout as the bytes it wrote."""
    args = ("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "--action", "create", "-")
    run = run_process(*args, input=encode(event), env=env)
    return run.code, run.out.encode("utf-8")


@pytest.mark.parametrize("nickname", ["Zoë", "Łukasz"])
def test_the_result_is_utf8_json_whatever_the_locale(db, nickname):
    event = payload("create")
    person(event)["Name"]["NickName"] = nickname
    code, out = _raw_apply(db, event, {"PYTHONIOENCODING": "cp1252"})
    assert code == 0
    assert json.loads(out.decode("utf-8"))["data"]["voornaam"] == nickname


@pytest.mark.parametrize("action", ["disable", "delete"])
def test_disable_or_delete_of_a_missing_account_succeeds(db, action, tmp_path):
    """HelloID's convention: disabling or deleting an account that is gone is done, not failed.
    The default (issue: unknown accounts fail) stays; `lifecycle.unknown_account: ignore` opts in."""
    create(db)
    event = payload(action)
    references = section(event, "actionContext", "References")
    references[find_key(references, "Account")] = "999999"
    assert send(db, action, event).code == 1  # the default
    lenient = derived_mapping(tmp_path / "lenient.yaml", lambda m: m["lifecycle"].update(unknown_account="ignore"))
    run = send(db, action, event, mapping=lenient)
    assert run.code == 0
    out = copied(run)
    assert out["success"] is True and not any(is_error for _, _, is_error in out["auditLogs"])


# --- the scripts themselves: cheap static guards ---------------------------------------------


def script(name: str) -> str:
    return (SCRIPTS / name).read_text("utf-8")


ALL_SCRIPTS = sorted(p.relative_to(SCRIPTS).as_posix() for p in SCRIPTS.rglob("*.ps1"))


def test_the_expected_scripts_are_there():
    expected = [f"{a}.ps1" for a in ACTIONS] + [
        "export.ps1",
        "import.ps1",
        "scmapper-common.ps1",
        "test/debugStart.ps1",
    ]
    assert ALL_SCRIPTS == sorted(expected)


def test_the_import_script_lists_the_accounts_with_the_fields_helloid_asks_for(db):
    """HelloID's v2 account import: one object per account with AccountReference, displayName,
    UserName, Enabled and Data (only the fields in $actionContext.ImportFields)."""
    common, text = script("scmapper-common.ps1"), script("import.ps1")
    assert "@('accounts', '--mapping', $mapping, '--db', $database, '--json-lines')" in common
    assert "Get-ScmapperAccounts -Configuration $actionContext.Configuration" in text
    assert "foreach ($name in @($actionContext.ImportFields))" in text
    for key in ("AccountReference", "DisplayName", "UserName", "Enabled", "Data"):
        assert re.search(rf"^\s+{key}\s+=", text, re.M), key
    create(db)
    listed = run_cli("accounts", "--mapping", DEFAULT_MAPPING, "--db", db, "--json-lines")
    assert listed.code == 0
    account = json.loads(listed.out.splitlines()[0])
    assert _names(r"\$account\.(\w+)", text) <= set(account)
    assert (account["accountReference"], account["enabled"], account["userName"]) == (REF, True, "zveld")
    assert account["data"] == ROW


@pytest.mark.parametrize("action", ACTIONS)
def test_each_action_script_hands_its_own_action_to_scmapper_apply(action):
    text = script(f"{action}.ps1")
    assert re.findall(r"Invoke-ScmapperAction\s+-Action\s+'(\w+)'", text) == [action]
    assert "-ActionContext $actionContext -PersonContext $personContext -OutputContext $outputContext" in text
    # The helper beside the configured executable, loaded and called inside the one try.
    helper = ". (Join-Path -Path (Split-Path -Path ([string]$actionContext.Configuration.scmapperPath) -Parent) -ChildPath 'scmapper-common.ps1')"
    body = text[text.index("try {") : text.index("} catch {")]
    assert helper in body and "Invoke-ScmapperAction" in body
    assert re.findall(r"Action\s*=\s*'(\w+)'", text) == [AUDIT_ACTION[action]]  # when the helper cannot load or fails


def test_the_helper_runs_scmapper_apply_with_the_event_on_stdin():
    text = script("scmapper-common.ps1")
    assert "@('apply', '--mapping', $mapping, '--db', $database, '--action', $Action, '-')" in text
    assert (
        "ConvertTo-Json -InputObject $Payload -Depth 20 -Compress" in text
        and "ConvertTo-ScmapperEventJson -Payload $payload" in text
    )
    assert re.search(r"actionContext\s*=\s*\$ActionContext\s+personContext\s*=\s*\$PersonContext", text)
    assert "ValidateSet('create', 'update', 'enable', 'disable', 'delete')" in text
    for setting in ("scmapperPath", "mappingPath", "databasePath", "outputDir"):
        assert f"-Name '{setting}'" in text
    # UTF-8 both ways, whatever Windows PowerShell 5.1's defaults are, without touching the
    # process-wide console encodings (scripts run side by side in one process)
    assert "[Console]::OutputEncoding =" not in text and "[Console]::InputEncoding =" not in text
    for needle in (
        "StandardInputEncoding",
        "StandardOutputEncoding = $utf8",
        "StandardErrorEncoding = $utf8",
        "BaseStream.Write($bytes",
        "EnvironmentVariables['PYTHONUTF8'] = '1'",
        "EnvironmentVariables['PYTHONIOENCODING'] = 'utf-8'",
    ):
        assert needle in text, needle
    # exit codes 0 and 1 carry a result to copy; anything else is an error with stderr
    assert "($run.ExitCode -eq 0 -or $run.ExitCode -eq 1)" in text
    assert "-Name 'Success' -Value ($run.ExitCode -eq 0 -and $result.success -eq $true)" in text


def test_the_export_script_runs_scmapper_export_and_checks_only_in_a_preview():
    common, export = script("scmapper-common.ps1"), script("export.ps1")
    assert "@('export', '--mapping', $mapping, '--db', $database, '--out', $outputDir, '--json')" in common
    assert "$arguments += '--check'" in common and "$arguments += '--force'" in common
    assert "Invoke-ScmapperExport -Configuration $configuration -Check:$checkOnly -Force:$forceWrite" in export
    assert "$checkOnly = ($actionContext.DryRun -eq $true)" in export
    assert export.count("$forceWrite = $false") == 1 and "exit $exitCode" in export


BUSINESS_LOGIC = [
    r"\bSELECT\b[^\n]*\bFROM\b",
    r"\bINSERT\s+INTO\b",
    r"\bUPDATE\s+\w+\s+SET\b",
    r"\bDELETE\s+FROM\b",
    r"\bCREATE\s+TABLE\b",
    r"sqlite",
    r"Invoke-Sql",
    r"Convention",
    r"FamilyName",
    r"NickName",
    r"GivenName",
    r"Contracts?\b",
    r"InConditions",
    r"Department",
    r"sAMAccountName",
    r"userPrincipalName",
    r"Gender",
    r"gebruikersnaam",
    r"achternaam",
    r"tussenvoegsel",
    r"voornaam",
    r"geslacht",
    r"functiecode",
    r"Export-Csv",
    r"ConvertTo-Csv",
    r"\$personContext\.",
    r"\$PersonContext\.",
    r"CorrelationConfiguration",
    r"\$actionContext\.Data\b",
    r"\.Person\b",
]


@pytest.mark.parametrize("name", ALL_SCRIPTS)
def test_no_business_logic_in_the_scripts(name):
    text = script(name)
    found = [marker for marker in BUSINESS_LOGIC if re.search(marker, text, re.I)]
    assert found == []


@pytest.mark.parametrize("name", ALL_SCRIPTS)
def test_scripts_are_plain_ascii(name):
    # Windows PowerShell 5.1 reads a .ps1 without a byte-order mark in the ANSI code page.
    (SCRIPTS / name).read_bytes().decode("ascii")


@pytest.mark.parametrize("name", ALL_SCRIPTS)
def test_scripts_parse_as_powershell(name):
    grammar = pytest.importorskip("tree_sitter_powershell")
    tree_sitter = pytest.importorskip("tree_sitter")
    parser = tree_sitter.Parser(tree_sitter.Language(grammar.language()))
    tree = parser.parse((SCRIPTS / name).read_bytes())
    broken: list[str] = []

    def walk(node) -> None:
        if node.type == "ERROR" or node.is_missing:
            broken.append(f"line {node.start_point[0] + 1}: {node.text[:60]!r}")
        for child in node.children:
            walk(child)

    walk(tree.root_node)
    assert broken == []


def _names(pattern: str, text: str) -> set[str]:
    return set(re.findall(pattern, text))


def test_the_result_fields_the_helper_reads_are_in_scmappers_result(db):
    text = script("scmapper-common.ps1")
    result = json.loads(send(db, "create", payload("create")).out)
    read = _names(r"\$result\.(\w+)", text)
    assert read == {
        "auditLogs",
        "accountReference",
        "accountCorrelated",
        "data",
        "previousData",
        "success",
    }
    assert read <= set(result)
    assert _names(r"\$entry\.(\w+)", text) == {"action", "message", "isError"} <= set(result["auditLogs"][0])


def test_the_report_fields_the_export_reads_are_in_scmappers_report(db, tmp_path):
    create(db)
    other = payload("create")
    other_person = person(other)
    other_person["ExternalId"] = "100732"
    other_person["Accounts"]["MicrosoftActiveDirectory"].update(
        sAMAccountName="pjansen", userPrincipalName="p.jansen@example.nl"
    )
    assert send(db, "create", other).code == 0
    out = tmp_path / "out"
    first = run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", db, "--out", out, "--json")
    assert first.code == 0, first.err
    written = json.loads(first.out)
    assert send(db, "disable", payload("disable")).code == 0  # one of two leaves: 50% >= 5%
    strict = derived_mapping(
        tmp_path / "m.yaml", lambda m: m["export"]["thresholds"].update(removed_persons={"percent": 5, "minimum": 1})
    )
    second = run_cli("export", "--mapping", strict, "--db", db, "--out", out, "--json")
    assert second.code == 1, second.err
    refused = json.loads(second.out)
    assert refused["status"] == "refused" and any(t["tripped"] for t in refused["thresholds"])

    text = script("scmapper-common.ps1")
    assert _names(r"\$report\.(\w+)", text) <= set(refused)
    assert _names(r"\$counts\.(\w+)", text) <= set(refused["counts"])
    assert _names(r"\$threshold\.(\w+)", text) <= set(refused["thresholds"][0])
    assert _names(r"\$file\.(\w+)", text) <= set(written["files"][0])


def test_configuration_json_is_a_helloid_form_with_the_four_settings():
    fields = json.loads((SCRIPTS / "configuration.json").read_text("utf-8"))
    assert isinstance(fields, list)
    assert [f["key"] for f in fields] == [
        "scmapperPath",
        "mappingPath",
        "databasePath",
        "outputDir",
    ]
    for field in fields:
        assert field["type"] == "input"
        options = field["templateOptions"]
        assert options["required"] is (field["key"] != "outputDir")  # only export.ps1 needs the folder
        assert options["label"].strip() and options["description"].strip()
        assert isinstance(field.get("defaultValue", ""), str)
    # the scripts read exactly these settings
    common = script("scmapper-common.ps1")
    assert _names(r"Get-ScmapperSetting -Configuration \$\w+ -Name '(\w+)'", common) == {f["key"] for f in fields}
