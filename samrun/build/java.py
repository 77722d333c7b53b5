"""Java functions built as `sam build` builds them: Maven (`BuildMethod: maven`, or a pom.xml in
the CodeUri of a java* function) or Gradle (`BuildMethod: gradle`, or a build.gradle(.kts)).

The result has the layout Lambda's Java runtime reads, and `sam build` leaves: the compiled
classes and resources at the root (the `com/...` tree) and the runtime dependencies' jars under
`lib/`. Maven and Gradle write where they run (target/, build/, .gradle/), so the project is
copied into a work folder in the state folder, one per project, kept between builds: Maven's and
Gradle's own up-to-date checks then recompile only what changed (watch mode's rebuilds).

Maven runs as the machine has it (its ~/.m2/settings.xml, mirrors, local repository): `package`
without the tests, then `dependency:copy-dependencies` of the runtime scope, as aws-lambda-builders'
java_maven workflow does (it runs `install`, which also writes into ~/.m2; samrun does not).
Gradle: the project's `gradlew` before the PATH's `gradle`, `build -x test` with an init script
that lays the classes and the runtime classpath's jars out in the build's folder.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from samrun.build import steps
from samrun.build.cache import JAVA_OUTPUT_DIRS, source_files
from samrun.build.items import BuildItem

MAVEN_ARGS = (
    "-q",
    "-B",
    "-DskipTests",
    "package",
    "dependency:copy-dependencies",
    "-DincludeScope=runtime",
    "-Dmdep.prependGroupId=true",
)
# After `build`: the main source set's classes and resources at the root of the folder the
# `samrun.artifacts` property names, and the runtime classpath's jars under lib/ (what
# aws-lambda-builders' init script zips, laid out as a folder).
UNREACHABLE = ("Unknown host", "in offline mode", "Could not transfer artifact")
OFFLINE_HINT = (
    "Maven could not reach a repository for a plugin or dependency; offline, point "
    "~/.m2/settings.xml at one (on Debian: a mirror of file:///usr/share/maven-repo, with the "
    "packages libmaven-compiler-plugin-java, libmaven-resources-plugin-java, "
    "libmaven-jar-plugin-java, libsurefire-java and libmaven-dependency-plugin-java)"
)
GRADLE_INIT = """\
gradle.taskGraph.afterTask { task ->
    if (task.name != 'build' || task.project != task.project.rootProject) {
        return
    }
    def out = new File(System.getProperty('samrun.artifacts'))
    def project = task.project
    project.copy {
        from project.sourceSets.main.output
        into out
    }
    project.copy {
        from project.configurations.runtimeClasspath
        into new File(out, 'lib')
    }
}
"""


def work_folder(item: BuildItem, ws: steps.Workspace, tool: str) -> Path:
    """The project's copy, refreshed from its sources; what Maven or Gradle wrote there last
    time (target/, build/, .gradle/) stays, unless a source file went away (stale classes)."""
    key = hashlib.sha256(str(item.source.resolve()).encode()).hexdigest()[:12]
    work = ws.state_dir / "build" / "work" / f"{tool}-{item.source.name}-{key}"
    state = ws.state_dir.resolve()
    wanted = {
        os.path.relpath(f, item.source)
        for f in source_files(item.source, skip=state, skipped=JAVA_OUTPUT_DIRS)
    }
    if work.is_dir():
        present = {os.path.relpath(f, work) for f in source_files(work, skipped=JAVA_OUTPUT_DIRS)}
        if present - wanted:  # a source removed or renamed: build from scratch
            shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    for relative in sorted(wanted):  # copy2: mtimes kept, so unchanged sources stay up to date
        source, target = item.source / relative, work / relative
        if target.is_file() and same_file(source, target):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=True)
    return work


def same_file(a: Path, b: Path) -> bool:
    sa, sb = a.stat(), b.stat()
    return sa.st_size == sb.st_size and int(sa.st_mtime) == int(sb.st_mtime)


def build_maven(item: BuildItem, out: Path, ws: steps.Workspace) -> None:
    mvn = steps.tool("mvn", "install Maven (Debian: maven) to build a pom.xml")
    if not (item.source / "pom.xml").is_file():
        raise steps.StepFailed(f"no pom.xml in {item.source}")
    work = work_folder(item, ws, "maven")
    try:
        steps.run([mvn, *MAVEN_ARGS], what="mvn package", cwd=work, log=ws.log, env=java_env(ws))
    except steps.StepFailed as failed:
        if any(sign in line for line in failed.tail for sign in UNREACHABLE):
            raise steps.StepFailed(f"{failed.reason}: {OFFLINE_HINT}", failed.tail) from None
        raise
    classes = work / "target" / "classes"
    if not classes.is_dir():
        raise steps.StepFailed("Maven produced no target/classes (is the pom's packaging jar?)")
    shutil.copytree(classes, out, dirs_exist_ok=True)
    dependencies = work / "target" / "dependency"
    if dependencies.is_dir():
        shutil.copytree(dependencies, out / "lib", dirs_exist_ok=True)


def gradle_command(work: Path) -> str:
    """The project's wrapper, else the PATH's gradle (as aws-lambda-builders picks them)."""
    wrapper = work / "gradlew"
    if wrapper.is_file():
        wrapper.chmod(wrapper.stat().st_mode | 0o111)
        return str(wrapper)
    return steps.tool("gradle", "install Gradle, or add the Gradle wrapper (gradlew)")


def build_gradle(item: BuildItem, out: Path, ws: steps.Workspace) -> None:
    work = work_folder(item, ws, "gradle")
    gradle = gradle_command(work)
    init = ws.state_dir / "build" / "tools" / "lambda-layout.gradle"
    init.parent.mkdir(parents=True, exist_ok=True)
    init.write_text(GRADLE_INIT)
    argv = [
        gradle,
        "-q",
        "build",
        "-x",
        "test",
        "--init-script",
        str(init),
        f"-Dsamrun.artifacts={out}",
        "--project-cache-dir",
        str(work / ".gradle"),
    ]
    steps.run(argv, what="gradle build", cwd=work, log=ws.log, env=java_env(ws))
    if not any(out.iterdir()):
        raise steps.StepFailed("Gradle built no classes (does the project apply the java plugin?)")


def java_env(ws: steps.Workspace) -> dict[str, str]:
    """The host's JAVA_HOME (Maven and Gradle pick their JDK from it), as samrun was given it."""
    home = ws.host_env.get("JAVA_HOME")
    return {"JAVA_HOME": home} if home else {}
