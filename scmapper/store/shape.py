"""What a mapping asks of the tables: the key, the columns, the unique ones and the role columns,
with the fingerprint that says the mapping is unchanged. Its own module, since both the schema
and the change log read it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Shape:
    """What a mapping asks of the tables, and the fingerprint that says it is unchanged."""

    key: str
    columns: tuple[str, ...]
    unique: tuple[str, ...]
    role_columns: tuple[str, ...]
    fingerprint: str = ""

    @property
    def folded(self) -> dict[str, str]:
        """Each unique column and its folded twin."""
        return {name: f"scm_fold_{name}" for name in self.unique}

    @classmethod
    def of(cls, mapping: Any) -> Shape:
        """The shape of a `scmapper.mapping.model.Mapping` (taken by its attributes: the store
        does not import the mapping modules)."""
        return cls(
            mapping.key,
            tuple(mapping.column_names),
            tuple(mapping.unique),
            tuple(mapping.role_column_names),
            mapping.fingerprint,
        )
