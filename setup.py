"""Map the top-level folders onto one import package, `ledgermcp`.

The repository keeps `codegen/`, `server/` and `generated/` at its top level (see DESIGN.md);
installed, they are `ledgermcp.codegen`, `ledgermcp.server` and `ledgermcp.generated`, so no bare
`codegen` or `server` module ever lands in site-packages.

Editable installs (`pip install -e .`): setuptools maps the folders with an import hook, which
Python follows but type checkers do not (mypy reports `ledgermcp.server.sdk` as missing). Besides
the hook, `build/__editable__.ledgermcp/ledgermcp` is made a symbolic link to the repository root
and a second, plain `.pth` file puts `build/__editable__.ledgermcp` on `sys.path`: mypy finds the
package there, and new files are picked up without reinstalling. The hook stays, so Python starts
exactly as it did before. Where no symbolic link can be made (Windows without the privilege), the
hook alone is installed.
"""

import os
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

try:
    from setuptools.command.editable_wheel import editable_wheel
except ImportError:  # setuptools without PEP 660 editable wheels
    editable_wheel = None  # type: ignore[assignment,misc]

MAPPED = ["codegen", "server", "generated"]


class BuildPy(build_py):
    """The repository root is the `ledgermcp` package dir; ship only its `__init__.py` from there."""

    def find_package_modules(self, package, package_dir):  # type: ignore[no-untyped-def]
        modules = super().find_package_modules(package, package_dir)
        if package == "ledgermcp":
            modules = [m for m in modules if m[1] in ("__init__", "__main__")]
        return modules


class PackageLink:
    """An editable strategy (setuptools' `EditableStrategy` protocol) around setuptools' own: it
    writes what that one writes, plus a `.pth` file naming a folder whose `ledgermcp` entry is a
    symbolic link to the repository root."""

    def __init__(self, inner, name: str, folder: Path) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.name = name
        self.folder = folder

    def __call__(self, wheel, files, mapping):  # type: ignore[no-untyped-def]
        self.inner(wheel, files, mapping)
        wheel.writestr(f"__editable__.{self.name}.typecheck.pth", f"{self.folder}\n".encode())

    def __enter__(self):  # type: ignore[no-untyped-def]
        self.inner.__enter__()
        return self

    def __exit__(self, *exc):  # type: ignore[no-untyped-def]
        return self.inner.__exit__(*exc)


def link_package(project_dir: Path) -> Path | None:
    """`build/__editable__.ledgermcp/ledgermcp` -> the repository root; the folder, or None when no
    symbolic link can be made here."""
    folder = (project_dir / "build" / "__editable__.ledgermcp").resolve()
    link = folder / "ledgermcp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            if link.is_symlink() and Path(os.readlink(link)) == project_dir.resolve():
                return folder
            link.unlink()
        link.symlink_to(project_dir.resolve(), target_is_directory=True)
    except OSError:
        return None
    return folder


cmdclass = {"build_py": BuildPy}
if editable_wheel is not None and hasattr(editable_wheel, "_select_strategy"):

    class EditableWheel(editable_wheel):  # type: ignore[misc,valid-type]
        def _select_strategy(self, name, tag, build_lib):  # type: ignore[no-untyped-def]
            inner = super()._select_strategy(name, tag, build_lib)
            mode = str(getattr(self, "mode", None) or "").lower()
            folder = None if mode in ("strict", "compat") else link_package(Path(self.project_dir))
            if folder is None:  # an explicit mode, or no symbolic links: setuptools alone
                return inner
            return PackageLink(inner, name, folder)

    cmdclass["editable_wheel"] = EditableWheel


subpackages = find_packages(include=[f"{name}*" for name in MAPPED])
setup(
    packages=["ledgermcp", *(f"ledgermcp.{p}" for p in subpackages)],
    package_dir={"ledgermcp": "."},
    package_data={
        "ledgermcp": ["py.typed"],
        "ledgermcp.codegen": ["templates/*.jinja", "py.typed"],
        "ledgermcp.server": ["py.typed"],
        "ledgermcp.generated": ["*/*.json", "*/client/py.typed"],
    },
    cmdclass=cmdclass,
)
