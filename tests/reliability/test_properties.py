"""Property-based: SQL metacharacters in any column never change how many rows there are."""

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scmapper.lifecycle import actions as lifecycle
from scmapper.lifecycle.events import Event
from scmapper.mapping.loading import load_rules

from conftest import DEFAULT_MAPPING, make_person, open_store

SQLISH = st.lists(
    st.sampled_from(
        ["'", '"', ";", "--", "/*", "*/", "\\", "%", "_", "DROP TABLE persons", "OR 1=1", ")", "(", "`", "[", "]", "x"]
    ),
    min_size=1,
    max_size=8,
).map("".join)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(SQLISH, min_size=1, max_size=5, unique=True))
def test_sql_metacharacters_never_change_row_counts(values):
    rules = load_rules(DEFAULT_MAPPING)
    mapping = rules.mapping
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "db.sqlite", mapping)
        for number, value in enumerate(values):
            person = make_person(str(number), NickName=value, FamilyName=value, FamilyNamePrefix=value)
            person["Accounts"]["MicrosoftActiveDirectory"]["sAMAccountName"] = f"{value}{number}"
            person["Accounts"]["MicrosoftActiveDirectory"]["userPrincipalName"] = f"u{number}@x.nl"
            person["Contracts"][0]["Department"]["DisplayName"] = value
            assert lifecycle.apply(Event("create", person), rules, store).success
            updated = lifecycle.apply(
                Event("update", {**person, "Name": {**person["Name"], "GivenName": value}}, str(number)), rules, store
            )
            assert updated.success
        counts = [
            store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in ("persons", "roles", "events")
        ]
        stored = [store.persons.get(str(n)).row["achternaam"] for n in range(len(values))]
        store.close()
    assert counts == [len(values), len(values), len(values)]
    assert stored == [v.strip() for v in values]
