"""The layout's rules that import-linter does not see (README, "Layout"): imports at the top of
each module, feature keys only in the registry, pages that name no title, icon or feature of
their own, settings read only at the composition root and above it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from viba.studio import features

from helpers import ROOT

VIBA = ROOT / "viba"
MODULES = sorted(VIBA.rglob("*.py"))
PAGES = [ROOT / "Home.py", *sorted((ROOT / "pages").glob("*.py"))]


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def function_imports(module: ast.Module) -> list[tuple[int, str]]:
    """The imports of viba inside a function body: (line, module)."""
    found = []
    for node in ast.walk(module):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith("viba"):
                found.append((inner.lineno, inner.module or ""))
            elif isinstance(inner, ast.Import):
                found += [(inner.lineno, a.name) for a in inner.names if a.name.startswith("viba")]
    return found


def test_the_rule_checkers_see_what_they_look_for():
    made_up = ast.parse("def f():\n    from viba.core import text\n    import viba.store.db\n")
    assert function_imports(made_up) == [(2, "viba.core"), (3, "viba.store.db")]
    assert function_imports(ast.parse("from viba.core import text\n")) == []
    assert literal_keys(ast.parse("x = 'avatar'\ny = f'{avatar}'\n"), {"avatar"}) == [1]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_of_viba_imports_viba_inside_a_function(path):
    """An import hidden in a function body dodges a circle or a layer: there are none. (The
    lazy imports of the Gemini SDK and botocore are of other packages.)"""
    assert function_imports(tree(path)) == []


def literal_keys(module: ast.Module, keys: set[str]) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(module)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in keys
    ]


# The registry itself; the translation tables (a key is also an i18n id); the built-in prompts,
# whose ids are the step ids the registry binds them to.
KEYS_MAY_STAND_IN = {"studio/features.py", "i18n/__init__.py", "engine/prompts.py"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_feature_key_is_written_outside_the_registry(path):
    if str(path.relative_to(VIBA)) in KEYS_MAY_STAND_IN:
        pytest.skip("where the keys are defined")
    assert literal_keys(tree(path), set(features.keys())) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_page_is_guarded_by_its_own_file_and_names_no_feature(page):
    """Each page takes its title, icon and role from its navigation entry (a feature's from
    the registry), through guard(__file__) or feature_page(__file__)."""
    text = page.read_text(encoding="utf-8")
    assert "guard(__file__)" in text or "feature_page(__file__)" in text
    assert literal_keys(tree(page), set(features.keys())) == []
    assert ":material/" not in text  # an icon is the navigation's


def names_called(module: ast.Module) -> set[str]:
    return {
        node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        for node in ast.walk(module)
        if isinstance(node, ast.Call)
    }


BELOW_THE_ROOT = ("core", "i18n", "store", "engine", "accounts", "studio", "jobs")


@pytest.mark.parametrize(
    "path",
    [p for p in MODULES if p.relative_to(VIBA).parts[0] in BELOW_THE_ROOT],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_below_the_composition_root_nothing_reads_the_settings_itself(path):
    """What a layer below viba.services needs of the settings is handed to it."""
    if path == VIBA / "core" / "config.py":
        pytest.skip("where get_settings is defined")
    assert "get_settings" not in names_called(tree(path))
