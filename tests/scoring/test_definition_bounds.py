"""Scripts and forms refuse values that would break every call they are used on: NaN or
infinite weights, zero weights, ids that are not slugs, unbounded phrases."""

import json
import math
from pathlib import Path

import pytest

from scoring.forms import FormError, parse_form
from scoring.script import ScriptError, load_script, parse_script

VALID = {
    "id": "billing-inbound",
    "name": "Billing",
    "language": "en",
    "key_points": [
        {"id": "greeting", "phrases": ["hello"], "weight": 2, "within_seconds": 30},
        {"id": "close", "phrases": ["bye"], "after": ["greeting"]},
    ],
    "forbidden": [{"id": "rude", "phrases": ["calm down"]}],
}


def script_with(where: str, key: str, value: object) -> dict:
    data = json.loads(json.dumps(VALID))
    target = data if where == "" else data[where.split(".")[0]][int(where.split(".")[1])]
    target[key] = value
    return data


@pytest.mark.parametrize(
    ("where", "key", "value", "field", "message"),
    [
        ("key_points.0", "weight", math.nan, "key_points[0].weight", "finite number above 0"),
        ("key_points.0", "weight", math.inf, "key_points[0].weight", "finite number above 0"),
        ("key_points.0", "weight", 0, "key_points[0].weight", "finite number above 0"),
        ("key_points.0", "weight", -1, "key_points[0].weight", "finite number above 0"),
        ("key_points.0", "weight", 10**400, "key_points[0].weight", "finite number above 0"),
        ("key_points.0", "weight", "2", "key_points[0].weight", "must be a number"),
        ("key_points.0", "within_seconds", math.nan, "key_points[0].within_seconds", "finite"),
        ("key_points.0", "within_seconds", 0, "key_points[0].within_seconds", "above 0"),
        ("key_points.0", "within_seconds", 86401, "key_points[0].within_seconds", "86400 or"),
        ("key_points.0", "id", "has space", "key_points[0].id", "is not an id"),
        ("key_points.0", "id", "-dash-first", "key_points[0].id", "is not an id"),
        ("key_points.0", "id", "x" * 65, "key_points[0].id", "is not an id"),
        ("key_points.0", "id", "../etc", "key_points[0].id", "is not an id"),
        ("forbidden.0", "id", "rude!", "forbidden[0].id", "is not an id"),
        ("", "id", "billing inbound", "id", "is not an id"),
        ("key_points.0", "phrases", ["x" * 201], "key_points[0].phrases[0]", "longer than 200"),
        ("key_points.0", "phrases", ["a"] * 101, "key_points[0].phrases", "more than 100"),
        ("key_points.0", "phrases", ["hi\x00"], "key_points[0].phrases[0]", "U+0000"),
        ("key_points.0", "label", "x" * 301, "key_points[0].label", "longer than 300"),
        ("key_points.1", "after", ["nobody"], "key_points[1].after[0]", "not another key"),
        ("", "courtesy", {"polite": []}, "courtesy.polite", "non-empty list"),
    ],
)
def test_script_values_out_of_bounds_name_the_field(
    where: str, key: str, value: object, field: str, message: str
) -> None:
    with pytest.raises(ScriptError) as info:
        parse_script(script_with(where, key, value), source="s.yaml")
    assert (info.value.source, info.value.field) == ("s.yaml", field)
    assert message in info.value.message


def test_script_at_the_bounds_is_accepted() -> None:
    data = script_with("key_points.0", "id", "A." + "b" * 62)
    data["key_points"][0] |= {"weight": 1e-3, "within_seconds": 86400, "phrases": ["p" * 200]}
    data["key_points"][1]["after"] = ["A." + "b" * 62]
    script = parse_script(data)
    assert script.key_points[0].weight == 1e-3


def test_yaml_nan_weight_is_refused_with_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "id: s\nlanguage: en\nkey_points:\n  - id: a\n    phrases: [hi]\n    weight: .nan\n",
        encoding="utf-8",
    )
    with pytest.raises(ScriptError) as info:
        load_script(path)
    assert (info.value.source, info.value.field) == (str(path), "key_points[0].weight")


def test_deeply_nested_file_is_refused_not_crashed(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(ScriptError) as info:
        load_script(path)
    assert info.value.field == "(file)"


FORM = {
    "id": "standard",
    "name": "Standard",
    "sections": [
        {"id": "opening", "weight": 1, "items": [{"id": "greet", "weight": 2}]},
    ],
}


def form_with(key: str, value: object, *, item: bool = True) -> dict:
    data = json.loads(json.dumps(FORM))
    target = data["sections"][0]["items"][0] if item else data["sections"][0]
    target[key] = value
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (form_with("weight", math.nan), "sections[0].items[0].weight: expected a finite number"),
        (form_with("weight", math.inf), "sections[0].items[0].weight: expected a finite number"),
        (form_with("weight", 0), "sections[0].items[0].weight: expected a finite number above 0"),
        (form_with("deduction", math.nan), "sections[0].items[0].deduction: expected a finite"),
        (form_with("deduction", 101), "sections[0].items[0].deduction: must be 100 or less"),
        (form_with("weight", math.nan, item=False), "sections[0].weight: expected a finite"),
        (form_with("id", "has space"), "sections[0].items[0].id: 'has space' is not an id"),
        (form_with("key_point", 7), "sections[0].items[0].key_point: 7 is not an id"),
        (form_with("label", "x" * 301), "sections[0].items[0].label: expected a text"),
        ({"sections": ["opening"]}, "sections[0]: expected an object"),
        ({"sections": [{"items": ["greet"]}]}, "sections[0].items[0]: expected an object"),
        ({"sections": [{"items": {"id": "x"}}]}, "sections[0].items: expected a non-empty"),
    ],
)
def test_form_values_out_of_bounds_name_the_field(data: dict, message: str) -> None:
    with pytest.raises(FormError) as info:
        parse_form(data)
    assert message in str(info.value)


def test_valid_form_still_parses() -> None:
    form = parse_form(FORM)
    assert form.items()["greet"].weight == 2
