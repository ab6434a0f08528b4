"""The layout's one hard rule: app/sentiment is an island (see [tool.importlinter] in
pyproject.toml). These tests run the import contract and keep it complete."""

from __future__ import annotations

import ast
import sys
import tomllib

from importlinter.cli import lint_imports

from app.config import PROJECT_ROOT

APP = PROJECT_ROOT / "app"
SENTIMENT = APP / "sentiment"
# What the model side may import besides itself and the standard library.
THIRD_PARTY = {
    "torch",
    "transformers",
    "numpy",
    "sklearn",
    "tqdm",
    "matplotlib",
    "onnxruntime",
    "onnx",
    "openvino",
    "nncf",
}


def _contract() -> dict[str, list[str]]:
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    [contract] = config["tool"]["importlinter"]["contracts"]
    return contract  # type: ignore[no-any-return]


def test_the_import_contract_is_kept() -> None:
    config = str(PROJECT_ROOT / "pyproject.toml")
    assert lint_imports(config_filename=config, no_cache=True, no_logo=True) == 0


def test_the_contract_forbids_every_other_module_of_the_app() -> None:
    siblings = {
        f"app.{path.stem}"
        for path in APP.iterdir()
        if path.name != "__init__.py"
        and path.name != "sentiment"
        and (path.suffix == ".py" or (path / "__init__.py").exists())
    }

    assert siblings <= set(_contract()["forbidden_modules"])


def test_the_model_side_imports_only_its_own_libraries() -> None:
    imported: dict[str, set[str]] = {}
    for path in SENTIMENT.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                imported.setdefault(name.split(".")[0], set()).add(path.name)
    outside = {
        top: files
        for top, files in imported.items()
        if top not in THIRD_PARTY | {"app", "__future__"} and top not in sys.stdlib_module_names
    }
    app_modules = {
        name
        for path in SENTIMENT.glob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("app")
        for name in [node.module]
    }

    assert outside == {}
    assert all(name.startswith("app.sentiment") for name in app_modules)
