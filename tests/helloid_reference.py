"""Python references of the parts of integrations/helloid/scmapper-common.ps1 that decide what
scmapper receives and how its answer is read, for tests on a machine without PowerShell.

Each reference function mirrors one PowerShell function statement by statement: the `# ps:`
comment above each step is that statement's text, and a test compares those comments with the
script, so the PowerShell cannot change without this file changing with it (PS_FUNCTIONS).

`windows_argv` is the other side of the quoting: how a program built with Microsoft's C runtime
(python.exe among them) splits the command line .NET's Process.Start hands Windows, following
the rules Microsoft documents for parsing C command-line arguments (runtime of 2008 and later).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

# PowerShell function -> its Python reference here
PS_FUNCTIONS = {
    "ConvertTo-ScmapperQuotedArgument": "quote_argument",
    "ConvertTo-ScmapperEventJson": "event_json",
    "Read-ScmapperResultLine": "read_result_line",
}


def _dotnet_space(character: str) -> bool:
    """.NET's regex \\s: [\\f\\n\\r\\t\\v\\x85\\p{Z}]."""
    return character in "\f\n\r\t\v\x85" or unicodedata.category(character) in ("Zs", "Zl", "Zp")


def quote_argument(value: str) -> str:
    # ps: [CmdletBinding()]
    # ps: param([Parameter(Mandatory = $true)] [AllowEmptyString()] [string] $Value)
    # ps: if ($Value.Length -gt 0 -and $Value -notmatch '[\s"]') {
    if value and not any(_dotnet_space(c) or c == '"' for c in value):
        # ps: return $Value
        return value
    # ps: $backslash = [char]92
    backslash = "\\"
    # ps: $builder = New-Object System.Text.StringBuilder
    # ps: [void]$builder.Append('"')
    builder = ['"']
    # ps: $pending = 0
    pending = 0
    # ps: foreach ($character in $Value.ToCharArray()) {
    for character in value:
        # ps: if ($character -eq $backslash) {
        if character == backslash:
            # ps: $pending++
            pending += 1
            # ps: continue
            continue
        # ps: if ($character -eq [char]34) {
        if character == '"':
            # ps: [void]$builder.Append($backslash, (2 * $pending) + 1)
            builder.append(backslash * (2 * pending + 1))
        # ps: } elseif ($pending -gt 0) {
        elif pending > 0:
            # ps: [void]$builder.Append($backslash, $pending)
            builder.append(backslash * pending)
        # ps: [void]$builder.Append($character)
        builder.append(character)
        # ps: $pending = 0
        pending = 0
    # ps: if ($pending -gt 0) {
    if pending > 0:
        # ps: [void]$builder.Append($backslash, 2 * $pending)
        builder.append(backslash * (2 * pending))
    # ps: [void]$builder.Append('"')
    builder.append('"')
    # ps: return $builder.ToString()
    return "".join(builder)


def event_json(payload_json: str, utc_offset: Callable[[datetime], timedelta]) -> str:
    """`payload_json` as Windows PowerShell 5.1's ConvertTo-Json writes it; `utc_offset` is the
    agent's time zone ([TimeZoneInfo]::Local.GetUtcOffset)."""
    # ps: param([Parameter(Mandatory = $true)] [AllowNull()] [object] $Payload)
    # ps: $json = ConvertTo-Json -InputObject $Payload -Depth 20 -Compress
    json_text = payload_json

    # ps: $withOffset = {
    def with_offset(match: re.Match[str]) -> str:
        # ps: param($match)
        # ps: $instant = (New-Object System.DateTime -ArgumentList 1970, 1, 1, 0, 0, 0, ([System.DateTimeKind]::Utc)).AddMilliseconds([double]$match.Groups[1].Value)
        instant = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=float(match.group(1)))
        # ps: $offset = [System.TimeZoneInfo]::Local.GetUtcOffset($instant)
        offset = utc_offset(instant)
        # ps: $sign = '+'
        sign = "+"
        # ps: if ($offset -lt [System.TimeSpan]::Zero) { $sign = '-' }
        if offset < timedelta(0):
            sign = "-"
        # ps: $minutes = [System.Math]::Abs([int]$offset.TotalMinutes)
        minutes = abs(round(offset.total_seconds() / 60))
        # ps: return ('"\/Date({0}{1}{2:00}{3:00})\/"' -f $match.Groups[1].Value, $sign, [System.Math]::Floor($minutes / 60), ($minutes % 60))
        return f'"\\/Date({match.group(1)}{sign}{minutes // 60:02d}{minutes % 60:02d})\\/"'

    # ps: return [regex]::Replace($json, '"\\/Date\((-?\d+)\)\\/"', $withOffset)
    return re.sub(r'"\\/Date\((-?\d+)\)\\/"', with_offset, json_text)


def read_result_line(text: str | None) -> Any:
    """The parsed last line of scmapper's output, or None."""
    # ps: param([AllowNull()] [string] $Text)
    # ps: if ([string]::IsNullOrWhiteSpace($Text)) {
    if text is None or not text.strip():
        # ps: return $null
        return None
    # ps: $lines = @($Text -split "`r?`n" | Where-Object { $_.Trim().Length -gt 0 })
    lines = [line for line in re.split(r"\r?\n", text) if line.strip()]
    # ps: if ($lines.Count -eq 0) {
    if not lines:
        # ps: return $null
        return None
    # ps: try {
    try:
        # ps: return (ConvertFrom-Json -InputObject $lines[$lines.Count - 1])
        return json.loads(lines[-1])
    # ps: } catch {
    except ValueError:
        # ps: return $null
        return None


def windows_argv(line: str) -> list[str]:
    """The arguments a C runtime program reads from `line`, the part after the program name.

    Space and tab separate arguments outside quotes; a double quote opens or closes a quoted
    part; inside one, two double quotes give one literal quote. Backslashes are literal unless
    a double quote follows them: 2n backslashes then a quote give n backslashes and the quote
    opens or closes; 2n+1 give n backslashes and a literal quote."""
    arguments: list[str] = []
    position, end = 0, len(line)
    while True:
        while position < end and line[position] in " \t":
            position += 1
        if position >= end:
            return arguments
        current: list[str] = []
        quoted = False
        while position < end and (quoted or line[position] not in " \t"):
            character = line[position]
            if character == "\\":
                run_end = position
                while run_end < end and line[run_end] == "\\":
                    run_end += 1
                count = run_end - position
                if run_end < end and line[run_end] == '"':
                    current.append("\\" * (count // 2))
                    if count % 2:
                        current.append('"')
                        run_end += 1
                else:
                    current.append("\\" * count)
                position = run_end
            elif character == '"':
                if quoted and position + 1 < end and line[position + 1] == '"':
                    current.append('"')
                    position += 2
                else:
                    quoted = not quoted
                    position += 1
            else:
                current.append(character)
                position += 1
        arguments.append("".join(current))
