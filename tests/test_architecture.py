"""docs/architecture.md against the code: the floors it draws are the import-linter
contract that ``lint-imports`` enforces, the table's "may import" column covers every
import each package makes, and the path of a request names modules that exist."""

from __future__ import annotations

import ast
import importlib.util
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "architecture.md").read_text()


def _block(kind: str) -> list[str]:
    match = re.search(rf"^```{kind}\n(.*?)^```", DOC, re.S | re.M)
    assert match, f"docs/architecture.md has no ```{kind} block"
    return [line for line in match.group(1).splitlines() if line.strip()]


def _contract(contract_id: str) -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    [contract] = [c for c in config["contracts"] if c["id"] == contract_id]
    return contract


def test_the_floors_drawn_are_the_contract_lint_imports_enforces():
    drawn = [{name.strip() for name in line.split("·")} for line in _block("floors")]
    contract = _contract("floors")
    enforced = [
        {name.strip().strip("()") for name in layer.split("|")} for layer in contract["layers"]
    ]
    assert drawn == enforced
    assert contract["containers"] == ["hydria"] and contract["exhaustive"] is True


def _imports_by_package() -> dict[str, set[str]]:
    """hydria.<package> -> the other hydria packages its modules import."""
    out: dict[str, set[str]] = {}
    for path in (ROOT / "hydria").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if len(parts) < 2:
            continue  # hydria/__init__.py
        package = parts[1]
        module = list(parts[:-1]) if parts[-1] == "__init__" else list(parts)
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = module[: len(module) - node.level + (parts[-1] == "__init__")]
                    names = [".".join([*base, *([node.module] if node.module else [])])]
                else:
                    names = [node.module or ""]
            for name in names:
                bits = name.split(".")
                if bits[0] == "hydria" and len(bits) > 1 and bits[1] != package:
                    out.setdefault(package, set()).add(bits[1])
    return out


def test_the_package_table_lists_every_import():
    table = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\| `hydria\.(\w+)` \|.*\| ([^|]+) \|$", DOC, re.M)
    }
    packages = {
        p.name for p in (ROOT / "hydria").iterdir() if p.is_dir() and (p / "__init__.py").exists()
    } | {"config"}
    assert set(table) == packages, "every package has its row"
    for package, imported in _imports_by_package().items():
        allowed = table[package]
        if allowed.strip() == "everything":
            continue
        listed = set(re.findall(r"\b(\w+)\b", allowed)) & packages
        assert imported <= listed, f"hydria.{package} imports {sorted(imported - listed)}"


def test_the_request_path_names_modules_that_exist():
    steps = [line.split()[0] for line in _block("request-path")]
    assert len(steps) >= 8
    for module in steps:
        assert importlib.util.find_spec(module) is not None, module
