"""The SAM transform of an unchanged template is read back from the state folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from samrun.plan import plan_document
from samrun.template import load_graph

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "templates" / "orders-api" / "template.yaml"
PROBE = """
import json, sys
from pathlib import Path
from samrun.plan import plan_document
from samrun.template import load_graph
graph = load_graph(Path(sys.argv[1]), cache_dir=Path(sys.argv[2]))
print(json.dumps({"plan": plan_document(graph), "ran_transform": "samtranslator" in sys.modules}))
"""


def probe(cache: Path, template: Path = TEMPLATE) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(template), str(cache)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout)


def test_an_unchanged_template_skips_the_transform(tmp_path: Path) -> None:
    first, second = probe(tmp_path), probe(tmp_path)
    assert first["ran_transform"] is True
    assert second["ran_transform"] is False
    assert second["plan"] == first["plan"] == plan_document(load_graph(TEMPLATE))


def test_a_changed_template_runs_the_transform_again(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "template.yaml").write_text(TEMPLATE.read_text())
    (app / "src").symlink_to(TEMPLATE.parent / "src")
    cache = tmp_path / "cache"
    probe(cache, app / "template.yaml")
    edited = TEMPLATE.read_text().replace("MemorySize: 256", "MemorySize: 384", 1)
    (app / "template.yaml").write_text(edited)
    again = probe(cache, app / "template.yaml")
    assert again["ran_transform"] is True
    assert {f["memory_mb"] for f in again["plan"]["functions"]} == {384}
