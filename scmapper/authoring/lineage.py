"""Where each column's value comes from, for a consultant following a preview: the source
fields its expression reads (through every var it uses) and the export file it is written to.

Vocabulary: a column's *lineage* is that pair. Fields are named as the mapping reads them:
`person.UPN`, `inputs.organizationUnits[...].fullName`, and for a role column the loop
variable's fields (`employment.Functie_code`); lookups and `today` are not source fields.
"""

from __future__ import annotations

from typing import Any

from scmapper.mapping.model import Column, Mapping
from scmapper.mapping.reads import Read, expression_reads

_NOT_SOURCE = ("vars", "lookups", "today", "loop")


def lineage(mapping: Mapping) -> dict[str, dict[str, dict[str, Any]]]:
    """{"person": {column: {"read": [...], "file": "Users.csv" or None}}, "roles": {...}}."""
    var_reads = {v.name: list(expression_reads(v.expression, expression=True)) for v in mapping.vars}
    export = mapping.export
    persons_file = export.persons if export else None
    roles_file = export.roles if export else None
    found: dict[str, dict[str, dict[str, Any]]] = {"person": {}, "roles": {}}
    for column in mapping.columns:
        found["person"][column.name] = _entry(column, var_reads, persons_file)
    for column in mapping.roles.columns if mapping.roles else ():
        found["roles"][column.name] = _entry(column, var_reads, roles_file)
    return found


def _entry(column: Column, var_reads: dict[str, list[Read]], spec: Any) -> dict[str, Any]:
    reads = [] if column.kind == "fixed" else list(expression_reads(column.source))
    if column.kind == "lookup":
        reads += expression_reads(column.default)
    file = spec.file if spec is not None and column.name in spec.columns else None
    return {"read": _fields(reads, var_reads, set()), "file": file}


def _fields(reads: list[Read], var_reads: dict[str, list[Read]], seen: set[str]) -> list[str]:
    found: list[str] = []
    for read in reads:
        if read.root == "vars" and read.keys:
            name = read.keys[0]
            if name in var_reads and name not in seen:
                seen.add(name)
                found += _fields(var_reads[name], var_reads, seen)
        elif read.root not in _NOT_SOURCE:
            found.append(str(read))
    return list(dict.fromkeys(found))

