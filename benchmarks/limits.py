#!/usr/bin/env python3
"""What the evaluation bound's units are worth on this machine, and why patterns run in RE2.

    python benchmarks/limits.py            # prints a table, writes benchmarks/limits.json
    python benchmarks/limits.py --out FILE

The budget counts work, not time (scmapper/mapping/budget.py): a limit of `seconds: 2` is
2 x STEPS_PER_SECOND steps, and an operation done in C is charged its size at ITEMS_PER_STEP
items or CHARS_PER_STEP characters a step (sizes.py). This measures, in one run:
  - steps: the time of one template step (a loop turn with a filter) inside the sandbox,
    beside a plain Python loop doing the same (the floor), so STEPS_PER_SECOND can be checked
    against what a second buys here;
  - items and characters: the time C takes to compare lists and texts of a million, in steps;
    the constants must not be more than this (a charge that undercounts lets a loop hide work);
  - an honest record: the steps the default mapping spends on HelloID's sample person, as a
    share of its default budget (the margin that keeps honest records from ever failing);
  - patterns: Python's re, the `regex` module (when installed) and RE2 on a pattern with nested
    repeats and a crafted value, and on the starters' e-mail pattern, per call.
Nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scmapper.mapping import budget, expressions, sizes  # noqa: E402
from scmapper.mapping.loading import load_mapping  # noqa: E402
from scmapper.mapping.rules import Rules  # noqa: E402


def best_of(runs: int, work: Callable[[], Any]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def step_seconds(turns: int) -> tuple[float, float]:
    """Seconds per template step, and per turn of the same loop in plain Python."""
    env = expressions.environment()
    template = env.from_string("{% for i in items %}{{ i | string }}{% endfor %}")
    items = list(range(turns))
    with budget.spending(1e6, 1 << 30):
        sandboxed = best_of(3, lambda: template.render(items=items))
    floor = best_of(3, lambda: "".join(str(i) for i in items))
    # each turn takes a loop step and a filter step
    return sandboxed / (2 * turns), floor / turns


def c_seconds(size: int) -> tuple[float, float]:
    """Seconds C takes per item comparing two equal lists, and per character two equal texts."""
    left, right = [0] * size, [0] * size
    text_left, text_right = "x" * size, "x" * (size - 1) + "x"
    items = best_of(5, lambda: left == right) / size
    chars = best_of(5, lambda: text_left == text_right) / size
    return items, chars


def honest_steps() -> int:
    rules = Rules(load_mapping(ROOT / "mappings" / "spendcloud.yaml"))
    event = json.loads((ROOT / "mappings" / "samples" / "helloid" / "create-event.json").read_text("utf-8"))
    person = event["personContext"]["Person"]
    with budget.spending(2.0, 1 << 20) as spent:
        rules._map(rules._context(person, "record"), "record", True)
    return 2 * budget.STEPS_PER_SECOND - spent.steps


def patterns() -> dict[str, dict[str, float | None]]:
    import re

    import re2

    engines: dict[str, Any] = {"re": re, "re2": re2}
    try:
        import regex

        engines["regex"] = regex
    except ImportError:
        pass
    nested, crafted = r"^(a|aa)+$", "a" * 24 + "b"  # re doubles its time with every 'a' added
    email, honest = r"^[^@\s]+@[^@\s]+$", "jan.de.vries@gemeente-voorbeeld.nl"
    found: dict[str, dict[str, float | None]] = {}
    for name, engine in engines.items():
        slow, usual = engine.compile(nested), engine.compile(email)
        found[name] = {
            "nested_repeats_24_chars_s": best_of(1, lambda slow=slow: slow.search(crafted)),
            "email_per_call_us": best_of(3, lambda usual=usual: [usual.search(honest) for _ in range(20000)])
            / 20000
            * 1e6,
        }
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description="What the evaluation bound's units are worth here.")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_suffix(".json"), help="results file")
    out = parser.parse_args().out
    step, plain = step_seconds(200_000)
    item, char = c_seconds(1_000_000)
    used = honest_steps()
    results = {
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "constants": {
            "STEPS_PER_SECOND": budget.STEPS_PER_SECOND,
            "ITEMS_PER_STEP": sizes.ITEMS_PER_STEP,
            "CHARS_PER_STEP": sizes.CHARS_PER_STEP,
        },
        "measured": {
            "steps_per_second": round(1 / step),
            "step_over_plain_python_turn": round(step / plain, 1),
            "items_compared_per_step": round(step / item),
            "chars_compared_per_step": round(step / char),
            "honest_record_steps": used,
            "honest_record_share_of_default_budget": used / (2 * budget.STEPS_PER_SECOND),
        },
        "patterns": patterns(),
    }
    measured = results["measured"]
    rows = [
        ("steps a second here", measured["steps_per_second"], f"STEPS_PER_SECOND {budget.STEPS_PER_SECOND:,}"),
        ("a step / a plain Python turn", measured["step_over_plain_python_turn"], "times the floor"),
        ("list items C compares a step", measured["items_compared_per_step"], f"ITEMS_PER_STEP {sizes.ITEMS_PER_STEP}"),
        ("characters C compares a step", measured["chars_compared_per_step"], f"CHARS_PER_STEP {sizes.CHARS_PER_STEP}"),
    ]
    for label, value, beside in rows:
        print(f"{label:<30} {value:>12,}   ({beside})")
    share = measured["honest_record_share_of_default_budget"]
    print(f"honest record (default mapping) {used:>7,} steps = {share:.4%} of its budget")
    for name, figures in results["patterns"].items():
        print(
            f"{name:<6} nested repeats on 25 chars {figures['nested_repeats_24_chars_s']:.4f} s,"
            f" e-mail pattern {figures['email_per_call_us']:.2f} us a call"
        )
    out.write_text(json.dumps(results, indent=2) + "\n", "utf-8")
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
