"""Account lifecycle semantics: create (with correlation), update, enable, disable, delete.

Vocabulary: an *audit entry* is one line of the result HelloID shows (an action such
as CreateAccount, a message, whether it is an error); the *audit event* is the one
row the store appends per applied action, holding those entries and the data before
and after. Every action runs in one store transaction, or, in a dry run, none.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from scmapper.core import fields
from scmapper.errors import ConflictError, DataError
from scmapper.lifecycle.events import Event
from scmapper.lifecycle.result import AUDIT_ACTIONS, Result
from scmapper.mapping.rows import Row
from scmapper.mapping.rules import MappedPerson, Rules
from scmapper.store import Store, StoredPerson, now


def apply(event: Event, rules: Rules, store: Store) -> Result:
    """Apply one event; a DataError becomes a failed Result with nothing written. The person is
    mapped before the write transaction begins: the lock covers reading the current row and
    writing, so a slow mapping never holds up another agent."""
    result = Result(action=event.action, dry_run=event.dry_run, account_ref=event.account_ref, time=now())
    try:
        if event.mapped is None and _maps(event):
            event = replace(event, mapped=rules.map_person(_person(event), bounds=event.bounds))
        if event.dry_run:
            _run(event, rules, store, result)
        else:
            with store.transaction():
                _run(event, rules, store, result)
                if result.changed:
                    _record(store, event, result)
                if not event.source and result.account_ref and (
                    result.correlated or event.account_ref == result.account_ref
                ):  # the agent holds the account's own reference now (it had an alias before)
                    store.aliases.moved(result.account_ref, result.time)
    except DataError as exc:
        result.success, result.changed = False, False
        result.note(AUDIT_ACTIONS[event.action], str(exc), "error")
    return result


def _maps(event: Event) -> bool:
    """Whether the action needs the event's person mapped: its rows, or its key as the reference."""
    if event.person is None:
        return False
    return event.action in ("create", "update", "enable") or not event.account_ref


def _run(event: Event, rules: Rules, store: Store, result: Result) -> None:
    handlers = {"create": _create, "update": _update, "enable": _enable, "disable": _disable, "delete": _delete}
    handlers[event.action](event, rules, store, result)


def _record(store: Store, event: Event, result: Result) -> None:
    before = _snapshot(result.previous, result.previous_roles)
    after = _snapshot(result.data, result.roles)
    action = "CorrelateAccount" if result.correlated else AUDIT_ACTIONS[event.action]
    origin = f"[{event.source}] " if event.source else ""
    store.audit.add(
        time=result.time,
        action=action,
        ref=result.account_ref,
        success=True,
        message=origin + " ".join(e.message for e in result.audit),
        details=[e.as_dict() for e in result.audit],
        before=before,
        after=after,
    )


def _snapshot(row: Row | None, roles: list[Row] | None) -> dict[str, Any] | None:
    return None if row is None else {"person": row, "roles": roles or []}


# --- create ----------------------------------------------------------------------------------


def _create(event: Event, rules: Rules, store: Store, result: Result) -> None:
    mapping = rules.mapping
    mapped = _map(event, rules)
    correlate = mapping.correlate if event.correlate is None else event.correlate
    # HelloID's AccountField names a column in any casing, as PowerShell matches it.
    named = event.correlation_column
    column = (fields.matching(mapping.column_names, named) or named) if named else mapping.key
    if correlate and column not in mapping.column_names:
        raise DataError(f"cannot correlate on {column!r}: it is not a column of mapping {mapping.name!r}")
    identifying = (mapping.key, *mapping.unique)
    if correlate and column not in identifying:
        raise DataError(
            f"cannot correlate on {column!r}: only the key or a unique column identifies one person"
            f" ({', '.join(identifying)}); a match on another column would take over someone else's account"
        )
    value = event.correlation_value if event.correlation_value is not None else mapped.row.get(column, "")
    existing = store.persons.find(column, value) if correlate and value else None
    if existing is not None:
        result.correlated = True
        result.account_ref = existing
        result.note("CorrelateAccount", f"Correlated to account {existing!r} on {column} = {value!r}")
        _write_update(_stored(existing, store, "correlate"), mapped, rules, store, result, revive=True)
        return
    # Correlating on the key already looked for this key and found nothing.
    searched = correlate and column == mapping.key and value == mapped.key
    holder = None if searched else store.persons.find(mapping.key, mapped.key)
    if holder is not None:
        why = f"correlation on {column} found no match" if correlate else "correlation is off"
        raise DataError(
            f"person {mapped.key!r} already exists as account {holder!r} and {why};"
            " turn correlation on or update that account"
        )
    if event.dry_run:
        _check_new(mapped, rules, store)
    else:
        # The store's own keys refuse what the checks would: they run only to say why.
        try:
            store.persons.insert(mapped.key, mapped.row, result.time)
        except ConflictError:
            _check_new(mapped, rules, store)
            raise
        store.persons.replace_roles(mapped.key, mapped.roles, new=True)
    result.account_ref = mapped.key
    result.data, result.roles, result.changed = mapped.row, mapped.roles, True
    result.note("CreateAccount", f"Created account {mapped.key!r} with {_count(mapped.roles, 'role')}")
    _warn(result, mapped)


def _check_new(mapped: MappedPerson, rules: Rules, store: Store) -> None:
    """Why a new account could not be written: its reference or a unique value is taken."""
    _check_reference_free(mapped.key, rules, store)
    _check_unique(mapped.row, mapped.key, rules, store)


# --- update ----------------------------------------------------------------------------------


def _update(event: Event, rules: Rules, store: Store, result: Result) -> None:
    mapped = _map(event, rules)
    stored = _stored(event.account_ref or mapped.key, store, "update", result)
    _refuse_blanking(stored, mapped)
    _write_update(stored, mapped, rules, store, result, revive=False)


def _refuse_blanking(stored: StoredPerson, mapped: MappedPerson) -> None:
    """An update whose person lacks a field the mapping reads would change the column it fills
    (to empty, or to what a filter makes of nothing): the event did not say the value changed,
    so nothing is changed."""
    blanked = [
        (column, path)
        for column, path in mapped.absent.items()
        if stored.row.get(column, "") and stored.row.get(column, "") != mapped.row.get(column, "")
    ]
    if blanked:
        said = "; ".join(
            f"{path} (column {column!r} holds {stored.row[column]!r}, would become {mapped.row.get(column, '')!r})"
            for column, path in blanked
        )
        raise DataError(
            f"person {mapped.key!r}: the event lacks {said}; nothing changed: an absent field is not an empty"
            " one. Send the person with every field the mapping reads (in HelloID: the person's full data)"
        )


def _write_update(
    stored: StoredPerson, mapped: MappedPerson, rules: Rules, store: Store, result: Result, *, revive: bool
) -> None:
    """Bring a stored person in line with a freshly mapped one; write only real changes."""
    mapping = rules.mapping
    result.account_ref = stored.ref
    result.previous, result.previous_roles = stored.row, stored.roles
    result.data, result.roles = mapped.row, mapped.roles
    changed = [c for c in mapping.column_names if stored.row.get(c, "") != mapped.row[c]]
    roles_changed = stored.roles != mapped.roles
    revived = revive and stored.deleted
    if not (changed or roles_changed or revived):
        result.note("UpdateAccount", f"Account {stored.ref!r} is up to date; nothing changed")
        return
    if mapping.key in changed:
        holder = store.persons.find(mapping.key, mapped.key)
        if holder is not None and holder != stored.ref:
            raise DataError(f"key {mapped.key!r} already belongs to account {holder!r}")
        result.note("UpdateAccount", f"Key changed from {stored.row.get(mapping.key)!r} to {mapped.key!r}", "warning")
    if stored.active or revived:
        _check_unique(mapped.row, stored.ref, rules, store)
    result.changed = True
    if changed:
        details = ", ".join(changed)
        result.note("UpdateAccount", f"Updated account {stored.ref!r}: {details}")
    if mapping.username in changed:
        old, new = stored.row.get(mapping.username, ""), mapped.row[mapping.username]
        result.note(
            "UpdateAccount",
            f"Username changed from {old!r} to {new!r}: Spend Cloud will see a new employee and deactivate the old one",
            "warning",
        )
    if roles_changed:
        added = sum(1 for r in mapped.roles if r not in stored.roles)
        removed = sum(1 for r in stored.roles if r not in mapped.roles)
        result.note("UpdatePermission", f"Roles of {stored.ref!r}: {added} added, {removed} removed")
    if revived:
        result.note("CreateAccount", f"Account {stored.ref!r} was deleted; restored as active")
    _warn(result, mapped)
    if not result.dry_run:
        time = result.time
        store.persons.update(stored.ref, mapped.row, time)
        if roles_changed:
            store.persons.replace_roles(stored.ref, mapped.roles)
        if revived:
            store.persons.set_state(stored.ref, active=True, deleted=False, time=time)


# --- enable / disable / delete -------------------------------------------------------------


def _enable(event: Event, rules: Rules, store: Store, result: Result) -> None:
    stored = _stored(_ref(event, rules), store, "enable", result)
    if event.person is None:
        _unchanged_data(stored, result)
    else:
        # The person travels with the event: bring data and roles up to date with the flag.
        _write_update(stored, _map(event, rules), rules, store, result, revive=False)
    if stored.active and not stored.deleted:
        result.note("EnableAccount", f"Account {stored.ref!r} is already enabled")
        return
    _check_unique(result.data or stored.row, stored.ref, rules, store)
    result.changed = True
    result.note("EnableAccount", f"Enabled account {stored.ref!r}")
    if not event.dry_run:
        store.persons.set_state(stored.ref, active=True, deleted=False, time=result.time)


def _disable(event: Event, rules: Rules, store: Store, result: Result) -> None:
    if _gone(event, rules, store, result, "DisableAccount"):
        return
    stored = _stored(_ref(event, rules), store, "disable", result)
    _unchanged_data(stored, result)
    if not stored.active:
        result.note("DisableAccount", f"Account {stored.ref!r} is already disabled")
        return
    result.changed = True
    result.note("DisableAccount", f"Disabled account {stored.ref!r}; it leaves the export")
    if not event.dry_run:
        store.persons.set_state(stored.ref, active=False, deleted=stored.deleted, time=result.time)


def _delete(event: Event, rules: Rules, store: Store, result: Result) -> None:
    if _gone(event, rules, store, result, "DeleteAccount"):
        return
    stored = _stored(_ref(event, rules), store, "delete", result)
    _unchanged_data(stored, result)
    hard = rules.mapping.delete == "hard"
    if stored.deleted and not hard:
        result.note("DeleteAccount", f"Account {stored.ref!r} is already deleted")
        return
    result.changed = True
    result.data, result.roles = None, None
    how = "removed" if hard else "marked inactive; its roles removed"
    result.note("DeleteAccount", f"Deleted account {stored.ref!r} ({how})")
    if event.dry_run:
        return
    if hard:
        store.persons.delete(stored.ref)
    else:
        store.persons.replace_roles(stored.ref, [])
        store.persons.set_state(stored.ref, active=False, deleted=True, time=result.time)


# --- helpers ---------------------------------------------------------------------------------


def _person(event: Event) -> dict[str, Any]:
    assert event.person is not None  # events.parse guarantees it for create and update
    return event.person


def _map(event: Event, rules: Rules) -> MappedPerson:
    mapped: MappedPerson | None = event.mapped
    return mapped if mapped is not None else rules.map_person(_person(event), bounds=event.bounds)


def _ref(event: Event, rules: Rules) -> str:
    """The account an event names, or the key its person maps to."""
    if event.account_ref:
        return event.account_ref
    return _map(event, rules).key


def _stored(ref: str, store: Store, action: str, result: Result | None = None) -> StoredPerson:
    """The account a reference names, by its own reference or an alias (store.persons.account)."""
    stored = store.persons.account(ref) if ref else None
    if stored is None:
        raise DataError(f"cannot {action}: no account with reference {ref!r}")
    if result is not None and stored.ref != ref:
        result.note(AUDIT_ACTIONS[action], f"Reference {ref!r} is an alias of account {stored.ref!r}")
    return stored


def _gone(event: Event, rules: Rules, store: Store, result: Result, action: str) -> bool:
    """With unknown_account: ignore, an account that is not there is already disabled or deleted."""
    ref = _ref(event, rules)
    if rules.mapping.unknown_account != "ignore" or store.persons.account(ref) is not None:
        return False
    result.account_ref = ref
    result.note(action, f"No account with reference {ref!r}: nothing to do", "warning")
    return True


def _unchanged_data(stored: StoredPerson, result: Result) -> None:
    result.account_ref = stored.ref
    result.previous, result.previous_roles = stored.row, stored.roles
    result.data, result.roles = stored.row, stored.roles


def _check_unique(row: Row, ref: str, rules: Rules, store: Store) -> None:
    conflicts = store.persons.conflicts(row, ref)
    if conflicts:
        details = "; ".join(
            f"{column} {value!r} is already used by account {other!r}" for column, value, other in conflicts
        )
        raise DataError(f"person {row.get(rules.mapping.key, ref)!r}: {details}")


def _check_reference_free(key: str, rules: Rules, store: Store) -> None:
    """A new person's account reference is their key. An account whose key changed since it was
    created keeps its first key as reference, and an alias (the old connector's reference) is
    the account's for good: a new person with such a key cannot have it."""
    claimed = store.persons.claimed(key)
    if claimed is None:
        return
    holder, now = claimed
    if now is None:
        raise DataError(
            f"person {key!r}: {key!r} is an alias of account {holder!r} (its old reference);"
            " an alias is never another account's reference: give this person another key"
        )
    raise DataError(
        f"person {key!r} cannot be created: account reference {key!r} belongs to the person whose"
        f" {rules.mapping.key} changed from {key!r} to {now!r}; delete that account first, or"
        f" correlate this person to it"
    )


def _warn(result: Result, mapped: MappedPerson) -> None:
    """The mapping's warnings, under the action's own audit action (HelloID files them there)."""
    for warning in mapped.warnings:
        result.note(AUDIT_ACTIONS[result.action], warning, "warning")


def _count(items: list[Any], noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"
