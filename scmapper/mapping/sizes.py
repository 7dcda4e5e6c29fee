"""How much a value holds, for the budget: the size cap every value is held to, and the work
charged for handling it in one C-level operation.

Vocabulary: a value's *size* is the characters and items it expands to, every reference
counted as what it refers to. `[[0] * 60000] * 60000` takes little memory (one inner list,
shared) but is 3.6 billion items: comparing it, printing it, joining or flattening it touches
every one, in C, where no step of the budget is taken. So no value may have a size over the
cap (`limits.output`, or `limits.export_output` in an export template), checked as it is
made; and an operation that walks a value whole (a comparison, `tojson`, `sort`) is charged
its size in steps, at ITEMS_PER_STEP items or CHARS_PER_STEP characters a step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scmapper.mapping import budget

# Charges per step. C compares about 800 list items or 20,000 characters in the time of one
# template step (benchmarks/limits.py); sizing a list walks it in Python, a step per 10 to 20
# items. So these charge the walk in full and C many times over: never an undercount.
ITEMS_PER_STEP = 8
CHARS_PER_STEP = 64
MAX_INT_BITS = 1024  # integers beyond about 300 digits are not HR data (and cost to print)
MAX_POWER = 1_000
_WIDTH_METHODS = frozenset({"ljust", "rjust", "center", "zfill"})

_CONTAINERS = (list, tuple, dict)


def size(value: Any, limit: int) -> int:
    """The characters and items `value` expands to; LimitExceeded as soon as that passes
    `limit`, so finding out costs at most about `limit` work whatever the value holds. A value
    shared many times is walked once and counted every time."""
    if isinstance(value, str | bytes):
        return len(value)
    if not isinstance(value, _CONTAINERS):
        return len(value) if isinstance(value, Mapping) else 0  # a lookup table: its records, one each
    known: dict[int, int] = {}  # id of a container walked -> its size (all reachable: ids stay valid)
    walking: set[int] = set()  # containers waiting for their children: meeting one again is a cycle
    pending: list[tuple[Any, bool]] = [(value, False)]
    while pending:
        node, walked = pending.pop()
        key = id(node)
        if walked:
            total = len(node)
            for child in _children(node):
                if isinstance(child, str | bytes):
                    total += len(child)
                elif isinstance(child, _CONTAINERS):
                    total += known[id(child)]
                if total > limit:
                    raise budget.LimitExceeded(f"would make a value of more than {limit} characters or items")
            known[key] = total
            walking.discard(key)
            continue
        if key in known:
            continue
        if key in walking:
            raise budget.LimitExceeded("made a value that contains itself")
        if len(node) > limit:
            raise budget.LimitExceeded(f"would make a value of more than {limit} characters or items")
        walking.add(key)
        pending.append((node, True))
        pending.extend((child, False) for child in _children(node) if isinstance(child, _CONTAINERS))
    return known[id(value)]


def _children(node: Any) -> Any:
    if isinstance(node, dict):
        for key, item in node.items():
            yield key
            yield item
    else:
        yield from node


def check_size(found: int) -> None:
    limit = budget.cap()
    if found > limit:
        raise budget.LimitExceeded(f"would make a value of {found} characters or items; the limit is {limit}")


def checked(value: Any) -> Any:
    """`value`, once its size is known to fit the cap; making it is charged by that size."""
    if isinstance(value, str | bytes):
        check_size(len(value))
        budget.charge(len(value) // CHARS_PER_STEP)
    elif isinstance(value, _CONTAINERS):
        budget.charge(size(value, budget.cap()) // ITEMS_PER_STEP)
    elif isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise budget.LimitExceeded(f"made an integer of {value.bit_length()} bits; the limit is {MAX_INT_BITS}")
    return value


def weigh(value: Any) -> Any:
    """`value` unchanged, the operation about to walk it whole charged by its size."""
    if isinstance(value, str | bytes):
        budget.charge(len(value) // CHARS_PER_STEP)
    elif isinstance(value, _CONTAINERS):
        budget.charge(size(value, budget.cap()) // ITEMS_PER_STEP)
    return value


# --- refusing before an operation makes a value too big ---------------------------------------


def check_power(base: Any, exponent: Any) -> None:
    if isinstance(exponent, int) and abs(exponent) > MAX_POWER:
        raise budget.LimitExceeded(f"would raise to the power {exponent}; the limit is {MAX_POWER}")
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        if abs(base) > 1 and (abs(base).bit_length() - 1) * exponent > MAX_INT_BITS:
            raise budget.LimitExceeded(f"would make an integer of more than {MAX_INT_BITS} bits")


def check_product(left: Any, right: Any) -> None:
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, str | bytes | list | tuple) and isinstance(times, int):
            check_size(size(seq, budget.cap()) * times if times > 0 else 0)
    if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise budget.LimitExceeded(f"would make an integer of more than {MAX_INT_BITS} bits")


# The methods whose size-deciding first argument may also be given by keyword.
_FIRST_KEYWORD = {"to_bytes": "length", "expandtabs": "tabsize"}


def check_method(method: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any] | None = None) -> None:
    """Refuses, before the call, a text method whose result would outgrow the size cap."""
    owner, name = getattr(method, "__self__", None), getattr(method, "__name__", "")
    if not args and kwargs and _FIRST_KEYWORD.get(name) in kwargs:
        args = (kwargs[_FIRST_KEYWORD[name]],)
    if isinstance(owner, int) and name == "to_bytes" and args and isinstance(args[0], int):
        check_size(args[0])
    if not isinstance(owner, str | bytes) or not args:
        return
    first = args[0]
    if name in _WIDTH_METHODS and isinstance(first, int):
        check_size(first)
    elif name == "expandtabs" and isinstance(first, int):
        check_size(len(owner) * max(first, 1))
    elif name == "replace" and len(args) >= 2 and isinstance(args[1], str | bytes):
        check_size(len(owner) + (len(owner) + 1) * len(args[1]))
    elif name == "translate" and isinstance(first, Mapping):
        longest = max((len(v) for v in first.values() if isinstance(v, str)), default=1)
        check_size(len(owner) * max(longest, 1))


def joinable(separator: str | bytes, items: Any) -> list[Any]:
    """The items of a join, taken once, after checking what joining them would make."""
    found = list(items)
    cap = budget.cap()
    total = len(separator) * max(len(found) - 1, 0)
    for item in found:
        # a list's text is at least as long as what it holds: sized before str() writes it out
        total += len(item) if isinstance(item, str | bytes) else len(str(item)) if size(item, cap) < cap else cap + 1
        if total > cap:
            break
    check_size(total)
    return found
