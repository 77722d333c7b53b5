"""`samrun build` of Java projects as `sam build` builds them: Maven (a pom.xml, or BuildMethod
maven) into the state folder, classes at the root and dependency jars under lib/, cached on the
sources; watch mode rebuilds and reloads on a .java edit. Gradle: the project's gradlew first.

Offline (no Maven Central), Maven reads its plugins from Debian's /usr/share/maven-repo (the
packages maven, libmaven-resources-plugin-java, libmaven-compiler-plugin-java,
libmaven-jar-plugin-java, libsurefire-java, libmaven-dependency-plugin-java) through a
~/.m2/settings.xml mirror, as a user without network would set it up.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.build.conftest import tree
from tests.conftest import invoke_http, start_up

DEBIAN_REPO = Path("/usr/share/maven-repo")
pytestmark = pytest.mark.skipif(shutil.which("mvn") is None, reason="Maven is not installed")

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: java17
      Handler: shop.Hello::handle
      CodeUri: hello
      MemorySize: 512
      Timeout: 30
"""
POM = """\
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>shop</groupId>
  <artifactId>hello</artifactId>
  <version>1.0</version>
  <properties>
    <maven.compiler.source>11</maven.compiler.source>
    <maven.compiler.target>11</maven.compiler.target>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>
    <dependency>
      <groupId>org.apache.commons</groupId>
      <artifactId>commons-lang3</artifactId>
      <version>3.12.0</version>
    </dependency>
  </dependencies>
</project>
"""
HANDLER = """\
package shop;

import java.util.Map;
import org.apache.commons.lang3.StringUtils;

public class Hello {
    public String handle(Map<String, Object> in) {
        return StringUtils.capitalize("%s " + in.get("name"));
    }
}
"""
SETTINGS = f"""\
<settings>
  <mirrors>
    <mirror><id>debian</id><mirrorOf>*</mirrorOf><url>file://{DEBIAN_REPO}</url></mirror>
  </mirrors>
</settings>
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A Maven project and its template; Maven pointed at Debian's repository when the machine
    has its plugins there (else Maven as the machine has it set up)."""
    root = tmp_path_factory.mktemp("maven-app")
    source = root / "hello" / "src" / "main" / "java" / "shop"
    source.mkdir(parents=True)
    (source / "Hello.java").write_text(HANDLER % "hello")
    resources = root / "hello" / "src" / "main" / "resources"
    resources.mkdir(parents=True)
    (resources / "app.properties").write_text("greeting=hello\n")
    (root / "hello" / "pom.xml").write_text(POM)
    (root / "template.yaml").write_text(TEMPLATE)
    previous = os.environ.get("MAVEN_OPTS")
    if (DEBIAN_REPO / "org/apache/maven/plugins/maven-compiler-plugin").is_dir():
        home = tmp_path_factory.mktemp("maven-home")
        (home / ".m2").mkdir()
        (home / ".m2" / "settings.xml").write_text(SETTINGS)
        os.environ["MAVEN_OPTS"] = f"-Duser.home={home}"  # Maven's ~ only, not the function's
    yield root / "template.yaml"
    if previous is None:
        os.environ.pop("MAVEN_OPTS", None)
    else:
        os.environ["MAVEN_OPTS"] = previous


def samrun(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "samrun", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


def test_a_maven_project_builds_into_the_state_folder_and_runs(app: Path) -> None:
    project = app.parent / "hello"
    before = tree(project)
    state = app.parent / ".samrun"
    built = samrun("build", str(app), "--state-dir", str(state), cwd=app.parent)
    assert built.returncode == 0, built.stdout + built.stderr
    assert "build Hello (maven, java17): built" in built.stdout
    (folder,) = (state / "build").glob("maven-*")
    assert (folder / "shop" / "Hello.class").is_file()  # classes at the root, as Lambda reads
    assert (folder / "app.properties").read_text() == "greeting=hello\n"
    assert [jar.name for jar in (folder / "lib").iterdir()] == [
        "org.apache.commons.commons-lang3-3.12.0.jar"
    ]
    assert tree(project) == before  # nothing written into the project (no target/)
    again = samrun("build", str(app), "--state-dir", str(state), cwd=app.parent)
    assert "build Hello (maven, java17): cached" in again.stdout, again.stdout + again.stderr
    event = app.parent / "event.json"
    event.write_text('{"name": "maven"}')
    invoked = samrun(
        "invoke", str(app), "Hello", "-e", str(event), "--state-dir", str(state), cwd=app.parent
    )
    assert invoked.returncode == 0, invoked.stderr
    assert invoked.stdout.strip() == '"Hello maven"'


def test_a_java_edit_rebuilds_and_reloads(app: Path) -> None:
    source = app.parent / "hello" / "src" / "main" / "java" / "shop" / "Hello.java"
    server = start_up(app, app.parent / ".samrun", "--watch", ready_timeout=300)
    try:
        server.wait_for("watching")
        assert invoke_http(server.lambda_endpoint, "Hello", {"name": "a"})[2] == "Hello a"
        mark = len(server.lines)
        source.write_text(HANDLER % "bonjour")
        server.wait_for(r"build Hello \(maven, java17\): built in", timeout=300, start=mark)
        server.wait_for(r"reloaded \(build: Hello", timeout=60, start=mark)
        assert invoke_http(server.lambda_endpoint, "Hello", {"name": "b"})[2] == "Bonjour b"
    finally:
        server.stop()
        source.write_text(HANDLER % "hello")


GRADLEW = """\
#!/bin/sh
# stands in for Gradle (not installed here): records its arguments, writes the layout
echo "$@" > "$(dirname "$0")/../gradlew-args"
pwd > "$(dirname "$0")/../gradlew-cwd"
for arg in "$@"; do
  case "$arg" in -Dsamrun.artifacts=*) out="${arg#-Dsamrun.artifacts=}";; esac
done
mkdir -p "$out/shop" "$out/lib" && cp Hello.class "$out/shop/" && cp dep.jar "$out/lib/"
"""


def test_a_gradle_project_runs_its_wrapper_in_a_copy(tmp_path: Path) -> None:
    """The wiring only (no Gradle here): gradlew before gradle, `build -x test` with samrun's
    init script, in a copy of the project in the state folder; what it lays out is the code."""
    project = tmp_path / "app" / "proj"
    project.mkdir(parents=True)
    (project / "build.gradle").write_text("plugins { id 'java' }\n")
    (project / "Hello.class").write_bytes(b"\xca\xfe\xba\xbe")
    (project / "dep.jar").write_bytes(b"PK")
    wrapper = project / "gradlew"
    wrapper.write_text(GRADLEW)
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    template = tmp_path / "app" / "template.yaml"
    template.write_text(TEMPLATE.replace("CodeUri: hello", "CodeUri: proj"))
    before = tree(project)
    state = tmp_path / "app" / ".samrun"
    built = samrun("build", str(template), "--state-dir", str(state), cwd=template.parent)
    assert built.returncode == 0, built.stdout + built.stderr
    assert "build Hello (gradle, java17): built" in built.stdout
    (folder,) = (state / "build").glob("gradle-*")
    assert (folder / "shop" / "Hello.class").is_file() and (folder / "lib" / "dep.jar").is_file()
    (work,) = (state / "build" / "work").glob("gradle-proj-*")
    args = (work.parent / "gradlew-args").read_text().split()
    assert args[:3] == ["-q", "build", "-x"] and "--init-script" in args
    assert Path((work.parent / "gradlew-cwd").read_text().strip()) == work
    assert tree(project) == before
