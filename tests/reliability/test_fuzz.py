"""Real-shaped events and source records, mutated at random (seeded): every one is answered, none
ends in an internal error, and a batch answers each event as a separate `apply` would."""

import copy
import json
import random

import pytest

from conftest import DEFAULT_MAPPING, ROOT, run_cli

SAMPLE = json.loads((ROOT / "mappings" / "samples" / "helloid" / "create-event.json").read_text("utf-8"))
EVENTS = 250


def replacements(rng):
    """What HR data or a broken connector puts where a value should be."""
    return [
        None,
        "",
        " ",
        "x" * rng.choice([1, 300, 70_000]),
        rng.randint(-(10**12), 10**12),
        rng.random() * 1e6,
        True,
        [],
        [None, "a", 3],
        {},
        {"nested": {"deeper": [1, {"x": None}]}},
        "ja\u200bn",
        'Zoë Ĳzerman-O\'Brien "de"; DROP TABLE persons;--',
        "\u202eevil",
        "2021-13-45",
        "/Date(-9999999999999)/",
    ]


def paths(value, prefix=()):
    """Every path to a value inside a JSON tree."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def mutated(rng, number):
    """The sample event for person `number % 60`, with one to four values swapped or removed."""
    event = copy.deepcopy(SAMPLE)
    person = event["personContext"]["Person"]
    person["ExternalId"] = str(1000 + number % 60)  # some people come back: creates become updates
    person["Accounts"]["MicrosoftActiveDirectory"]["sAMAccountName"] = f"u{number % 60}"
    person["Accounts"]["MicrosoftActiveDirectory"]["userPrincipalName"] = f"u{number % 60}@x.nl"
    return mutate(rng, event)


def mutate(rng, tree):
    candidates = [p for p in paths(tree) if p]
    for _ in range(rng.randint(1, 4)):
        path = rng.choice(candidates)
        parent = tree
        try:
            for step in path[:-1]:
                parent = parent[step]
            if rng.random() < 0.2 and isinstance(parent, dict):
                parent.pop(path[-1], None)  # a field that is simply missing
            else:
                parent[path[-1]] = rng.choice(replacements(rng))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation replaced an ancestor
    return tree


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mutated_events_are_answered_one_by_one_and_in_a_batch_alike(tmp_path, seed):
    rng = random.Random(seed)
    events = [json.dumps(mutated(rng, n)) for n in range(EVENTS)]
    batch = tmp_path / "events.jsonl"
    batch.write_text("\n".join(events) + "\n", "utf-8")
    together = run_cli(
        "apply", "--mapping", DEFAULT_MAPPING, "--db", tmp_path / "batch.db", "--action", "create", "--batch", batch
    )
    assert together.code in (0, 1), together.err
    answers = [json.loads(line) for line in together.out.splitlines()]
    assert [a["line"] for a in answers] == list(range(1, EVENTS + 1))  # every event answered, in order
    failures = 0
    for event, answer in zip(events, answers, strict=True):
        alone = run_cli(
            "apply", "--mapping", DEFAULT_MAPPING, "--db", tmp_path / "alone.db", "--action", "create", "-", input=event
        )
        assert alone.code in (0, 1, 2), alone.err  # never 3: an internal error
        assert "Traceback" not in alone.err and "internal error" not in alone.err
        result = json.loads(alone.out)
        del answer["line"]
        assert result == answer
        failures += not result["success"]
    assert 0 < failures < EVENTS  # the mutations both broke records and left some whole


@pytest.mark.parametrize("seed", [4, 5])
def test_a_snapshot_of_mutated_records_syncs_record_by_record(tmp_path, seed):
    rng = random.Random(seed)
    records = []
    for n in range(60):
        person = copy.deepcopy(SAMPLE["personContext"]["Person"])
        person["ExternalId"] = str(1000 + n)
        records.append(mutate(rng, person))
    for shape in ("json", "jsonl"):
        source = tmp_path / f"snap.{shape}"
        if shape == "json":
            source.write_text(json.dumps(records), "utf-8")
        else:
            source.write_text("\n".join(json.dumps(r) for r in records) + "\n", "utf-8")
        result = run_cli(
            "sync", "--mapping", DEFAULT_MAPPING, "--db", tmp_path / f"{shape}.db", "--source", source, "--json"
        )
        assert result.code in (0, 1), result.err
        report = result.json
        answered = sum(report["counts"][k] for k in ("created", "updated", "unchanged", "skipped", "failed"))
        assert answered == len(records), report["counts"]
        assert all(f["reason"] for f in report["failures"])
