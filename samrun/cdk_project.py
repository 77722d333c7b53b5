"""A CDK project (a folder with `cdk.json`): its stacks' templates, from what `cdk synth` wrote.

samrun runs the synthesised CloudFormation, never the CDK app: `cdk.out/manifest.json` lists
each stack (an artifact of type `aws:cloudformation:stack`) and its template file.
"""

from __future__ import annotations

import json
from pathlib import Path

from samrun.errors import SamrunError

STACK_TYPE = "aws:cloudformation:stack"


def is_cdk_project(folder: Path) -> bool:
    return (folder / "cdk.json").is_file()


def stacks(cloud_assembly: Path) -> dict[str, Path]:
    """Each stack's name (its artifact id) and template, as `manifest.json` lists them."""
    manifest = cloud_assembly / "manifest.json"
    try:
        document = json.loads(manifest.read_text())
    except (OSError, ValueError) as exc:
        raise SamrunError(f"{manifest}: cannot read it ({exc})") from None
    artifacts = document.get("artifacts") if isinstance(document, dict) else None
    found: dict[str, Path] = {}
    for name, artifact in (artifacts or {}).items():
        if not isinstance(artifact, dict) or artifact.get("type") != STACK_TYPE:
            continue
        template = (artifact.get("properties") or {}).get("templateFile")
        if isinstance(template, str):
            found[str(artifact.get("displayName") or name)] = cloud_assembly / template
    return found


def stack_template(project: Path, stack: str | None) -> Path:
    """The template of `stack` (the only one when not named) in `project`'s cdk.out."""
    out = _output_folder(project)
    if not (out / "manifest.json").is_file():
        raise SamrunError(
            f"{project / 'cdk.json'}: a CDK app, but {out} has no manifest.json: run `cdk synth` "
            "first (samrun runs what it writes)"
        )
    return assembly_template(out, stack)


def assembly_template(out: Path, stack: str | None) -> Path:
    """The template of `stack` (the only one when not named) in the cloud assembly `out`."""
    found = stacks(out)
    if not found:
        raise SamrunError(f"{out / 'manifest.json'}: no stacks; run `cdk synth` first")
    if stack is not None:
        if stack in found:
            return found[stack]
        by_id = [p for p in found.values() if p.name == f"{stack}.template.json"]
        if len(by_id) == 1:
            return by_id[0]
        raise SamrunError(f"--stack {stack}: no such stack in {out} (it has: {', '.join(found)})")
    if len(found) > 1:
        raise SamrunError(
            f"{out} has several stacks: name one with --stack NAME ({', '.join(sorted(found))})"
        )
    return next(iter(found.values()))


def _output_folder(project: Path) -> Path:
    """cdk.json's `output` (default cdk.out), relative to the project."""
    try:
        settings = json.loads((project / "cdk.json").read_text())
    except (OSError, ValueError):
        settings = {}
    output = settings.get("output") if isinstance(settings, dict) else None
    return project / (output if isinstance(output, str) and output else "cdk.out")
