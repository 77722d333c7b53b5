"""Function names as the Lambda API accepts them: name, partial ARN or ARN, each with an
optional qualifier."""

from __future__ import annotations

import re
from dataclasses import dataclass

from samrun.errors import InvalidParameterValue, ValidationError

FUNCTION_REF = re.compile(
    r"^(?:arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):)?"
    r"(?:(?P<account>\d{12}):function:)?"
    r"(?P<name>[a-zA-Z0-9-_.]+)"
    r"(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9-_]+))?$"
)


QUALIFIER = re.compile(r"^[a-zA-Z0-9$_-]{1,128}$")
MAX_NAME = 64  # a function's own name; a full ARN may be up to 170 characters
MAX_REF = 170


@dataclass(frozen=True, slots=True)
class FunctionRef:
    name: str
    qualifier: str | None
    region: str | None
    account: str | None


def parse_function_ref(text: str, qualifier: str | None = None) -> FunctionRef:
    """Parse `text`; a qualifier in the name and the Qualifier parameter must agree."""
    match = FUNCTION_REF.match(text)
    if len(text) > MAX_REF:
        raise ValidationError(_invalid("functionName", text, f"have length at most {MAX_REF}"))
    if match is None:
        raise ValidationError(
            _invalid(
                "functionName",
                text,
                "satisfy regular expression pattern: "
                r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?"
                r"(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?",
            )
        )
    if len(match["name"]) > MAX_NAME:
        raise ValidationError(
            _invalid("functionName", text, f"have a function name of at most {MAX_NAME} characters")
        )
    if qualifier is not None and not QUALIFIER.match(qualifier):
        raise ValidationError(
            _invalid(
                "qualifier",
                qualifier,
                "have length 1-128 and satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)",
            )
        )
    in_name = match["qualifier"]
    if in_name and qualifier and in_name != qualifier:
        raise InvalidParameterValue(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    return FunctionRef(match["name"], in_name or qualifier, match["region"], match["account"])


def _invalid(field: str, value: str, constraint: str) -> str:
    """Lambda's wording for a value that breaks a constraint of its API model."""
    return (
        f"1 validation error detected: Value '{value[:256]}' at '{field}' failed to satisfy "
        f"constraint: Member must {constraint}"
    )


def function_arn(region: str, account: str, name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn
