"""Every problem visible in a mapping without data: Jinja syntax, unknown filters, tests and
names (with "did you mean"), unsafe access, and patterns that are no regular expressions.

Vocabulary: the *names* an expression may use are `person`, `today`, `lookups`, `vars`
(`inputs` in a mapping with lookup inputs), and in `when` and role columns the *item name*
`for_each` gives each item (`contract` in `contract in person.Contracts`).
"""

from __future__ import annotations

import re

from jinja2 import nodes

from scmapper.core.suggest import closest
from scmapper.errors import Problem
from scmapper.mapping import expressions, patterns
from scmapper.mapping.document import Place
from scmapper.mapping.model import Column, Mapping, Roles

Found = list[tuple[int, str]]  # (line within the expression, message)
_UNKNOWN_NAME = re.compile(r"unknown name '(\w+)'")


def static_problems(mapping: Mapping) -> list[Problem]:
    """Every problem of the mapping's expressions, in mapping order, each once."""
    problems: list[Problem] = []
    # `inputs` is a name only in a mapping with lookup inputs to read through it.
    person_names = frozenset({"person", "today", "lookups", "vars"} | ({"inputs"} if mapping.source.lookups else set()))
    for var in mapping.vars:
        found = expressions.check_expression(var.expression, person_names)
        problems += [_at(var.position, line, m, f"vars.{var.name}") for line, m in found]
    for column in mapping.columns:
        problems += [_at(column.position, line, m, column.name) for line, m in _column_checks(column, person_names)]
    if mapping.roles:
        problems += _role_problems(mapping.roles, person_names)
    if mapping.source.active:
        found = expressions.check_expression(mapping.source.active, person_names | {"roles"})
        problems += [_at(mapping.active_position, line, m, "source.active") for line, m in found]
    return list(dict.fromkeys(problems))


def _role_problems(roles: Roles, person_names: frozenset[str]) -> list[Problem]:
    """The roles' expressions; when they read a name close to the item name (`contract` for an
    item named `contrct`), one problem at for_each says so instead of one per expression."""
    names = person_names | {roles.var}
    found = expressions.check_expression(roles.items, person_names)
    problems = [_at(roles.positions["for_each"], line, m, "for_each") for line, m in found]
    if roles.var in person_names | {"loop", "roles"}:
        taken = f"for_each names each item {roles.var!r}, a name expressions already have: choose another (contract)"
        problems.append(roles.positions["for_each"].problem(taken))
    checked: list[tuple[Place, str, Found]] = [
        (roles.positions["when"], "when", expressions.check_expression(roles.when, names))
    ]
    checked += [(c.position, c.name, _column_checks(c, names)) for c in roles.columns]
    unknown = {m.group(1) for _, _, found in checked for _, text in found if (m := _UNKNOWN_NAME.match(text))}
    meant = next((name for name in sorted(unknown) if closest(name, [roles.var])), None)
    if meant is not None and not _item_read(roles):
        readers = [what for _, what, found in checked if any(_names(text, meant) for _, text in found)]
        message = (
            f"for_each calls each item {roles.var!r}, but {', '.join(readers)} read {meant!r}:"
            f" write '{meant} in {roles.items}', or use {roles.var!r} there too"
        )
        problems.append(roles.positions["for_each"].problem(message))
        checked = [(place, what, [(n, t) for n, t in found if not _names(t, meant)]) for place, what, found in checked]
    return problems + [_at(place, line, m, what) for place, what, found in checked for line, m in found]


def _item_read(roles: Roles) -> bool:
    """Whether `when` or a role column reads the item by the name for_each gives it."""
    sources = [(roles.when, True)] + [(c.source, False) for c in roles.columns if c.kind != "fixed"]
    for source, expression in sources:
        try:
            tree = expressions.environment().parse("{{ (" + source + ") }}" if expression else source)
        except Exception:  # noqa: BLE001, S112 - a broken expression reads nothing; it is reported anyway
            continue
        if any(isinstance(n, nodes.Name) and n.name == roles.var for n in tree.find_all(nodes.Name)):
            return True
    return False


def _names(message: str, name: str) -> bool:
    match = _UNKNOWN_NAME.match(message)
    return match is not None and match.group(1) == name


def _column_checks(column: Column, names: frozenset[str]) -> Found:
    found: Found = []
    if column.kind != "fixed":
        found += expressions.check_template(column.source, names)
    if column.kind == "lookup":
        found += expressions.check_template(column.default, names)
    if column.pattern:
        try:
            patterns.compiled(column.pattern)
        except patterns.PatternError as exc:
            found.append((1, f"pattern is not a regular expression RE2 can run: {exc}"))
    return found


def _at(place: Place, line: int, message: str, what: str) -> Problem:
    # Jinja counts lines within the expression; a block scalar's extra lines shift the position.
    return place.down(line - 1).problem(f"{what}: {message}")
