"""What `samrun smoke` prints as it runs, and the JUnit XML CI systems display."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

PASS, FAIL = "PASS", "FAIL"


@dataclass(slots=True)
class Result:
    name: str
    group: str  # template | resources | functions | checks
    passed: bool
    duration_s: float
    problems: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)


class Report:
    def __init__(self, suite: str, out: TextIO | None = None) -> None:
        self.suite = suite
        self.out = out or sys.stdout
        self.results: list[Result] = []

    def add(self, result: Result) -> None:
        """One line per check as it ends; on failure its problems and the log tail under it."""
        self.results.append(result)
        mark = PASS if result.passed else FAIL
        lines = [f"{mark}  {result.name}  ({result.duration_s:.2f} s)"]
        if not result.passed:
            lines += [f"      {problem}" for problem in result.problems]
            if result.log:
                lines.append("      log:")
                lines += [f"        {line}" for line in result.log]
        print("\n".join(lines), file=self.out, flush=True)

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if not r.passed]

    def summary(self, wall_s: float, cost: str) -> str:
        passed = len(self.results) - len(self.failed)
        line = f"smoke: {passed} passed, {len(self.failed)} failed in {wall_s:.2f} s"
        return f"{line}; {cost}" if cost else line

    def junit(self, path: Path, wall_s: float) -> None:
        """JUnit XML: one testsuite, one testcase per check, a <failure> for each that failed."""
        suites = ET.Element("testsuites", name="samrun smoke")
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=self.suite,
            tests=str(len(self.results)),
            failures=str(len(self.failed)),
            errors="0",
            skipped="0",
            time=f"{wall_s:.3f}",
        )
        for result in self.results:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"smoke.{result.group}",
                name=result.name,
                time=f"{result.duration_s:.3f}",
            )
            if not result.passed:
                failure = ET.SubElement(
                    case, "failure", message=(result.problems or ["failed"])[0][:500]
                )
                failure.text = "\n".join([*result.problems, *result.log])
            if result.log:
                ET.SubElement(case, "system-out").text = "\n".join(result.log)
        suites.set("tests", str(len(self.results)))
        suites.set("failures", str(len(self.failed)))
        path.parent.mkdir(parents=True, exist_ok=True)
        ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
