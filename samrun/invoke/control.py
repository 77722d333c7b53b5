"""The control plane's moving parts, bundled for the Lambda API: what it reads and changes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from samrun.invoke.aliases import AliasBook
from samrun.invoke.deployments import Deployer
from samrun.invoke.gate import ConcurrencyGate
from samrun.invoke.invoker import Invoker
from samrun.invoke.provisioned import ProvisionedConcurrency
from samrun.invoke.resolve import FunctionDirectory
from samrun.invoke.versions import VersionPublisher


@dataclass(frozen=True, slots=True, kw_only=True)
class Control:
    invoker: Invoker
    directory: FunctionDirectory
    gate: ConcurrencyGate
    versions: VersionPublisher
    aliases: AliasBook
    provisioned: ProvisionedConcurrency
    deployer: Deployer

    @classmethod
    def create(cls, invoker: Invoker, state_dir: Path, time_scale: float) -> Control:
        directory = invoker.directory
        aliases = AliasBook(directory)
        return cls(
            invoker=invoker,
            directory=directory,
            gate=invoker.gate,
            versions=VersionPublisher(directory, state_dir),
            aliases=aliases,
            provisioned=ProvisionedConcurrency(directory, invoker.pools),
            deployer=Deployer(aliases, invoker, time_scale),
        )
