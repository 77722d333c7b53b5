"""`--layer-map ARN=PATH` matched to the layer ARNs a template names, and the keys that match none.

A key matches a layer ARN when it is the same ARN once its `${AWS::Region}` and
`${AWS::AccountId}` placeholders (written literally in the key) are the app's region and account;
else when the two differ only in their region field (a key written for one region, a template
resolved for another: `!Sub arn:aws:lambda:${AWS::Region}:...`), which is said. A key that
matches no layer is said too, with the closest ARN the template names: it is a typo, or an ARN
of another layer version, more often than something meant to be unused.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

REGION = "${AWS::Region}"
ACCOUNT = "${AWS::AccountId}"
_REGION_FIELD = 3  # arn:PARTITION:lambda:REGION:ACCOUNT:layer:NAME:VERSION


def concrete(key: str, region: str, account_id: str) -> str:
    """The key with its placeholders replaced by the app's region and account."""
    return key.replace(REGION, region).replace(ACCOUNT, account_id)


def differ_in_region_only(one: str, other: str) -> bool:
    a, b = one.split(":"), other.split(":")
    return (
        len(a) == len(b) > _REGION_FIELD + 1
        and a[_REGION_FIELD] != b[_REGION_FIELD]
        and a[:_REGION_FIELD] == b[:_REGION_FIELD]
        and a[_REGION_FIELD + 1 :] == b[_REGION_FIELD + 1 :]
    )


def mapped(
    layer_map: Mapping[str, str], arn: str, region: str, account_id: str
) -> tuple[str, str, str | None] | None:
    """(key, path, warning or None) of the --layer-map entry for `arn`: one that is `arn` (its
    placeholders resolved) first, else one that differs from it only in its region."""
    for key, path in layer_map.items():
        if concrete(key, region, account_id) == arn:
            return key, path, None
    for key, path in layer_map.items():
        if differ_in_region_only(concrete(key, region, account_id), arn):
            given = concrete(key, region, account_id).split(":")[_REGION_FIELD]
            warning = (
                f"--layer-map {key} (region {given}) provides {arn} "
                f"(region {arn.split(':')[_REGION_FIELD]}): the two differ only in their region"
            )
            return key, path, warning
    return None


def unused(
    layer_map: Mapping[str, str], arns: Iterable[str], region: str, account_id: str
) -> list[str]:
    """A warning for each key that matches none of `arns` (the layers the app names by ARN
    only), naming the closest of them."""
    named = sorted(set(arns))
    warnings = []
    for key in layer_map:
        if any(mapped({key: ""}, arn, region, account_id) for arn in named):
            continue
        close = difflib.get_close_matches(concrete(key, region, account_id), named, 1, 0.5)
        hint = (
            f"the closest layer ARN the template names is {close[0]}"
            if close
            else "the template names no such layer"
            if named
            else "the template names no layer by ARN"
        )
        warnings.append(f"--layer-map {key} matches no layer of the app and is not used: {hint}")
    return warnings
