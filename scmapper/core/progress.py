"""Progress on a terminal, and the closing line of a long command.

Vocabulary: a *meter* follows one stretch of work: the *items* done (events, records, rows,
bytes) and, where the whole is known, the *share* done (of the bytes of a batch file, the
rows of an export); on a terminal it draws one line, redrawn at most every INTERVAL
seconds: a bar, the share, the items and their rate, and the time left. Where its stream is
None (not a terminal, or `--json`) it draws nothing and only counts. *Meters* makes the
meters of one command and writes its *summary*: counts, time taken and rate, the one line
that stays on stderr.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import TextIO, TypeVar

INTERVAL = 0.1  # seconds between redraws: smooth enough, and cheap beside the work
BAR = 24
T = TypeVar("T")


class Meter:
    """One stretch of work: counts always, draws a line only when it has a stream."""

    def __init__(
        self,
        label: str,
        total: float | None,
        unit: str,
        stream: TextIO | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label, self.total, self.unit, self.stream, self.clock = label, total, unit, stream, clock
        self.items = 0
        self.amount = 0.0  # of total: what the share is measured in
        self.started = self._drawn = clock()
        self._width = 0

    @property
    def live(self) -> bool:
        """Whether this meter draws (its caller may skip work it needs only for drawing)."""
        return self.stream is not None

    def advance(self, items: int = 1, amount: float | None = None) -> None:
        """`items` more done; `amount` more of the total (the items themselves when None)."""
        self.items += items
        self.amount += items if amount is None else amount
        if self.stream is not None:
            now = self.clock()
            if now - self._drawn >= INTERVAL:
                self._drawn = now
                self._show(self.line(now))

    def track(self, things: Iterable[T], size: Callable[[T], int] = lambda _: 1) -> Iterator[T]:
        """The things, advancing by `size(thing)` items as each goes by."""
        for thing in things:
            yield thing
            self.advance(size(thing))

    def line(self, now: float) -> str:
        """The line drawn at `now`: bar and share where the total is known, items, rate, time left."""
        elapsed = max(now - self.started, 1e-9)
        rate = f"{_amount(self.items / elapsed, self.unit)}/s"
        done = _amount(self.items, self.unit)
        if not self.total:
            return f"{self.label}  {done}  {rate}"
        share = min(self.amount / self.total, 1.0)
        filled = int(BAR * share)
        left = _clock(elapsed * (1 - share) / share) if share > 0 else "--:--"
        bar = "#" * filled + "." * (BAR - filled)
        return f"{self.label} [{bar}] {100 * share:3.0f}%  {done}  {rate}  {left} left"

    def _show(self, text: str) -> None:
        assert self.stream is not None
        pad = " " * max(self._width - len(text), 0)  # wipe the tail of a longer previous line
        self.stream.write(f"\r{text}{pad}")
        self.stream.flush()
        self._width = len(text)

    def close(self) -> None:
        """Wipes the drawn line, so what is printed next starts on a clean one."""
        if self.stream is not None and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


class Meters:
    """The meters of one command, and its summary line; `stream` None draws nothing."""

    def __init__(self, stream: TextIO | None, summary: TextIO | None, clock: Callable[[], float] = time.monotonic):
        self.stream, self.summary_stream, self.clock = stream, summary, clock
        self.started = clock()

    def meter(self, label: str, total: float | None, unit: str) -> Meter:
        return Meter(label, total, unit, self.stream, self.clock)

    def summary(self, text: str, items: int, unit: str) -> None:
        """Writes `scmapper: TEXT in 1.2 s (840 events/s)`: the rate of `items` over the command's time."""
        if self.summary_stream is None:
            return
        seconds = max(self.clock() - self.started, 1e-9)
        took = f"{1000 * seconds:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"
        print(
            f"scmapper: {text} in {took} ({_amount(items / seconds, unit)}/s)",
            file=self.summary_stream,
            flush=True,
        )


def _amount(value: float, unit: str) -> str:
    """A count with its unit (bytes in B, KB, MB, GB; 1000 apart, as transfer rates are quoted)."""
    if unit != "bytes":
        return f"{value:,.0f} {unit}"
    for name in ("B", "KB", "MB"):
        if value < 1000:
            return f"{value:.0f} {name}" if name == "B" else f"{value:.1f} {name}"
        value /= 1000
    return f"{value:.1f} GB"


def _clock(seconds: float) -> str:
    """Time left as m:ss, or h:mm:ss past an hour."""
    whole = int(seconds + 0.5)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
