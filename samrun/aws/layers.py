"""Layers an app names only by ARN (a public layer such as Powertools), downloaded from AWS.

Only with --aws-profile: GetLayerVersion (the layer's ARN and version number, in the layer's own
region; the same answer as GetLayerVersionByArn, which moto and other endpoints lack) gives a
presigned URL to the layer's zip, which is saved once in the state folder (keyed by the ARN, as a
published layer version never changes) and used as the layer's content.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import urllib.request
from dataclasses import replace
from pathlib import Path

from samrun.aws.endpoint import AwsEndpoint
from samrun.model import AppGraph, Code, FunctionConfig, is_unresolved

logger = logging.getLogger(__name__)
DOWNLOAD_TIMEOUT_S = 120


def _download(endpoint: AwsEndpoint, arn: str, target: Path) -> None:
    layer, _, version = arn.rpartition(":")
    parts = arn.split(":")
    region = parts[3] if len(parts) > 3 and parts[3] else endpoint.region
    lambda_client = endpoint.client("lambda", region=region)
    reply = lambda_client.get_layer_version(LayerName=layer, VersionNumber=int(version))
    location = reply["Content"]["Location"]
    partial = target.with_suffix(".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(location, timeout=DOWNLOAD_TIMEOUT_S) as response:
        partial.write_bytes(response.read())
    partial.replace(target)


async def fetch_remote_layers(endpoint: AwsEndpoint, graph: AppGraph, state_dir: Path) -> AppGraph:
    """`graph` with each ARN-only layer's content downloaded; a failure is logged, and the
    layer stays in the "not run locally" list."""
    wanted = {
        ref.arn
        for config in [f.config for f in graph.functions] + [v.config for v in graph.versions]
        for ref in config.layers
        if ref.code is None and not is_unresolved(ref.arn)
    }
    found: dict[str, Code] = {}
    for arn in sorted(wanted):
        key = hashlib.sha256(arn.encode()).hexdigest()[:24]
        target = state_dir / "remote-layers" / f"{key}.zip"
        if not target.exists():
            try:
                await asyncio.to_thread(_download, endpoint, arn, target)
            except Exception as exc:  # botocore and urllib errors alike: report, run without it
                logger.warning("layer %s: could not download it: %s", arn, exc)
                continue
            logger.info("layer %s: downloaded to %s", arn, target)
        found[arn] = Code(path=str(target))
    if not found:
        return graph

    def config(c: FunctionConfig) -> FunctionConfig:
        layers = tuple(
            replace(ref, code=found[ref.arn]) if ref.arn in found else ref for ref in c.layers
        )
        return replace(c, layers=layers)

    return replace(
        graph,
        functions=tuple(replace(f, config=config(f.config)) for f in graph.functions),
        versions=tuple(replace(v, config=config(v.config)) for v in graph.versions),
        not_run=tuple(n for n in graph.not_run if not (n.what == "layer" and n.name in found)),
    )
