"""The HelloID scripts checked beyond parsing, as Windows PowerShell 5.1 on the agent will run
them (no PowerShell runtime installs on this machine kind): rules over the tree-sitter tree.

- every `$outputContext.X` and `$actionContext.X` is a member HelloID's V2 contexts have;
- every command is a function the scripts define or a cmdlet Windows PowerShell 5.1 ships;
- nothing of PowerShell 7 only: `&&`, `||`, `-Parallel`, `??`, `?.`, the ternary (these do not
  parse in 5.1; the grammar leaves most of them as errors);
- audit log actions are HelloID's;
- an action script calls its action inside `try`, so any failure still gives an audit entry.
"""

from __future__ import annotations

import pytest

from conftest import ROOT

tree_sitter = pytest.importorskip("tree_sitter")
grammar = pytest.importorskip("tree_sitter_powershell")

SCRIPTS = ROOT / "integrations" / "helloid"
ACTIONS = ("create", "update", "enable", "disable", "delete")
# HelloID PowerShell V2 target connectors: the members of the contexts it hands a script.
CONTEXT_MEMBERS = {
    "$actioncontext": {
        "Configuration", "DryRun", "CorrelationConfiguration", "References", "Data", "PreviousData",
        "AccountCorrelated", "ImportFields", "Origin", "TemplateConfiguration",
    },
    "$outputcontext": {"Success", "AuditLogs", "AccountReference", "Data", "PreviousData", "AccountCorrelated"},
}  # fmt: skip
POWERSHELL_MEMBERS = {"PSObject"}  # what every PowerShell object has
# The cmdlets the scripts may call: all ship with Windows PowerShell 5.1 (Microsoft.PowerShell.*).
CMDLETS = {
    "Add-Member", "ConvertFrom-Json", "ConvertTo-Json", "ForEach-Object", "Get-Content", "Get-Date",
    "Join-Path", "New-Item", "New-Object", "Out-Null", "Select-Object", "Split-Path", "Test-Path",
    "Where-Object", "Write-Error", "Write-Host", "Write-Information", "Write-Output", "Write-Verbose",
    "Write-Warning",
}  # fmt: skip
AUDIT_ACTIONS = {
    "CreateAccount", "UpdateAccount", "EnableAccount", "DisableAccount", "DeleteAccount",
    "CorrelateAccount", "GrantPermission", "RevokePermission", "UpdatePermission", "CreateResource",
}  # fmt: skip


def parse(source: bytes):
    return tree_sitter.Parser(tree_sitter.Language(grammar.language())).parse(source)


def nodes(node):
    yield node
    for child in node.children:
        yield from nodes(child)


def text(node) -> str:
    return node.text.decode("utf-8")


def defined_functions() -> set[str]:
    found = set()
    for path in SCRIPTS.rglob("*.ps1"):
        found |= {text(n) for n in nodes(parse(path.read_bytes()).root_node) if n.type == "function_name"}
    return found


def lint(source: bytes, *, action: str | None = None, functions: set[str] | None = None) -> list[str]:
    """Every rule broken in one script; `action` for an action script (its call must sit in try)."""
    known = defined_functions() if functions is None else functions
    found = []
    for node in nodes(parse(source).root_node):
        where = f"line {node.start_point[0] + 1}"
        if node.type == "ERROR" or node.is_missing:
            found.append(f"{where}: does not parse in Windows PowerShell 5.1: {text(node)[:40]!r}")
        elif node.type in ("&&", "||"):
            found.append(f"{where}: {node.type} is PowerShell 7 only")
        elif node.type == "command_parameter" and text(node).lower() == "-parallel":
            found.append(f"{where}: -Parallel is PowerShell 7 only")
        elif node.type == "member_access" and node.children[0].type == "variable":
            found += _member(node, where)
        elif node.type == "command_name":
            name = text(node)
            if name not in known and name not in CMDLETS:
                found.append(f"{where}: {name} is neither a function of the scripts nor a cmdlet of PowerShell 5.1")
        elif node.type == "hash_entry":
            found += _audit_action(node, where)
    if action is not None:
        found += _call_in_try(parse(source).root_node)
    return found


def _member(node, where: str) -> list[str]:
    variable, member = text(node.children[0]).lower(), text(node.children[-1])
    allowed = CONTEXT_MEMBERS.get(variable)
    if allowed is None or member.startswith("$") or member in POWERSHELL_MEMBERS:
        return []
    if member.lower() not in {m.lower() for m in allowed}:
        return [f"{where}: {text(node.children[0])}.{member} is not a member of HelloID's {variable[1:]}"]
    return []


def _audit_action(node, where: str) -> list[str]:
    key = text(node.children[0]).strip()
    value = text(node).split("=", 1)[1].strip().rstrip(";").strip().strip("'\"") if "=" in text(node) else ""
    if key == "Action" and value and not value.startswith("$") and value not in AUDIT_ACTIONS:
        return [f"{where}: audit action {value!r} is not one of HelloID's"]
    return []


def _call_in_try(root) -> list[str]:
    calls = [n for n in nodes(root) if n.type == "command_name" and text(n) == "Invoke-ScmapperAction"]
    if not calls:
        return ["the script calls no Invoke-ScmapperAction"]
    outside = []
    for call in calls:
        parent, inside = call.parent, False
        while parent is not None:
            if parent.type == "catch_clause":
                break
            if parent.type == "try_statement":
                inside = True
                break
            parent = parent.parent
        if not inside:
            outside.append(f"line {call.start_point[0] + 1}: the action is called outside try")
    return outside


@pytest.mark.parametrize("name", sorted(p.relative_to(SCRIPTS).as_posix() for p in SCRIPTS.rglob("*.ps1")))
def test_the_shipped_scripts_pass_every_rule(name):
    action = name.removesuffix(".ps1") if name.removesuffix(".ps1") in ACTIONS else None
    assert lint((SCRIPTS / name).read_bytes(), action=action) == []


def script_with(old: str, new: str) -> bytes:
    source = (SCRIPTS / "update.ps1").read_text("ascii")
    assert old in source
    return source.replace(old, new).encode()


def test_a_misspelt_output_context_member_is_found():
    found = lint(script_with("$outputContext.AuditLogs.Add", "$outputContext.AuditLog.Add"), action="update")
    assert found == ["line 11: $outputContext.AuditLog is not a member of HelloID's outputcontext"]


def test_powershell_7_syntax_is_found():
    found = lint(
        script_with("} catch {", "    Write-Information 'a' && Write-Information 'b'\n} catch {"), action="update"
    )
    assert any("&& is PowerShell 7 only" in f for f in found), found
    assert lint(b"$a | ForEach-Object -Parallel { $_ }\n") == ["line 1: -Parallel is PowerShell 7 only"]
    assert lint(b"$a = $b ?? 'c'\n") and lint(b"$a = $b ? 1 : 2\n") and lint(b"$a = $b?.Name\n")


def test_an_action_called_outside_try_is_found():
    source = (SCRIPTS / "update.ps1").read_text("ascii")
    call = next(line for line in source.splitlines() if "Invoke-ScmapperAction" in line)
    moved = source.replace(call + "\n", "") + call.strip() + "\n"
    assert lint(moved.encode(), action="update") == [f"line {moved.count(chr(10))}: the action is called outside try"]


def test_an_unknown_command_and_audit_action_are_found():
    found = lint(b"Write-Informaton 'x'\n$o = @{ Action = 'CreateAcount' }\n")
    assert found == [
        "line 1: Write-Informaton is neither a function of the scripts nor a cmdlet of PowerShell 5.1",
        "line 2: audit action 'CreateAcount' is not one of HelloID's",
    ]
