"""Bad input through the CLI, in a throw-away checkout: one clear message, exit 2, generated/ untouched.

The generator finds its checkout from the `ledgermcp` package directory first (codegen/vendor_config.py,
`project_root`), so an editable install of the repository always wins over the working directory.
These tests therefore build a small checkout in a temporary folder - the package files, codegen/,
server/, a copy of the repository's specs/ plus a tiny vendor `acme` - and put it first on PYTHONPATH.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledgermcp.codegen import client_emit
from ledgermcp.codegen.diagnostics import Diagnostic, GenerationError, Severity
from ledgermcp.codegen.emit import generate

REPO = Path(__file__).resolve().parents[1]

ACME_SPEC = """\
openapi: 3.0.3
info: {title: Acme, version: "1"}
servers: [{url: "https://api.acme.test/v1"}]
paths:
  /things:
    get:
      operationId: listThings
      tags: [things]
      responses:
        200:
          description: ok
          content:
            application/json:
              schema: {type: array, items: {$ref: "#/components/schemas/Thing"}}
  /things/{thingId}:
    parameters: [{name: thingId, in: path, required: true, schema: {type: integer}}]
    get:
      operationId: getThing
      tags: [things]
      responses:
        200: {description: ok, content: {application/json: {schema: {$ref: "#/components/schemas/Thing"}}}}
    put:
      operationId: updateThing
      tags: [things]
      requestBody: {required: true, content: {application/json: {schema: {$ref: "#/components/schemas/Thing"}}}}
      responses:
        200: {description: ok, content: {application/json: {schema: {$ref: "#/components/schemas/Thing"}}}}
components:
  schemas:
    Thing:
      type: object
      properties:
        id: {type: integer, readOnly: true}
        name: {type: string}
"""

EXTRA_OPERATION = """\
  /things/{thingId}/archive:
    parameters: [{name: thingId, in: path, required: true, schema: {type: integer}}]
    put:
      operationId: archiveThing
      tags: [things]
      responses:
        204: {description: archived}
"""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tree_digest(folder: Path) -> str:
    """One hash over every file's relative path and bytes (caches ignored)."""
    digest = hashlib.sha256()
    if not folder.exists():
        return "absent"
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@dataclass
class Project:
    base: Path  # holds the checkout `ledgermcp/`, the spec directory and a cache directory
    expect_unchanged: bool = True  # tests that write on purpose turn the after-check off

    @property
    def root(self) -> Path:
        return self.base / "ledgermcp"

    @property
    def spec_dir(self) -> Path:
        return self.base / "specdir"

    @property
    def generated(self) -> Path:
        return self.root / "generated"

    def acme_source(self, file: str, sha: str) -> None:
        (self.root / "specs" / "acme" / "source.toml").write_text(
            f'file = "{file}"\nupstream = "https://acme.test/openapi.yaml"\nsha256 = "{sha}"\n'
        )

    def write_spec(self, text: str, file: str = "acme.openapi.yaml") -> Path:
        """Put a description in the spec directory and record its sha256, as a maintainer would."""
        path = self.spec_dir / file
        path.write_text(text)
        self.acme_source(file, sha256(path.read_bytes()))
        return path

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LEDGERMCP_SPEC_DIR")}
        env.update(
            PYTHONPATH=str(self.base),
            LEDGERMCP_SPEC_DIR=str(self.spec_dir),
            XDG_CACHE_HOME=str(self.base / "cache"),
            PYTHONDONTWRITEBYTECODE="1",
        )
        return env

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ledgermcp", *args],
            cwd=self.root, env=self.env(), capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    def snapshot(self) -> dict[str, str]:
        return {p.name: tree_digest(p) for p in self.generated.iterdir()}

    def leftovers(self) -> list[str]:
        return [p.name for p in self.generated.iterdir() if p.name.startswith((".staging-", ".retired-"))]


def _make_checkout(base: Path) -> Project:
    project = Project(base)
    root = project.root
    root.mkdir(parents=True)
    for name in ("__init__.py", "__main__.py"):
        shutil.copy2(REPO / name, root / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("codegen", "server", "specs"):
        shutil.copytree(REPO / name, root / name, ignore=ignore)
    (root / "generated").mkdir()
    shutil.copy2(REPO / "generated" / "__init__.py", root / "generated" / "__init__.py")
    (root / "specs" / "acme").mkdir()
    (root / "specs" / "acme" / "overlay.toml").write_text(
        '[vendor]\ntitle = "Acme"\nnaming = "operation_id"\n'
    )
    project.spec_dir.mkdir()
    project.write_spec(ACME_SPEC)
    return project


@pytest.fixture(scope="module")
def base_checkout(tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = _make_checkout(tmp_path_factory.mktemp("checkout"))
    result = project.cli("generate", "acme")
    assert result.returncode == 0, result.stderr
    assert "wrote generated/acme: 3 tools" in result.stderr
    return project


@pytest.fixture
def project(base_checkout: Project, tmp_path: Path) -> Iterator[Project]:
    """A fresh copy of the generated checkout for each test."""
    copy = Project(tmp_path / "p")
    shutil.copytree(base_checkout.base, copy.base, symlinks=True)
    before = copy.snapshot()
    yield copy
    # whatever a test did, nothing is left half-written
    assert copy.leftovers() == []
    if copy.expect_unchanged:
        assert copy.snapshot() == before, "generated/ changed"


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def test_the_checkout_is_the_one_the_cli_uses(project: Project) -> None:
    """Guards the set-up: a failure here means the CLI ran against the repository instead."""
    result = project.cli("generate", "acme", "--check")
    assert result.returncode == 0, result.stderr
    assert str(project.spec_dir / "acme.openapi.yaml") in result.stderr
    assert "generated/acme is up to date (3 tools" in result.stderr
    assert not (REPO / "generated" / "acme").exists()


# one line indented a space short: `get` of /things/{thingId}
BAD_YAML = ACME_SPEC.replace("    get:\n      operationId: getThing", "   get:\n      operationId: getThing")
BAD_YAML_LINE = BAD_YAML.splitlines().index("   get:") + 1


@pytest.mark.parametrize(
    ("file", "text", "where"),
    [
        ("acme.openapi.yaml", BAD_YAML, f"line {BAD_YAML_LINE},"),
        (
            "acme.openapi.json",
            '{\n  "openapi": "3.0.3",\n  "paths": {\n    "/a": {"get": }\n  }\n}\n',
            "line 4,",
        ),
    ],
    ids=["yaml", "json"],
)
def test_malformed_spec(project: Project, file: str, text: str, where: str) -> None:
    path = project.write_spec(text, file)
    result = project.cli("generate", "acme")
    assert result.returncode == 2, result.stderr
    (line,) = error_lines(result)
    assert str(path) in line and where in line and "not valid" in line
    assert "download the vendor's description again" in line
    assert "Traceback" not in result.stderr


def test_malformed_spec_given_with_spec_option(project: Project) -> None:
    broken = project.base / "newer.openapi.yaml"
    broken.write_text("openapi: 3.0.3\npaths: {/a: [\n")
    result = project.cli("generate", "acme", "--spec", str(broken))
    assert result.returncode == 2
    (line,) = error_lines(result)
    assert str(broken) in line and "not valid YAML at line" in line


def test_missing_spec_file(project: Project) -> None:
    (project.spec_dir / "acme.openapi.yaml").unlink()
    result = project.cli("generate", "acme")
    assert result.returncode == 2
    assert len(error_lines(result)) == 1
    message = result.stderr[result.stderr.index("error:") :]
    assert "'acme.openapi.yaml' was not found; looked in:" in message
    for folder in (project.spec_dir, project.base / "shared" / "specs", project.base / "cache"):
        assert str(folder) in message, folder
    assert "https://acme.test/openapi.yaml" in message  # where to download it from
    assert "LEDGERMCP_SPEC_DIR" in message and "--spec PATH" in message


def test_missing_file_given_with_spec_option(project: Project) -> None:
    result = project.cli("generate", "acme", "--spec", str(project.base / "nope.yaml"))
    assert result.returncode == 2
    assert error_lines(result) == [f"error: --spec {project.base / 'nope.yaml'}: no such file"]


def test_wrong_sha256(project: Project) -> None:
    path = project.spec_dir / "acme.openapi.yaml"
    recorded = sha256(path.read_bytes())
    path.write_text(ACME_SPEC + "# edited by hand\n")
    actual = sha256(path.read_bytes())
    result = project.cli("generate", "acme")
    assert result.returncode == 2
    assert len(error_lines(result)) == 1
    message = result.stderr[result.stderr.index("error:") :]
    assert actual in message and recorded in message
    assert f"ledgermcp generate acme --spec {path}" in message  # the fix for a newer download
    assert "specs/acme/source.toml" in message


def test_wrong_sha256_of_a_real_vendor(project: Project) -> None:
    """A copy of the repository's specs/: a changed smallinvoice description is refused before any work."""
    recorded = tomllib.loads((project.root / "specs" / "smallinvoice" / "source.toml").read_text())["sha256"]
    (project.spec_dir / "smallinvoice.openapi.yaml").write_text("openapi: 3.0.1\npaths: {}\n")
    result = project.cli("generate", "smallinvoice")
    assert result.returncode == 2
    (line,) = error_lines(result)
    assert recorded in line and "smallinvoice.openapi.yaml has sha256" in line
    assert not (project.generated / "smallinvoice").exists()


@pytest.mark.parametrize("section", ["operations", "exclude"])
def test_overlay_naming_an_operation_that_does_not_exist(project: Project, section: str) -> None:
    entry = '{ name = "get_nothing" }' if section == "operations" else '"not offered"'
    overlay = project.root / "specs" / "acme" / "overlay.toml"
    overlay.write_text(overlay.read_text() + f'\n[{section}]\n"GET /nothing/{{id}}" = {entry}\n')
    result = project.cli("generate", "acme")
    assert result.returncode == 2
    (line,) = error_lines(result)
    assert "'GET /nothing/{id}'" in line and "which the spec does not have" in line
    assert "specs/acme/overlay.toml" in line


def test_contradictory_overlay_hints_name_the_tool(project: Project) -> None:
    overlay = project.root / "specs" / "acme" / "overlay.toml"
    overlay.write_text(
        overlay.read_text() + '\n[operations."GET /things/{thingId}"]\nhints = { destructiveHint = true }\n'
    )
    result = project.cli("generate", "acme")
    assert result.returncode == 2
    (line,) = error_lines(result)
    assert "'get_thing'" in line and "contradictory hints" in line


def test_unknown_vendor_lists_the_known_ones(project: Project) -> None:
    result = project.cli("generate", "acmee")
    assert result.returncode == 2
    (line,) = error_lines(result)
    assert "unknown vendor 'acmee'" in line and "acme, fortnox, smallinvoice" in line


def test_check_reports_a_hand_edit_and_writes_nothing(project: Project) -> None:
    tools_py = project.generated / "acme" / "tools.py"
    tools_py.write_text(tools_py.read_text() + "# local edit\n")
    edited = project.snapshot()
    result = project.cli("generate", "acme", "--check")
    assert result.returncode == 1
    assert "generated/acme is out of date (1 files differ)" in result.stderr
    assert "    tools.py" in result.stderr
    assert project.snapshot() == edited
    project.expect_unchanged = False


def test_spec_option_uses_another_copy_and_records_its_sha256(project: Project) -> None:
    recorded = sha256((project.spec_dir / "acme.openapi.yaml").read_bytes())
    newer = project.base / "downloads" / "acme-newer.openapi.yaml"
    newer.parent.mkdir()
    newer.write_text(ACME_SPEC.replace("components:\n", EXTRA_OPERATION + "components:\n"))
    new_sha = sha256(newer.read_bytes())
    result = project.cli("generate", "acme", "--spec", str(newer))
    assert result.returncode == 0, result.stderr
    assert "+ added    archive_thing" in result.stderr
    assert "wrote generated/acme: 4 tools" in result.stderr
    out = project.generated / "acme"
    generated_files = [p for p in out.rglob("*") if p.is_file() and p.suffix in (".py", ".json")]
    assert len(generated_files) > 5
    for path in generated_files:
        first = path.read_text().splitlines()[0]
        assert "Generated by ledgermcp.codegen" in first and f"sha256 {new_sha}" in first, path
        assert recorded not in path.read_text(), path
    # the overlay's source.toml is the maintainer's to update; the generator does not touch it
    assert recorded in (project.root / "specs" / "acme" / "source.toml").read_text()
    # and a plain regeneration from the recorded copy now reports the tool as removed
    check = project.cli("generate", "acme", "--check")
    assert check.returncode == 1
    assert "- removed  archive_thing   [BREAKING]" in check.stderr
    project.expect_unchanged = False


# --- a failure after the staging folder exists: in process, with the client emitter failing -------


def _generate(project: Project) -> None:
    generate("acme", project.root, spec_path=project.spec_dir / "acme.openapi.yaml")


def test_emitter_crash_leaves_generated_untouched(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    def half_then_fail(spec: object, out: Path, **_: object) -> list[Diagnostic]:
        out.mkdir(parents=True)
        (out / "client.py").write_text("# half written\n")
        raise GenerationError("client emitter failed")

    monkeypatch.setattr(client_emit, "emit_client", half_then_fail)
    with pytest.raises(GenerationError, match="client emitter failed"):
        _generate(project)


def test_emitter_error_diagnostic_leaves_generated_untouched(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    def with_error(spec: object, out: Path, **_: object) -> list[Diagnostic]:
        out.mkdir(parents=True)
        return [Diagnostic(Severity.ERROR, "broken-model", "cannot type Thing", "#/components/schemas/Thing")]

    monkeypatch.setattr(client_emit, "emit_client", with_error)
    with pytest.raises(GenerationError) as err:
        _generate(project)
    assert "generated/acme left unchanged" in str(err.value) and "broken-model" in str(err.value)


# --- generation that finishes: the typed client's gaps are reported, never a traceback -------------

REJECTED_AND_COLLIDING = ACME_SPEC.replace(
    "components:\n",
    """\
  /things/{thingId}/xml:
    parameters: [{name: thingId, in: path, required: true, schema: {type: integer}}]
    patch:
      operationId: patchThingXml
      tags: [things]
      requestBody: {required: true, content: {application/xml: {schema: {$ref: "#/components/schemas/Thing"}}}}
      responses:
        200: {description: ok}
  /things/{thingId}/moves:
    parameters: [{name: thingId, in: path, required: true, schema: {type: integer}}]
    post:
      operationId: moveThing
      tags: [things]
      parameters: [{name: op, in: query, required: true, schema: {$ref: "#/components/schemas/Op"}}]
      responses:
        200: {description: ok}
components:
""",
).replace(
    "  schemas:\n",
    "  schemas:\n    Op:\n      type: string\n      enum: [ADD, add, remove]\n",
)


def test_an_operation_the_typed_client_rejects_stays_a_tool_and_generation_finishes(project: Project) -> None:
    project.expect_unchanged = False
    broken = project.base / "acme-broken.openapi.yaml"
    broken.write_text(REJECTED_AND_COLLIDING)
    result = project.cli("generate", "acme", "--spec", str(broken))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    (left,) = [line for line in lines if "client-operation-left-out" in line]
    assert "PATCH /things/{thingId}/xml" in left and "it stays a tool" in left and "application/xml" in left
    assert any("client-enum-collision" in line and "(ADD)" in line for line in lines)
    assert "wrote generated/acme: 5 tools" in result.stderr
    from importlib import util

    spec = util.spec_from_file_location("acme_tools", project.generated / "acme" / "tools.py")
    assert spec is not None and spec.loader is not None
    module = util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tools = {t["name"]: t for t in module.TOOLS}
    assert tools["patch_thing_xml"]["client_module"] is None  # a tool without a typed function
    assert tools["move_thing"]["client_module"] == "api.things.move_thing"
    client = project.generated / "acme" / "client" / "api" / "things"
    assert (client / "move_thing.py").is_file() and not (client / "patch_thing_xml.py").exists()


CRASHING_GENERATOR = """\
import openapi_python_client.parser as parser

def _crash(*args, **kwargs):
    raise RuntimeError("boom in the client generator")

parser.GeneratorData.from_dict = staticmethod(_crash)
"""

BROKEN_GENERATOR = """\
import ledgermcp.codegen.emit as emit

def _crash(*args, **kwargs):
    raise KeyError("a bug")

emit.build_ir = _crash
"""


@pytest.mark.parametrize(
    ("patch", "messages"),
    [
        (CRASHING_GENERATOR, ["client-generator-crashed", "RuntimeError: boom in the client generator"]),
        (BROKEN_GENERATOR, ["error: generation stopped unexpectedly: KeyError: 'a bug'"]),
    ],
)
def test_no_traceback_reaches_the_user_when_a_generator_fails(
    project: Project, patch: str, messages: list[str]
) -> None:
    (project.base / "sitecustomize.py").write_text(patch)
    try:
        result = project.cli("generate", "acme")
        verbose = project.cli("generate", "acme", "-v")
    finally:
        (project.base / "sitecustomize.py").unlink()
    assert result.returncode == 2
    for message in messages:
        assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert error_lines(result), result.stderr
    if patch is BROKEN_GENERATOR:  # a bug of ours: -v shows where it happened
        assert "Traceback" in verbose.stderr
