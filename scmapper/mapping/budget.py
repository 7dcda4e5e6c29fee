"""What one evaluation may spend: time and output, one limit for every template and expression.

Vocabulary: a *budget* holds a deadline and the characters an evaluation may still produce;
the sandbox checks the deadline at every *step* (a loop iteration, a call, a filter, a
concatenation) and spends characters on every value it outputs. `spending()` opens a budget
for the code inside it; outside one (compiling, static checks) only the size caps apply. It
works the same on every platform: no signals, no threads, nothing to interrupt.
"""

from __future__ import annotations

import time
from contextvars import ContextVar

# The most characters one value may have when no budget is open (compile time, checks).
DEFAULT_OUTPUT = 1_048_576


class LimitExceeded(BaseException):
    """An evaluation ran out of time or output. A BaseException: no filter, and no handler of
    data errors, can swallow it on the way out."""


class Budget:
    __slots__ = ("deadline", "left", "output", "seconds")

    def __init__(self, seconds: float, output: int) -> None:
        self.seconds, self.output = seconds, output
        self.deadline = time.monotonic() + seconds
        self.left = output

    def step(self) -> None:
        if time.monotonic() > self.deadline:
            raise LimitExceeded(f"took longer than {self.seconds:g} s; an expression loops or does too much")

    def spend(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise LimitExceeded(f"produced more than {self.output} characters; an expression repeats too much")


_current: ContextVar[Budget | None] = ContextVar("scmapper_budget", default=None)
current = _current.get  # the open budget or None: hot paths call it once and keep it


def step() -> None:
    budget = _current.get()
    if budget is not None:
        budget.step()


def spend(size: int) -> None:
    budget = _current.get()
    if budget is not None:
        budget.spend(size)


def cap() -> int:
    """The most characters (or items) one value may have now."""
    budget = _current.get()
    return DEFAULT_OUTPUT if budget is None else budget.output


class spending:  # lower case: used as a function, `with spending(2, 65536) as budget:`
    """A budget for the code inside (nested ones replace the outer one until they end). A
    class rather than a generator: it opens around every record mapped."""

    __slots__ = ("_budget", "_token")

    def __init__(self, seconds: float, output: int) -> None:
        self._budget = Budget(seconds, output)

    def __enter__(self) -> Budget:
        self._token = _current.set(self._budget)
        return self._budget

    def __exit__(self, *exc: object) -> None:
        _current.reset(self._token)
