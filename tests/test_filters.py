from datetime import date, datetime

import pytest

from scmapper.mapping import filters

BOELE_DE_VRIES = {
    "FamilyName": "Boele",
    "FamilyNamePrefix": "van den",
    "FamilyNamePartner": "Vries",
    "FamilyNamePartnerPrefix": "de",
}


@pytest.mark.parametrize(
    ("convention", "prefix", "family"),
    [
        ("B", "van den", "Boele"),
        ("P", "de", "Vries"),
        ("BP", "van den", "Boele - de Vries"),
        ("PB", "de", "Vries - van den Boele"),
        (None, "van den", "Boele"),  # missing = B
        ("", "van den", "Boele"),
        ("X", "van den", "Boele"),  # unknown = B
        ("bp", "van den", "Boele - de Vries"),  # codes are case-insensitive
    ],
)
def test_naming_conventions_follow_the_domain_table(convention, prefix, family):
    name = {**BOELE_DE_VRIES, "Convention": convention}
    assert filters.name_parts(name) == (prefix, family)
    assert filters.name_prefix(name) == prefix
    assert filters.family_name(name) == family


@pytest.mark.parametrize("convention", ["P", "BP", "PB"])
@pytest.mark.parametrize("empty", [None, "", "   "])
def test_an_empty_partner_name_falls_back_to_b_as_a_whole(convention, empty):
    name = {**BOELE_DE_VRIES, "FamilyNamePartner": empty, "Convention": convention}
    assert filters.name_parts(name) == ("van den", "Boele")


def test_partner_without_prefix_leaves_no_double_space():
    name = {**BOELE_DE_VRIES, "FamilyNamePartnerPrefix": None, "Convention": "BP"}
    assert filters.name_parts(name) == ("van den", "Boele - Vries")
    name["Convention"] = "PB"
    assert filters.name_parts(name) == ("", "Vries - van den Boele")


def test_missing_birth_name_with_bp_never_dangles():
    name = {"FamilyName": None, "FamilyNamePartner": "Vries", "FamilyNamePartnerPrefix": "de", "Convention": "BP"}
    assert filters.name_parts(name) == ("de", "Vries")


@pytest.mark.parametrize("name", [None, {}, {"Convention": "PB"}, "not a dict"])
def test_missing_names_give_empty_text_never_none(name):
    assert filters.name_parts(name) == ("", "")


def test_prefix_casing_is_kept_and_convention_can_be_given():
    name = {
        "FamilyName": "Hof",
        "FamilyNamePrefix": "Van het",
        "FamilyNamePartner": "Berg",
        "FamilyNamePartnerPrefix": "Op 't",
        "Convention": "B",
    }
    assert filters.name_parts(name) == ("Van het", "Hof")
    assert filters.name_parts(name, "PB") == ("Op 't", "Berg - Van het Hof")


def test_name_keys_match_case_insensitively():
    assert filters.family_name({"familyname": "Jansen", "convention": "B"}) == "Jansen"


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("Çelik-Müller", "Celik-Muller"),
        ("Zoë Ångström", "Zoe Angstrom"),
        ("Øster Straße", "Oster Strasse"),
        ("Łukasz Dvořák", "Lukasz Dvorak"),
        ("Ĳsselmeer", "IJsselmeer"),
        ("van 't Hoff", "van 't Hoff"),
        (None, ""),
    ],
)
def test_strip_diacritics(raw, plain):
    assert filters.strip_diacritics(raw) == plain


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("M", "M"),
        ("m", "M"),
        ("Male", "M"),
        ("MALE", "M"),
        ("man", "M"),
        ("V", "V"),
        ("F", "V"),
        ("Female", "V"),
        ("FEMALE", "V"),
        ("vrouw", "V"),
        (" f ", "V"),
        ("X", "O"),
        ("", "O"),
        (None, "O"),
        ("unknown", "O"),
        (1, "O"),
    ],
)
def test_gender(raw, code):
    assert filters.gender(raw) == code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2021-01-01T23:09:08.2863496", date(2021, 1, 1)),
        ("2021-01-01", date(2021, 1, 1)),
        ("2021-01-01T10:00:00Z", date(2021, 1, 1)),
        ("2021-01-01T10:00:00+02:00", date(2021, 1, 1)),
        ("/Date(1609459200000)/", date(2021, 1, 1)),
        ("31-12-2020", date(2020, 12, 31)),
        (datetime(2021, 5, 6, 7, 8), date(2021, 5, 6)),
        ("9999-12-31", None),
        ("2099-12-31T00:00:00", None),
        (None, None),
        ("", None),
    ],
)
def test_to_date(raw, expected):
    assert filters.to_date(raw) == expected


def test_to_date_refuses_nonsense():
    with pytest.raises(ValueError, match="not a date"):
        filters.to_date("next tuesday")


@pytest.mark.parametrize(
    ("start", "end", "inside"),
    [
        ("2020-01-01", None, True),
        ("2020-01-01", "9999-12-31", True),
        ("2030-01-01", None, False),  # a future start is not active yet
        ("2020-01-01", "2024-12-31", False),
        (None, "2025-06-01", True),
        ("2025-06-01", "2025-06-01", True),
    ],
)
def test_in_window(start, end, inside):
    assert filters.in_window(date(2025, 6, 1), start, end) is inside


@pytest.mark.parametrize(
    ("raw", "parts"),
    [
        ("van den Berg", ["van den", "Berg"]),
        ("van Dijk", ["van", "Dijk"]),
        ("op 't Veld", ["op 't", "Veld"]),
        ("d'Hondt", ["d'", "Hondt"]),
        ("Van Damme", ["", "Van Damme"]),  # capitalised: part of the surname
        ("El Amrani", ["", "El Amrani"]),
        ("de", ["", "de"]),  # a prefix alone is not split off nothing
        ("  ter   Horst ", ["ter", "Horst"]),
        (None, ["", ""]),
    ],
)
def test_split_surname(raw, parts):
    assert filters.split_surname(raw) == parts


def test_translate_where_flatten():
    table = {"0": "B", "MALE": "M"}
    assert filters.translate("0", table) == "B"
    assert filters.translate("male", table) == "M"  # case-insensitive fallback
    assert filters.translate("9", table, "B") == "B"
    assert filters.translate("9", table) == "9"
    mails = [{"type": "Private", "address": "p@x"}, {"Type": "Business", "address": "b@x"}]
    assert filters.where(mails, type="Business") == [mails[1]]
    assert filters.where({"results": mails}, type="Private") == [mails[0]]
    assert filters.where(None, type="x") == []
    assert filters.flatten([[1, 2], {"results": [3]}, 4, None]) == [1, 2, 3, 4]


def test_where_on_a_nested_field_and_get():
    fields = [{"nameCode": {"codeValue": "partnerName"}, "stringValue": "Vries"}, {"nameCode": None}]
    assert filters.where(fields, "nameCode.codeValue", "partnerName") == [fields[0]]
    record = {"person": {"genderCode": {"codeValue": "MALE"}, "nick": None}}
    assert filters.get(record, "person.genderCode.codeValue") == "MALE"
    assert filters.get(record, "Person.GenderCode.codevalue") == "MALE"  # keys case-insensitive
    assert filters.get(record, "person.missing.codeValue", "") == ""
    assert filters.get(record, "person.nick", "-") == "-"
    with pytest.raises(TypeError):
        filters.where(fields, "only-a-path")
