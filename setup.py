"""Map the top-level folders onto one import package, `ledgermcp`.

The repository keeps `codegen/`, `server/` and `generated/` at its top level (see DESIGN.md);
installed, they are `ledgermcp.codegen`, `ledgermcp.server` and `ledgermcp.generated`, so no bare
`codegen` or `server` module ever lands in site-packages. Editable installs use the same mapping.
"""

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

MAPPED = ["codegen", "server", "generated"]


class BuildPy(build_py):
    """The repository root is the `ledgermcp` package dir; ship only its `__init__.py` from there."""

    def find_package_modules(self, package, package_dir):  # type: ignore[no-untyped-def]
        modules = super().find_package_modules(package, package_dir)
        if package == "ledgermcp":
            modules = [m for m in modules if m[1] in ("__init__", "__main__")]
        return modules


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
    cmdclass={"build_py": BuildPy},
)
