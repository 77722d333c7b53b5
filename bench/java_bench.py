"""Benchmark rows for Java functions (issue 22), on the machine's JDK and samrun's Java runtime
client: `bench cold`'s cold start (the first call of a fresh no-op java17 function, through the
Lambda API on a keep-alive connection, beside the JVM's own start, `java -version`, measured in
the same run) and `bench invoke`'s warm p50/p99 of sequential calls of one no-op function at
1769 MB. Java has no spare JVMs: every cold start spawns a `java`.

`python -m bench.java_bench` runs only these rows.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

from bench.invoke_bench import launch, percentile, warm_latency
from samrun.runtime.java import choose, find_jdks

COLD_ROUNDS = 15
RUNTIME = "java17"
NOOP_JAVA = (
    "package bench;\n"
    "import java.util.Map;\n"
    "public class Noop {\n"
    "    public static String handle(Map<String, Object> event) { return null; }\n"
    "}\n"
)


def template(functions: int) -> str:
    lines = ["Transform: AWS::Serverless-2016-10-31", "Resources:"]
    for i in range(functions):
        lines += [
            f"  Jv{i}:",
            "    Type: AWS::Serverless::Function",
            "    Properties:",
            f"      Runtime: {RUNTIME}",
            "      Handler: bench.Noop::handle",
            "      CodeUri: classes/",
            "      MemorySize: 1769",
        ]
    return "\n".join(lines) + "\n"


def serve(folder: Path, functions: int, javac: Path) -> tuple[subprocess.Popen[str], str]:
    """`samrun up` of `functions` no-op Java functions: the process and its Lambda API."""
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "Noop.java").write_text(NOOP_JAVA)
    argv = [str(javac), "-d", str(folder / "classes"), str(folder / "src" / "Noop.java")]
    subprocess.run(argv, check=True)
    (folder / "template.yaml").write_text(template(functions))
    return launch(folder, "--max-sandboxes", str(functions + 4))


def url(endpoint: str, name: str) -> str:
    return f"{endpoint}/2015-03-31/functions/{name}/invocations"


async def first_calls(endpoint: str, rounds: int) -> list[float]:
    samples = []
    async with aiohttp.ClientSession() as session:
        for i in range(rounds + 1):  # Jv0: the connection and samrun's caches, not counted
            began = time.perf_counter()
            async with session.post(url(endpoint, f"Jv{i}"), data=b"{}") as response:
                await response.read()
                assert response.status == 200, response.status
            samples.append((time.perf_counter() - began) * 1000)
    return samples[1:]


def bare_java_ms(java: Path, runs: int = 10) -> float:
    """The JVM's own start and exit: `java -version`."""
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run([str(java), "-version"], check=True, capture_output=True)
        samples.append((time.perf_counter() - began) * 1000)
    return round(statistics.median(samples), 1)


def jdk() -> tuple[Path, Path, int] | None:
    """The JDK samrun runs java17 on here (java, javac, major), or None."""
    found = choose(RUNTIME, find_jdks(os.environ))
    javac = shutil.which("javac")
    if found is None or javac is None:
        return None
    return found.java, Path(javac), found.major


def cold_starts(rounds: int = COLD_ROUNDS) -> dict[str, Any]:
    """`bench cold`'s Java row."""
    found = jdk()
    if found is None:
        return {"skipped": "no JDK (java and javac) on this machine"}
    java, javac, major = found
    with tempfile.TemporaryDirectory() as tmp:
        process, endpoint = serve(Path(tmp), rounds + 1, javac)
        try:
            samples = uvloop.run(first_calls(endpoint, rounds))
        finally:
            process.terminate()
            process.wait(30)
    return {
        "jdk": major,
        "functions": rounds,
        "p50_ms": round(statistics.median(samples), 1),
        "p90_ms": round(percentile(samples, 0.9), 1),
        "min_ms": round(min(samples), 1),
        "bare_java_version_ms": bare_java_ms(java),
    }


def warm() -> dict[str, Any]:
    """`bench invoke`'s Java row: warm latency of one no-op java17 function at 1769 MB."""
    found = jdk()
    if found is None:
        return {"skipped": "no JDK (java and javac) on this machine"}
    java, javac, major = found
    with tempfile.TemporaryDirectory() as tmp:
        process, endpoint = serve(Path(tmp), 1, javac)
        try:
            figures = uvloop.run(warm_latency(url(endpoint, "Jv0")))
        finally:
            process.terminate()
            process.wait(30)
    return {
        "jdk": major,
        **{k: round(v, 3) for k, v in figures.items()},
        "bare_java_version_ms": bare_java_ms(java),
    }


if __name__ == "__main__":
    print(json.dumps({"java17_cold_start": cold_starts(), "java17_warm": warm()}, indent=2))
