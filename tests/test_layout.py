"""The import graph goes one way (README, Layout): libraries import no service, and a service
imports no other service; only the CLI and the test kit sit above the services."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {
    "scheduler",
    "token_service",
    "fetcher",
    "writer",
    "admin_api",
    "ebay_sandbox",
}
ABOVE_SERVICES = {"ebaysync", "testkit"}


def imported_packages(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def edges(pattern: str) -> list[tuple[str, str]]:
    """(file, imported package) for every import of a service or of what sits above them."""
    result = []
    for path in sorted(ROOT.glob(pattern)):
        package = path.relative_to(ROOT).parts[3]  # <kind>/<dist>/src/<package>/...
        for imported in imported_packages(path) & (SERVICES | ABOVE_SERVICES):
            if imported != package:
                result.append((str(path.relative_to(ROOT)), imported))
    return result


def test_libraries_import_no_service_nor_the_cli_or_test_kit() -> None:
    assert edges("libs/*/src/**/*.py") == []


def test_a_service_imports_no_other_service() -> None:
    assert edges("services/*/src/**/*.py") == []


def test_the_edge_finder_sees_an_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import fetcher.ledger\nfrom writer import service\nfrom . import x\n")
    assert imported_packages(module) == {"fetcher", "writer"}
