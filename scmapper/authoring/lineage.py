"""Where each column's value comes from, for a consultant following a preview: the source
fields its expression reads (through every var it uses) and the export file it is written to.

Vocabulary: a column's *lineage* is that pair. Fields are named as the mapping reads them:
`person.UPN`, `inputs.organizationUnits[...].fullName`, and for a role column the loop
variable's fields (`employment.Functie_code`); lookups and `today` are not source fields.
"""

from __future__ import annotations

from typing import Any

from scmapper.mapping.model import Column, Mapping
from scmapper.mapping.reads import behind

_NOT_SOURCE = ("lookups", "today", "loop")


def lineage(mapping: Mapping) -> dict[str, dict[str, dict[str, Any]]]:
    """{"person": {column: {"read": [...], "file": "Users.csv" or None}}, "roles": {...}}."""
    export = mapping.export
    found: dict[str, dict[str, dict[str, Any]]] = {"person": {}, "roles": {}}
    for column in mapping.columns:
        found["person"][column.name] = _entry(mapping, column, export.persons if export else None)
    for column in mapping.roles.columns if mapping.roles else ():
        found["roles"][column.name] = _entry(mapping, column, export.roles if export else None)
    return found


def _entry(mapping: Mapping, column: Column, spec: Any) -> dict[str, Any]:
    fields = [str(read) for read in behind(mapping, column) if read.root not in _NOT_SOURCE]
    file = spec.file if spec is not None and column.name in spec.columns else None
    return {"read": list(dict.fromkeys(fields)), "file": file}
