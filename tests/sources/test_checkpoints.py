"""Stream checkpoints are saved from a thread per shard: saves that overlap must all land."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from samrun.sources.streams import Checkpoints


def test_shards_checkpointing_at_once_all_land(tmp_path: Path) -> None:
    checkpoints = Checkpoints(tmp_path / "sources" / "mapping.json")

    def advance(shard: int) -> None:
        for sequence in range(1, 201):
            checkpoints.advance(f"shardId-{shard:012d}", str(sequence))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(advance, range(8)))  # re-raises what a save raised

    saved = json.loads((tmp_path / "sources" / "mapping.json").read_text())
    assert saved == {f"shardId-{shard:012d}": "200" for shard in range(8)}
    assert Checkpoints(tmp_path / "sources" / "mapping.json").done == saved
    assert [p.name for p in (tmp_path / "sources").iterdir()] == ["mapping.json"]
