"""Imports point one way, held over the import graph of evonas (every import, lazy ones included)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "evonas"
BASE = {
    "errors",
    "metrics",
    "statuses",
    "ranking",
    "values",
    "sizes",
    "clock",
    "lazy",
    "seeds",
}  # value types and rules
# what each package may import of evonas, beside the base modules and itself
ALLOWED = {
    "genomes": set(),
    "learn": set(),
    "storage": {"genomes"},
    "datasets": set(),
    "workers": {"genomes", "learn"},
    "views": {"genomes", "storage", "datasets"},
    "dashboard": {"genomes", "storage", "views"},
    "export": {"genomes", "learn", "storage", "datasets", "views"},
    "training": {"genomes", "learn", "datasets", "export", "storage"},
    "nas": {"genomes", "learn", "storage", "datasets", "workers", "views"},
}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports() -> list[tuple[str, str]]:
    """(importing module, imported evonas module) for every import statement of the package."""
    edges = []
    for path in ROOT.rglob("*.py"):
        module = "evonas." + ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            edges += [(module, n) for n in names if n == "evonas" or n.startswith("evonas.")]
    return edges


EDGES = _imports()


def test_the_graph_was_read():
    assert len(EDGES) > 150
    assert ("evonas.cli.main", "evonas.cli") in EDGES


def test_nothing_imports_the_cli():
    assert [(a, b) for a, b in EDGES if _package(b) == "cli" and _package(a) != "cli"] == []


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_what_lies_below_it(package):
    wrong = sorted(
        (a, b) for a, b in EDGES
        if _package(a) == package and _package(b) not in BASE | ALLOWED[package] | {package, ""}
    )  # fmt: skip
    assert wrong == []


def test_base_modules_import_only_base_modules_and_storage_records():
    wrong = sorted(
        (a, b) for a, b in EDGES
        if _package(a) in BASE and _package(b) not in BASE and b != "evonas.storage.records"
    )  # fmt: skip
    assert wrong == []


@pytest.mark.parametrize("module", ["evonas.dashboard", "evonas.views", "evonas.cli"])
def test_reading_side_modules_leave_torch_and_ray_out(module):
    code = (
        f"import sys, {module}\n"
        "from evonas.cli import build_parser\n"
        "build_parser()\n"
        "heavy = ('torch', 'ray', 'sklearn', 'deap', 'umap', 'matplotlib')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
