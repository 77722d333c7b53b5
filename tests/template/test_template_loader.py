"""The loader: CloudFormation tags, marks, JSON, and the inputs it must refuse quickly."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from samrun.errors import TemplateError
from samrun.template import loader
from samrun.template.loader import load_template, parse_text

LOL_BOMB = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]"
            for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)


def parse(text: str) -> dict:
    return parse_text(text, Path("t.yaml")).data


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("!Ref Foo", {"Ref": "Foo"}),
        ("!GetAtt Foo.Bar", {"Fn::GetAtt": ["Foo", "Bar"]}),
        ("!GetAtt Foo.Bar.Baz", {"Fn::GetAtt": ["Foo", "Bar.Baz"]}),
        ("!GetAtt [Foo, Bar]", {"Fn::GetAtt": ["Foo", "Bar"]}),
        ("!Sub 'x-${A}'", {"Fn::Sub": "x-${A}"}),
        ("!Sub ['x-${A}', {A: 1}]", {"Fn::Sub": ["x-${A}", {"A": 1}]}),
        ("!Join [',', [a, b]]", {"Fn::Join": [",", ["a", "b"]]}),
        ("!If [C, a, b]", {"Fn::If": ["C", "a", "b"]}),
        ("!Equals [a, b]", {"Fn::Equals": ["a", "b"]}),
        ("!Not [!Condition C]", {"Fn::Not": [{"Condition": "C"}]}),
        (
            "!And [!Condition C, !Condition D]",
            {"Fn::And": [{"Condition": "C"}, {"Condition": "D"}]},
        ),
        ("!Or [!Condition C, !Condition D]", {"Fn::Or": [{"Condition": "C"}, {"Condition": "D"}]}),
        ("!Select [0, [a]]", {"Fn::Select": [0, ["a"]]}),
        ("!Split [',', 'a,b']", {"Fn::Split": [",", "a,b"]}),
        ("!FindInMap [M, a, b]", {"Fn::FindInMap": ["M", "a", "b"]}),
        ("!Base64 abc", {"Fn::Base64": "abc"}),
        ("!GetAZs ''", {"Fn::GetAZs": ""}),
        ("!ImportValue shared", {"Fn::ImportValue": "shared"}),
        ("!Cidr [10.0.0.0/16, 2, 8]", {"Fn::Cidr": ["10.0.0.0/16", 2, 8]}),
        ("!Condition C", {"Condition": "C"}),
    ],
)
def test_short_form_tags_become_long_form(source: str, expected: object) -> None:
    assert parse(f"v: {source}")["v"] == expected


def test_dates_stay_text_and_json_templates_load() -> None:
    assert parse("AWSTemplateFormatVersion: 2010-09-09")["AWSTemplateFormatVersion"] == "2010-09-09"
    assert parse_text('{\t"A": {"Ref": "B"}}', Path("t.json")).data == {"A": {"Ref": "B"}}


def test_marks_give_line_and_column_of_keys_and_items() -> None:
    loaded = parse_text(
        "Resources:\n  Fn:\n    Properties:\n      Layers:\n        - a\n        - b\n",
        Path("t.yaml"),
    )
    assert str(loaded.locate(("Resources", "Fn", "Properties"))) == "t.yaml:3:5"
    assert str(loaded.locate(("Resources", "Fn", "Properties", "Layers", 1))) == "t.yaml:6:11"
    assert str(loaded.locate(("Resources", "Fn", "Properties", "Missing"))) == "t.yaml:3:5"


@pytest.mark.parametrize(
    ("text", "message", "where"),
    [
        ("a: !Foo x\n", "unknown tag !Foo", "t.yaml:1:4"),
        ("a: [1, 2\n", "invalid YAML", "t.yaml:2:1"),
        ("a: 1\na: 2\n", "duplicate key 'a'", "t.yaml:2:1"),
        ("- a\n- b\n", "must be a mapping", "t.yaml:1:1"),
        ("", "empty", "t.yaml:1:1"),
    ],
)
def test_broken_yaml_is_one_located_error(text: str, message: str, where: str) -> None:
    with pytest.raises(TemplateError) as caught:
        parse(text)
    assert message in str(caught.value)
    assert str(caught.value.location) == where


def test_billion_laughs_is_refused_in_well_under_a_second() -> None:
    started = time.perf_counter()
    with pytest.raises(TemplateError, match="alias bomb"):
        parse(LOL_BOMB)
    assert time.perf_counter() - started < 0.5


def test_small_aliases_still_work() -> None:
    data = parse("base: &env {A: '1'}\nuse: *env\n")
    assert data["use"] == {"A": "1"}


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(TemplateError, match=r"nested deeper than|invalid YAML"):
        parse("a: " + "[" * 5000 + "]" * 5000)


def test_oversized_file_is_refused_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("a: 1\n" + "# padding\n" * 200)
    monkeypatch.setattr(loader, "MAX_TEMPLATE_BYTES", 1000)
    with pytest.raises(TemplateError, match="up to 0 MB") as caught:
        load_template(path)
    assert caught.value.rule == "size"


def test_missing_file_and_folder_are_template_errors(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="not found"):
        load_template(tmp_path / "nope.yaml")
    with pytest.raises(TemplateError, match="folder"):
        load_template(tmp_path)
