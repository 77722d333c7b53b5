"""Which `--layer-map` key provides a layer the app names by ARN (samrun.template.layer_map)."""

from __future__ import annotations

from samrun.template.layer_map import mapped, unused

NAME = "017000801446:layer:AWSLambdaPowertoolsPythonV2:79"
EAST = f"arn:aws:lambda:us-east-1:{NAME}"
WEST = f"arn:aws:lambda:eu-west-1:{NAME}"


def test_the_exact_arn_wins_over_one_for_another_region() -> None:
    layer_map = {WEST: "/west", EAST: "/east"}
    assert mapped(layer_map, EAST, "us-east-1", "123456789012") == (EAST, "/east", None)


def test_a_key_with_placeholders_matches_in_any_region() -> None:
    key = "arn:aws:lambda:${AWS::Region}:017000801446:layer:AWSLambdaPowertoolsPythonV2:79"
    assert mapped({key: "/p"}, WEST, "eu-west-1", "1") == (key, "/p", None)
    own = "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:layer:Mine:3"
    arn = "arn:aws:lambda:eu-west-1:123456789012:layer:Mine:3"
    assert mapped({own: "/m"}, arn, "eu-west-1", "123456789012") == (own, "/m", None)
    assert mapped({own: "/m"}, arn, "eu-west-1", "999999999999") is None  # another account


def test_a_key_for_another_region_matches_with_a_warning() -> None:
    found = mapped({EAST: "/east"}, WEST, "eu-west-1", "1")
    assert found is not None
    key, path, warning = found
    assert (key, path) == (EAST, "/east")
    assert warning == (
        f"--layer-map {EAST} (region us-east-1) provides {WEST} (region eu-west-1): "
        "the two differ only in their region"
    )


def test_other_differences_do_not_match() -> None:
    for arn in (
        EAST.replace(":79", ":80"),  # another version
        EAST.replace("017000801446", "111111111111"),  # another publisher
        EAST.replace("PythonV2", "PythonV3"),
    ):
        assert mapped({WEST: "/w"}, arn, "us-east-1", "1") is None, arn


def test_unused_keys_are_named_with_the_closest_arn() -> None:
    typo = EAST.replace("Powertools", "Powertool")
    assert unused({typo: "/t", EAST: "/e"}, [EAST], "us-east-1", "1") == [
        f"--layer-map {typo} matches no layer of the app and is not used: "
        f"the closest layer ARN the template names is {EAST}"
    ]
    other = "arn:aws:lambda:us-east-1:1:layer:Else:1"
    assert unused({other: "/o"}, [], "us-east-1", "1") == [
        f"--layer-map {other} matches no layer of the app and is not used: "
        "the template names no layer by ARN"
    ]
    assert unused({WEST: "/w"}, [EAST], "us-east-1", "1") == []  # used, with a warning
