"""A mapping compiled into rules: pure functions from a person record to rows.

Vocabulary: a *row* is a dict of column name to text (rendered in rows.py); a person gives
one person row and zero or more role rows. An *absence* is a column that read a field the
record does not have: the column is empty (or what its filters make of empty), a warning says
which field, and a required one fails naming it, even where a filter tested the absence away
(reads.absent_behind).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from collections.abc import Mapping as Mapping_
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Any, TypeVar

from scmapper.core import identity, values
from scmapper.core.values import check_record
from scmapper.errors import DataError, ExpressionError, MappingError
from scmapper.mapping import absence, budget, day, patterns
from scmapper.mapping.model import Column, Mapping
from scmapper.mapping.plain import MAX_VALUE_LENGTH
from scmapper.mapping.program import INTERPRETED, Key, Program, evaluation
from scmapper.mapping.rows import Absences, CompiledRow, RolesTemplate, Row, RowTemplate, guard
from scmapper.mapping.sizes import checked

Inputs = Mapping_[str, Any]  # a source's lookup inputs by name (absence.Table each)
T = TypeVar("T")


@dataclass(frozen=True)
class MappedPerson:
    """What a mapping makes of one person record."""

    key: str
    row: Row
    roles: list[Row]
    warnings: list[str] = field(default_factory=list)
    active: bool = True  # whether sync treats the record as an active employee
    # Not active only because fields that decide it are absent (their paths): the source did
    # not say, so sync neither takes the person out nor brings them in.
    undecided: tuple[str, ...] = ()
    absent: dict[str, str] = field(default_factory=dict)  # person column -> the absent field it read


class Rules:
    """A compiled mapping: `map_person` turns a person record into rows."""

    def __init__(self, mapping: Mapping, *, checked: bool = False, program: Program | None = None) -> None:
        """checked: the mapping passed static_problems before (it comes from the cache).
        program: the mapping compiled (compiler.py); without one it is compiled here, unless
        SCMAPPER_EVALUATION=interpreted, where every piece runs in Jinja."""
        if not checked:
            from scmapper.mapping.static import static_problems  # a cached mapping skips this import too

            problems = static_problems(mapping)
            if problems:
                raise MappingError(problems)
        self.mapping = mapping
        if program is None and evaluation() != INTERPRETED:
            from scmapper.mapping.compiler import compile_mapping

            program = compile_mapping(mapping)
        self.program = program
        self._patterns = {c.name: patterns.compiled(c.pattern) for c in all_columns(mapping) if c.pattern}
        self._identities = {*mapping.unique, *([mapping.username] if mapping.username else [])}
        key_columns = [c for c in mapping.columns if c.name == mapping.key]
        self._person = self._row(mapping.columns, "column")
        self._key = self._row(key_columns, "column", whole=False)
        self._vars = [(v.name, self._expression(("var", v.name), v.expression)) for v in mapping.vars]
        active = mapping.source.active
        self._active = self._expression(("active", ""), active) if active else None
        roles = mapping.roles
        if roles:
            self._role = self._row(roles.columns, "role")
            self._all_roles = RolesTemplate(roles) if program is None else None
            self._items = self._expression(("for_each", ""), roles.items)
            self._when = self._expression(("when", ""), roles.when)

    def _row(self, columns: Iterable[Column], noun: str, *, whole: bool = True) -> RowTemplate | CompiledRow:
        if self.program is None:
            return RowTemplate(columns)
        return CompiledRow(columns, self.program, noun, whole=whole)

    def _expression(self, key: Key, source: str) -> Callable[[dict[str, Any]], Any]:
        """A compiled piece, or the expression compiled by Jinja, called the same way."""
        function = None if self.program is None else self.program.function(key)
        if function is not None:
            return function
        from scmapper.mapping import expressions  # Jinja: only for what is interpreted

        interpreted = expressions.environment().compile_expression(source, undefined_to_none=False)
        return lambda context: interpreted(**context)

    def key_of(self, person: dict[str, Any], inputs: Inputs | None = None) -> str | None:
        """Just the key column of a record, or None when even that cannot be computed (within
        the same limits as mapping it)."""
        limits = self.mapping.limits
        try:
            with budget.spending(limits.seconds, limits.output):
                context = self._context(person, "record", inputs=inputs, lenient=True)
                return self._key.render(context, "record").get(self.mapping.key) or None
        except (Exception, budget.LimitExceeded):  # noqa: BLE001 - a record that cannot give a key simply has none
            return None

    def map_person(
        self,
        person: dict[str, Any],
        today: date | None = None,
        *,
        check_inactive: bool = True,
        bounds: tuple[int, int] | None = None,
        inputs: Inputs | None = None,
    ) -> MappedPerson:
        """The rows a record gives. With check_inactive=False (sync), a record that is not an
        active employee skips the column checks: it is never written, only taken out. `bounds`
        (Event.bounds) can prove the record within its limits without walking it. `inputs` are
        the source's lookup inputs (`inputs.NAME[id]` in expressions)."""
        who = _who(person)
        limits = self.mapping.limits
        # A text of n bytes holds no string longer than n, no list of more than n / 2 items.
        longest = min(limits.value_length, 2 * values.MAX_ITEMS)
        if bounds is None or bounds[0] > longest or bounds[1] >= values.MAX_DEPTH:
            check_record(person, limits.value_length, who)
        try:
            with budget.spending(limits.seconds, limits.output):
                return self._map(self._context(person, who, today, inputs=inputs), who, check_inactive)
        except budget.LimitExceeded as exc:
            raise ExpressionError(f"{who}: mapping {exc}") from None

    def _map(self, context: dict[str, Any], who: str, check_inactive: bool) -> MappedPerson:
        absences: Absences = {}
        row = self._person.render(context, who, absences)
        key = row.get(self.mapping.key, "")
        who = f"person {key!r}" if key else who
        roles = self._roles(context, who)
        active, undecided = self._is_active(context, roles.rows, who)
        warnings: list[str] = []
        if active or check_inactive:
            warnings += self._check(self.mapping.columns, row, who, absences, context=context)
            if self.mapping.roles:
                for role, missing in zip(roles.rows, roles.absences, strict=True):
                    warnings += self._check(
                        self.mapping.roles.columns, role, f"{who}, role", missing, "role column", context=context
                    )
                warnings += roles.notes
                if not roles.rows:
                    message = f"{who} has no qualifying contract, so no roles"
                    if self.mapping.no_roles == "fail":
                        raise DataError(message)
                    warnings.append(message)
        unique = list(dict.fromkeys(warnings)) if warnings else warnings
        return MappedPerson(
            key=key, row=row, roles=roles.rows, warnings=unique, active=active, undecided=undecided, absent=absences
        )

    def _is_active(self, context: dict[str, Any], roles: list[Row], who: str) -> tuple[bool, tuple[str, ...]]:
        """Whether the record is an active employee; when not, the absent fields the decision
        tested (none: the source said no)."""
        active = self._active
        if active is None:
            return bool(roles) or self.mapping.roles is None, ()
        with absence.deciding() as tested:
            # bool() inside the guard: a field that fails only when tested fails as the record's.
            decided = guard(lambda: bool(active({**context, "roles": roles})), "source.active", who)
        if decided or not tested:
            return decided, ()
        return False, tuple(dict.fromkeys(absence.path_of(a, context) for a in tested))

    def _context(
        self,
        person: dict[str, Any],
        who: str,
        today: date | None = None,
        *,
        inputs: Inputs | None = None,
        lenient: bool = False,
    ) -> dict[str, Any]:
        """What expressions see: the record, today, the lookup tables and inputs, and the vars in
        order. Lenient (for finding a failed record's key), a var that fails is none instead."""
        values: dict[str, Any] = {}
        context = {
            "person": person,
            "today": today or day.today(),
            "lookups": self.mapping.lookups,
            "inputs": inputs or {},
            "vars": values,
        }
        for name, compiled in self._vars:
            try:
                values[name] = guard(partial(_settled, compiled, context), f"vars.{name}", who)
            except DataError:
                if not lenient:
                    raise
                values[name] = None
        return context

    def _roles(self, context: dict[str, Any], who: str) -> _Roles:
        roles = self.mapping.roles
        if roles is None:
            return _Roles([], [])
        together = self._all_roles.render(context) if self._all_roles is not None else None
        if together is not None:
            return _Roles(together, [_NO_ROLES] * len(together))
        items = guard(lambda: self._items(context), "for_each", who)
        if isinstance(items, absence.Absent):
            path = absence.path_of(items, context)
            return _Roles([], [], [f"for_each: {path} is absent, so no roles"])
        if items is None:
            return _Roles([], [])
        if isinstance(items, dict):
            # OData wraps every collection as {"results": [...]}; anything else is one item.
            results = items.get("results")
            items = results if isinstance(results, list) else [items]
        if not isinstance(items, list | tuple):
            raise ExpressionError(f"{who}: for_each {roles.items!r} is not a list", "for_each")
        found = _Roles([], [])
        for item in items:
            scope = {**context, roles.var: item}
            if not guard(partial(self._qualifies, scope), "when", who):
                continue
            absences: Absences = {}
            row = self._role.render(scope, f"{who}, role", absences)
            if row not in found.rows:  # identical role rows for one person collapse into one
                found.rows.append(row)
                found.absences.append(absences)
        return found

    def _qualifies(self, scope: dict[str, Any]) -> bool:
        return bool(self._when(scope))

    def _check(
        self,
        columns: tuple[Column, ...],
        row: Row,
        who: str,
        absences: Absences,
        noun: str = "column",
        *,
        context: dict[str, Any] | None = None,
    ) -> list[str]:
        """A warning for each column that read an absent field; DataError naming every column
        that fails its checks (a required one that read an absent field says which)."""
        problems, first, warnings = [], None, []
        for column in columns:
            value = row[column.name]
            # Most cells are short, filled and unchecked: only the others are looked at closely.
            suspect = (
                not value.strip()
                or len(value) > MAX_VALUE_LENGTH
                or column.max_length
                or column.pattern
                or column.name in self._identities
            )
            absent = absences.get(column.name)
            if absent is None and context is not None and column.required and not value.strip():
                from scmapper.mapping.reads import absent_behind  # only when failing: no import otherwise

                absent = absent_behind(self.mapping, column, context)
            problem = self._problem(column, value, absent) if suspect else None
            if problem:
                problems.append(problem)
                first = first or column.name
            elif column.name in absences:
                warnings.append(f"{noun} {column.name!r}: {absences[column.name]} is absent")
        if problems:
            raise DataError(f"{who}: " + "; ".join(problems), first)
        return warnings

    def _problem(self, column: Column, value: str, absent: str | None) -> str | None:
        hidden = identity.invisible(value) if column.name in self._identities and value.strip() else None
        if hidden is not None:
            return (
                f"column {column.name!r} holds {identity.describe(hidden)}, which draws nothing or reorders"
                " text: a username or e-mail address that looks like another may not hold it"
            )
        if len(value) > MAX_VALUE_LENGTH:
            return f"column {column.name!r} is longer than {MAX_VALUE_LENGTH}"
        if not value.strip():
            if not column.required:
                return None
            verb = "are" if absent and " and " in absent else "is"
            return f"required column {column.name!r} is empty" + (f" ({absent} {verb} absent)" if absent else "")
        if column.max_length and len(value) > column.max_length:
            return f"column {column.name!r} is {len(value)} characters, more than {column.max_length}"
        if column.pattern and not self._patterns[column.name].found(value):
            return f"column {column.name!r} value {value!r} does not match {column.pattern!r}"
        return None


class _Roles:
    """A person's role rows, the absent fields each row's columns read, and notes on the list.
    (A plain class: one is made for every person, and dataclass factories cost calls.)"""

    __slots__ = ("rows", "absences", "notes")

    def __init__(self, rows: list[Row], absences: list[Absences], notes: list[str] | None = None) -> None:
        self.rows, self.absences, self.notes = rows, absences, notes or []


_NO_ROLES: Absences = {}  # shared by every role row that read no absent field; never written to


def _settled(function: Callable[[dict[str, Any]], Any], context: dict[str, Any]) -> Any:
    """A var's value, an iterator (`map`, `select`) taken into a list once: every column that
    reads the var sees all its items, however many read it and in which order."""
    value = function(context)
    return checked(list(value)) if isinstance(value, Iterator) else value


def _who(person: dict[str, Any]) -> str:
    for key in ("ExternalId", "externalId", "DisplayName"):
        if isinstance(person.get(key), str | int) and person.get(key) != "":
            return f"person {str(person[key])!r}"
    return "person"


def all_columns(mapping: Mapping) -> tuple[Column, ...]:
    return mapping.columns + (mapping.roles.columns if mapping.roles else ())
