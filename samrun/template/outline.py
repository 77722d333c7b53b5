"""The outline every template must have before anything walks it: each section a mapping, each
resource a mapping with a string `Type` and mapping `Properties`.

cfn-lint, the SAM transform and samrun's converters all assume this outline and crash without
it (`Resources: 5`), so `load_graph` and `validate` check it first and stop at what it finds.
"""

from __future__ import annotations

from typing import Any

from samrun.errors import TemplateError
from samrun.template.loader import LoadedTemplate

MAPPING_SECTIONS = (
    "Metadata",
    "Parameters",
    "Rules",
    "Mappings",
    "Conditions",
    "Globals",
    "Resources",
    "Outputs",
)


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    return repr(value)


def outline_errors(loaded: LoadedTemplate) -> list[TemplateError]:
    """Every break in the template's outline, each located; empty when the outline holds."""
    data, errors = loaded.data, []
    for section in MAPPING_SECTIONS:
        value = data.get(section)
        if value is not None and not isinstance(value, dict):
            errors.append(
                TemplateError(
                    f"{section} must be a mapping, not {_kind(value)}",
                    loaded.locate((section,)),
                    "template",
                )
            )
    globals_ = data.get("Globals")
    for name, value in globals_.items() if isinstance(globals_, dict) else ():
        if value is not None and not isinstance(value, dict):
            message = f"Globals.{name} must be a mapping, not {_kind(value)}"
            errors.append(TemplateError(message, loaded.locate(("Globals", name)), "template"))
    resources = data.get("Resources")
    if not isinstance(resources, dict):
        if resources is None:
            message = "the template has no Resources"
            errors.append(TemplateError(message, loaded.locate(()), "template"))
        return errors
    for logical_id, resource in resources.items():
        errors += _resource_errors(loaded, str(logical_id), resource)
    return errors


def _resource_errors(loaded: LoadedTemplate, logical_id: str, resource: Any) -> list[TemplateError]:
    where = ("Resources", logical_id)
    if not isinstance(resource, dict):
        message = f"resource {logical_id} must be a mapping with a Type, not {_kind(resource)}"
        return [TemplateError(message, loaded.locate(where), "template")]
    errors = []
    kind = resource.get("Type")
    if not isinstance(kind, str):
        message = f"resource {logical_id}: Type must be a text such as AWS::Lambda::Function"
        errors.append(TemplateError(message, loaded.locate((*where, "Type")), "template"))
    properties = resource.get("Properties")
    if properties is not None and not isinstance(properties, dict):
        message = f"resource {logical_id}: Properties must be a mapping, not {_kind(properties)}"
        errors.append(TemplateError(message, loaded.locate((*where, "Properties")), "template"))
    return errors


def check_outline(loaded: LoadedTemplate) -> None:
    """Raise the first break in the template's outline, located."""
    errors = outline_errors(loaded)
    if errors:
        raise errors[0]
