"""`samrun validate` reads each runtime's handler form: a Java `pkg.Class::method` or `pkg.Class`
is `pkg/Class.class` in the classes, their lib/*.jar, a .jar or a .zip CodeUri (or its .java
source, in a Maven or Gradle project still to build); a Ruby `lib/shop.Shop::Orders.create` is
`lib/shop.rb`."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from tests.template.conftest import run_samrun

LOCATED = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): \[(?P<rule>[\w-]+)\] (?P<msg>.+)$")
CLASS = b"\xca\xfe\xba\xbe"  # only its name is looked at

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: java21
Resources:
  Classes:
    Type: AWS::Serverless::Function
    Properties: {Handler: "shop.Hello::handle", CodeUri: classes}
  LibJar:
    Type: AWS::Serverless::Function
    Properties: {Handler: shop.Hello, CodeUri: withlib}
  Jar:
    Type: AWS::Serverless::Function
    Properties: {Handler: "shop.Hello::handle", CodeUri: app.jar}
  Zip:
    Type: AWS::Serverless::Function
    Properties: {Handler: "shop.Hello::handle", CodeUri: bundle.zip}
  Project:
    Type: AWS::Serverless::Function
    Properties: {Handler: "shop.Hello::handle", CodeUri: project}
  Gradle:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: gradle}
    Properties: {Handler: "shop.Hello::handle", CodeUri: gradle}
  Orders:
    Type: AWS::Serverless::Function
    Properties: {Runtime: ruby3.3, Handler: "lib/shop.Shop::Orders.create", CodeUri: rb}
"""


def jar_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def app(root: Path) -> Path:
    (root / "classes" / "shop").mkdir(parents=True)
    (root / "classes" / "shop" / "Hello.class").write_bytes(CLASS)
    (root / "withlib" / "lib").mkdir(parents=True)
    (root / "withlib" / "lib" / "app.jar").write_bytes(jar_bytes({"shop/Hello.class": CLASS}))
    (root / "app.jar").write_bytes(jar_bytes({"shop/Hello.class": CLASS}))
    nested = jar_bytes({"shop/Hello.class": CLASS})
    (root / "bundle.zip").write_bytes(jar_bytes({"lib/app.jar": nested, "other.txt": b""}))
    for folder, build_file in (("project", "pom.xml"), ("gradle", "settings.gradle")):
        sources = root / folder / "src" / "main" / "java" / "shop"
        sources.mkdir(parents=True)
        (sources / "Hello.java").write_text("package shop; public class Hello {}\n")
        (root / folder / build_file).write_text("")
    (root / "rb" / "lib").mkdir(parents=True)
    (root / "rb" / "lib" / "shop.rb").write_text("module Shop; class Orders; end; end\n")
    path = root / "template.yaml"
    path.write_text(TEMPLATE)
    return path


def handler_problems(template: Path) -> dict[str, str]:
    result = run_samrun("validate", str(template))
    assert "Traceback" not in result.stdout + result.stderr
    found = {}
    for line in result.stdout.splitlines():
        match = LOCATED.match(line)
        assert match, line
        if match["rule"] == "samrun-handler":
            found[match["msg"].split(":", 1)[0]] = match["msg"]
    return found


def test_java_and_ruby_handlers_are_found_where_their_runtimes_look(tmp_path: Path) -> None:
    assert handler_problems(app(tmp_path)) == {}


def test_a_missing_java_class_or_ruby_file_is_named(tmp_path: Path) -> None:
    template = app(tmp_path)
    template.write_text(
        TEMPLATE.replace("shop.Hello", "shop.Gone").replace("lib/shop.Shop", "lib/nope.Shop")
    )
    found = handler_problems(template)
    assert sorted(found) == ["Classes", "Gradle", "Jar", "LibJar", "Orders", "Project", "Zip"]
    assert "shop/Gone.class" in found["Zip"] and "shop/Gone.class" in found["LibJar"]
    assert "source shop/Gone.java" in found["Project"]  # still to build: its sources
    assert "source shop/Gone.java" in found["Gradle"]
    assert "lib/nope.rb" in found["Orders"]
