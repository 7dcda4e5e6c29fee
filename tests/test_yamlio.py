import pytest

from scmapper.errors import MappingError
from scmapper.mapping.yamlio import MAX_BYTES, load_bytes, load_text


def problems(text):
    with pytest.raises(MappingError) as caught:
        load_text(text, "m.yaml")
    return [str(p) for p in caught.value.problems]


def test_positions_of_values_and_keys():
    doc = load_text("a:\n  b: [1, {c: x}]\n", "m.yaml")
    assert doc.data == {"a": {"b": [1, {"c": "x"}]}}
    assert doc.position(("a", "b", 1, "c")) == (2, 14)
    assert doc.position(("a", "b"), key=True) == (2, 3)
    assert doc.position(("a", "missing", 3)) == (2, 3)  # nearest ancestor


def test_syntax_error_is_located():
    assert problems("a: [1, 2\nb: 3\n") == [
        "m.yaml:1:4: YAML syntax error: the '[' here is not closed where YAML expects it: end it with ']' before"
        " line 2 (or, if it is text, put the whole value in quotes)"
    ]


def test_duplicate_keys_are_refused():
    assert problems("a: 1\nb: 2\na: 3\n") == ["m.yaml:3:1: duplicate key 'a'"]


def test_python_tags_are_refused():
    found = problems("a: !!python/object/apply:os.system ['echo hi']\n")
    assert found == [
        "m.yaml:1:4: tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed in a mapping file"
    ]


def test_python_scalar_tags_are_refused():
    assert problems("a: !!python/name:os.system ''\n")[0].startswith("m.yaml:1:4: cannot read value")


def test_alias_bomb_is_refused():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [
        f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]"
        for i in range(1, 9)
    ]
    found = problems("\n".join(lines) + "\n")
    assert "aliases expand too far" in found[-1]


def test_recursive_alias_is_refused():
    assert "nesting deeper" in problems("a: &a [*a]\n")[-1]


def test_merge_keys_are_refused():
    assert problems("base: &b {x: 1}\nc:\n  <<: *b\n") == [
        "m.yaml:3:3: merge keys ('<<') are not supported; write the keys out"
    ]


def test_empty_and_oversized_files():
    assert problems("") == ["m.yaml:1:1: file is empty"]
    with pytest.raises(MappingError, match="larger than"):
        load_bytes(b"#" * (MAX_BYTES + 1), "m.yaml")
    with pytest.raises(MappingError, match="not valid UTF-8"):
        load_bytes(b"a: \xff\n", "m.yaml")


def test_dates_stay_text_and_keys_are_taken_as_written():
    doc = load_text("d: 2021-01-01\n0: B\ntrue: x\n", "m.yaml")
    assert doc.data == {"d": "2021-01-01", "0": "B", "true": "x"}


def test_a_number_of_thousands_of_digits_is_a_problem_not_a_crash():
    assert problems(f"a: 1\nb: {'9' * 5000}\n") == [
        "m.yaml:2:4: number of 5000 characters is too long; quote it if it is text"
    ]
    assert load_text(f"b: '{'9' * 5000}'\n", "m.yaml").data == {"b": "9" * 5000}


@pytest.mark.parametrize("character", ["\x00", "\x01", "\x1b", "\ufffe"])
def test_a_character_yaml_refuses_is_located_not_a_crash(character):
    assert problems(f"a: 1\nb: x{character}y\n") == [
        f"m.yaml:2:5: character U+{ord(character):04X} is not allowed in a YAML file (a control or non-character):"
        " remove it"
    ]


def test_a_block_scalar_is_placed_at_its_first_line_of_text():
    doc = load_text("a:\n  b: |\n    one\n    two\n  c: >-\n\n      three\n", "m.yaml")
    assert doc.position(("a", "b")) == (3, 5)  # line 1 of its text; the template's line N is 3 + N - 1
    assert doc.position(("a", "c")) == (6, 7)  # a blank first line counts as the text's line 1


def test_a_second_document_is_named_in_plain_words():
    assert problems("a: 1\n---\nb: 2\n") == [
        "m.yaml:2:1: YAML syntax error: a second YAML document ('---'): a file holds one mapping; remove this line"
    ]
