"""What one evaluation may spend: work and output, one limit for every template and expression.

Vocabulary: a *budget* holds the *steps* of work an evaluation may still do and the characters
it may still produce. The sandbox takes a step for every loop turn, call, filter and operator,
and *charges* the work a single operation does in C (comparing, copying, printing a value) by
the value's size (sizes.py). The limits are given in seconds (`limits.seconds`), converted at
STEPS_PER_SECOND: the bound counts work, never the clock, so an honest record passes or fails
the same way on every run, however busy the machine or long the process pauses (a garbage
collection, a swap), and a runaway expression stops on Windows as on Linux: no signals, no
threads, nothing to interrupt. `spending()` opens a budget for the code inside it; outside one
(compiling, static checks) only the size caps apply.
"""

from __future__ import annotations

from contextvars import ContextVar

# The most characters one value may have when no budget is open (compile time, checks).
DEFAULT_OUTPUT = 1_048_576
# Steps one second of `limits.seconds` allows: about half of what a template loop does in a
# second on the 2-core machine the benchmarks run on (benchmarks/limits.py measured 2.1
# million there), so a limit holds roughly what it says on an agent server twice as slow.
STEPS_PER_SECOND = 1_000_000


class LimitExceeded(BaseException):
    """An evaluation ran out of work or output. A BaseException: no filter, and no handler of
    data errors, can swallow it on the way out."""


class Budget:
    __slots__ = ("left", "output", "seconds", "steps")

    def __init__(self, seconds: float, output: int) -> None:
        self.seconds, self.output = seconds, output
        self.steps = max(int(seconds * STEPS_PER_SECOND), 1)
        self.left = output

    def step(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            self.exhausted()

    def charge(self, steps: int) -> None:
        self.steps -= steps
        if self.steps < 0:
            self.exhausted()

    def exhausted(self) -> None:
        allowed = max(int(self.seconds * STEPS_PER_SECOND), 1)
        raise LimitExceeded(
            f"took more than the {allowed:,} steps of work its limit of {self.seconds:g} s allows;"
            " an expression loops or does too much"
        )

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


def charge(steps: int) -> None:
    budget = _current.get()
    if budget is not None and steps:
        budget.charge(steps)


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
