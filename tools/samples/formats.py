"""What several source systems share in how they write files: OData dates, pages, and the
JSON Windows PowerShell 5.1 writes (an Active Directory export is `Get-ADUser | ConvertTo-Json`).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

SENTINELS = (None, "9999-12-31", "2099-12-31")


def odata_date(day: str | date | None) -> str | None:
    """`/Date(ms)/`: milliseconds since 1970-01-01, midnight UTC, as OData v2 and PowerShell 5.1 write dates."""
    if day is None:
        return None
    value = date.fromisoformat(day) if isinstance(day, str) else day
    return f"/Date({(value - date(1970, 1, 1)).days * 86_400_000})/"


def chunks(records: list[Any], size: int) -> list[list[Any]]:
    """Records in pages of `size`; one (empty) page when there are none."""
    return [records[i : i + size] for i in range(0, len(records), size)] or [[]]


# .NET's JavaScriptSerializer, behind ConvertTo-Json in Windows PowerShell 5.1, escapes these.
_PS51_ESCAPES = {"'": "\\u0027", "<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def ps51_json(data: Any) -> bytes:
    """`ConvertTo-Json | Out-File -Encoding UTF8` in Windows PowerShell 5.1: a UTF-8 byte order
    mark, CRLF line ends, four-space indents, two spaces after each colon, `'<>&` escaped as
    \\u00XX and dates as `\\/Date(ms)\\/`. Only flat objects (or an array of them) are written
    this way here, which is all an AD export of selected attributes holds."""
    text = json.dumps(data, indent=4, ensure_ascii=False, separators=(",", ":  "))
    for char, escaped in _PS51_ESCAPES.items():
        text = text.replace(char, escaped)
    text = text.replace('"/Date(', '"\\/Date(').replace(')/"', ')\\/"')
    return b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode() + b"\r\n"


def ps51_set_content(data: Any) -> bytes:
    """`ConvertTo-Json | Set-Content FILE` in Windows PowerShell 5.1: the same JSON as ps51_json,
    written in the ANSI code page (Windows-1252 on a Dutch or English Windows), no byte order mark."""
    return ps51_json(data)[3:].decode("utf-8").encode("cp1252")
