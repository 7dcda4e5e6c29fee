"""An input of the wrong shape never takes anyone out: "the source did not say" is not "the
source said no". Run on Graph's own shapes: the list-users page as the starter asks for it
(with $select) and as Graph answers without $select (its default property set)."""

import json

from conftest import ROOT, make_person, native, rows, run_cli

ENTRA = ROOT / "mappings" / "entra.yaml"
SAMPLES = [ROOT / "mappings" / "samples" / "entra" / name for name in ("users.json", "users.2.json")]
# What GET /v1.0/users returns for a user when no $select is given.
GRAPH_DEFAULT = (
    "businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation",
    "preferredLanguage", "surname", "userPrincipalName", "id",
)  # fmt: skip


def page(tmp_path, name, users):
    path = tmp_path / name
    path.write_text(json.dumps({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users", "value": users}))
    return path


def sample_users():
    return [user for path in SAMPLES for user in json.loads(path.read_text("utf-8"))["value"]]


def without_select(user):
    return {k: user.get(k, [] if k == "businessPhones" else None) for k in GRAPH_DEFAULT}


def synced(db):
    done = run_cli("sync", "--mapping", ENTRA, "--db", db, "--source", *SAMPLES, "--json")
    assert done.code == 1 and done.json["counts"]["created"] == 21  # the samples' broken records fail
    return {r["externalId"]: r["scm_active"] for r in rows(db, "SELECT externalId, scm_active FROM persons")}


def test_a_page_without_select_over_a_filled_database_refuses_and_disables_nobody(db, tmp_path):
    before = synced(db)
    bare = page(tmp_path, "users.json", [without_select(u) for u in sample_users()])
    done = run_cli("sync", "--mapping", ENTRA, "--db", db, "--source", f"users={bare}", "--json")
    assert done.code == 1 and done.json["status"] == "refused"
    [reason] = done.json["absent"]
    assert reason.startswith("input users: 24 of 24 records lack person.accountEnabled, which decides whether")
    assert "Fetch it as: GET https://graph.microsoft.com/v1.0/users?$top=999&$select=id,employeeId," in reason
    assert done.json["counts"]["disabled"] == 0 and done.json["counts"]["undecided"] == 24
    assert {r["externalId"]: r["scm_active"] for r in rows(db, "SELECT externalId, scm_active FROM persons")} == before
    refused = rows(db, "SELECT message FROM events WHERE action = 'SyncRefused'")
    assert "person.accountEnabled" in refused[-1]["message"]
    text = run_cli("sync", "--mapping", ENTRA, "--db", db, "--source", f"users={bare}")
    assert "REFUSED, nothing written: input users: 24 of 24 records lack person.accountEnabled" in text.out
    # --force applies it, and still takes nobody out: their records do not say they left.
    forced = run_cli("sync", "--mapping", ENTRA, "--db", db, "--source", f"users={bare}", "--force", "--json")
    assert forced.code == 0 and forced.json["counts"]["disabled"] == 0
    assert {r["externalId"]: r["scm_active"] for r in rows(db, "SELECT externalId, scm_active FROM persons")} == before


def test_one_record_without_the_field_is_left_as_it_is_and_named(db, tmp_path):
    before = synced(db)
    users = sample_users()
    del users[0]["accountEnabled"]  # 10001, enabled before
    full = page(tmp_path, "users.json", users)
    done = run_cli("sync", "--mapping", ENTRA, "--db", db, "--source", f"users={full}", "--json")
    assert done.json["absent"] == [] and done.json["status"] == "applied"
    assert done.json["counts"]["undecided"] == 1 and done.json["counts"]["disabled"] == 0
    assert "1 person: left as they are: person.accountEnabled absent, so whether they are active is unknown" in (
        done.json["warnings"]
    )
    assert rows(db, "SELECT scm_active FROM persons WHERE externalId = '10001'") == [{"scm_active": before["10001"]}]
    # Graph saying `false` is the source saying no: that one is disabled.
    users[0]["accountEnabled"] = False
    said = run_cli("sync", "--mapping", ENTRA, "--db", db, "--source", f"users={page(tmp_path, 'u.json', users)}", "--json")
    assert said.json["counts"]["disabled"] == 1
    assert rows(db, "SELECT scm_active FROM persons WHERE externalId = '10001'") == [{"scm_active": 0}]


def test_the_report_lists_what_was_done_not_what_was_planned(db, tmp_path):
    """Five of six new persons take a username an existing person has: one is created, five fail;
    the joiners and roles added are that one's, in text and JSON alike."""
    assert run_cli("apply", "--mapping", ROOT / "mappings" / "spendcloud.yaml", "--db", db, "-",
                   input=native("create", make_person("1"))).code == 0  # fmt: skip
    people = [make_person(str(n)) for n in range(2, 8)]
    for person in people[1:]:
        person["Accounts"]["MicrosoftActiveDirectory"]["sAMAccountName"] = "user1"
    snapshot = tmp_path / "snap.json"
    snapshot.write_text(json.dumps([make_person("1"), *people]))
    mapping = ROOT / "mappings" / "spendcloud.yaml"
    done = run_cli("sync", "--mapping", mapping, "--db", db, "--source", snapshot, "--json")
    assert done.json["counts"]["created"] == 1 and done.json["counts"]["failed"] == 5
    assert [j["key"] for j in done.json["diff"]["joiners"]] == ["2"]
    assert {r["person"] for r in done.json["diff"]["rolesAdded"]} == {"2"}
    assert done.json["diff"]["totals"]["joiners"] == 1


def test_an_update_that_lacks_a_field_empties_no_column(db, tmp_path):
    mapping = ROOT / "mappings" / "spendcloud.yaml"
    assert run_cli("apply", "--mapping", mapping, "--db", db, "-", input=native("create", make_person("1"))).code == 0
    person = make_person("1")
    del person["Details"]  # no Gender at all: not "gender unknown"
    done = run_cli("apply", "--mapping", mapping, "--db", db, "-", input=native("update", person, accountReference="1"))
    assert done.code == 1 and done.json["success"] is False
    message = done.json["auditLogs"][-1]["message"]
    assert "the event lacks person.Details (column 'geslacht' holds 'M', would become 'O'); nothing changed" in message
    assert rows(db, "SELECT geslacht FROM persons") == [{"geslacht": "M"}]
