"""The warm path across commits, in one run: `python -m bench.across_commits BASE [MORE...]`
starts one `samrun up` of a no-op Python function per commit (a `git worktree` of each, and the
working tree as `head`) and measures their warm p50/p99 in rounds that rotate the order, so a
change's cost on the invoke path is measured against what came before it on the same machine
at the same time (the before-and-after the house rules ask for)."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.invoke_bench import NOOP, lambda_url, launch, template

ROUNDS = 15
CALLS = 300
HERE = Path(__file__).resolve().parent.parent


async def calls(url: str, count: int) -> list[float]:
    samples = []
    async with aiohttp.ClientSession() as session:
        for _ in range(count):
            began = time.perf_counter()
            async with session.post(url, data=b"{}") as response:
                await response.read()
            samples.append((time.perf_counter() - began) * 1000)
    return samples


def run(commits: list[str]) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"head": HERE}
        for commit in commits:
            tree = Path(tmp) / f"tree-{commit}"
            subprocess.run(
                ["git", "-C", str(HERE), "worktree", "add", "-q", str(tree), commit], check=True
            )
            trees[commit] = tree
        processes = []
        urls: dict[str, str] = {}
        try:
            for name, tree in trees.items():
                folder = Path(tmp) / f"app-{name}"
                (folder / "src").mkdir(parents=True)
                (folder / "src" / "app.py").write_text(NOOP)
                (folder / "template.yaml").write_text(template(1))
                process, endpoint = launch(folder, env={**os.environ, "PYTHONPATH": str(tree)})
                processes.append(process)
                urls[name] = lambda_url(endpoint)
            samples: dict[str, list[float]] = {name: [] for name in trees}
            for url in urls.values():
                asyncio.run(calls(url, 200))  # warm: the instance, the connection
            names = list(trees)
            for i in range(ROUNDS):
                for name in names[i % len(names) :] + names[: i % len(names)]:
                    samples[name] += asyncio.run(calls(urls[name], CALLS))
        finally:
            for process in processes:
                process.terminate()
                process.wait(30)
            for commit in commits:
                subprocess.run(
                    ["git", "-C", str(HERE), "worktree", "remove", "--force", str(trees[commit])],
                    check=False,
                )
        return {
            name: {
                "p50_ms": round(statistics.median(s), 3),
                "p99_ms": round(sorted(s)[int(0.99 * len(s))], 3),
                "calls": len(s),
            }
            for name, s in samples.items()
        }


if __name__ == "__main__":
    import json

    print(json.dumps(run(sys.argv[1:]), indent=2))
