"""core never imports PySide6 (import-linter checks the same contract in CI)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "logotag_gui" / "core"


def test_no_core_module_names_qt():
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith(("PySide6", "logotag_gui.qt"))]
    assert offenders == []


def test_importing_all_of_core_loads_no_qt():
    modules = sorted("logotag_gui." + ".".join(p.relative_to(CORE.parent).with_suffix("").parts).removesuffix(".__init__")
                     for p in CORE.rglob("*.py"))
    assert "logotag_gui.core.pipeline.run" in modules
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules) + \
           "bad = [m for m in sys.modules if m.startswith('PySide6')]\nprint(bad)\nsys.exit(1 if bad else 0)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_module_imports_one_that_imports_it_back():
    """No import circle, at run time or for the type checker (an import inside a function counts, and so does one
    under TYPE_CHECKING): the controllers and actions name what they use of the main window in their own
    protocols (ReviewHost, RunHost, ActionHost), the run lock what it calls on the store (LockStore)."""
    import grimp

    graph = grimp.build_graph("logotag_gui", exclude_type_checking_imports=False, cache_dir=None)  # never stale
    circles = []
    for module in sorted(graph.modules):
        for other in graph.find_modules_directly_imported_by(module):
            if module < other and graph.chain_exists(importer=other, imported=module):
                circles.append(f"{module} <-> {other}")
    assert circles == []


# Private names the tests may touch: not the product's.
NOT_THE_PRODUCTS = {
    "os._exit",  # the standard library's way to die without clean-up (a killed worker)
    "self.chat._lock",  # tests/chat_server.py: the test server's own lock
    "bpe._tokenizer",  # tests/tiny_models.py: the tokenizers library hands its trained tokenizer this way
}


def test_tests_use_no_private_name_of_the_product():
    """What a test checks has a public name: no `_name` imported from logotag_gui, read, or patched by name."""
    found = []
    for path in sorted((Path(__file__).parent).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("logotag_gui"):
                found += [f"{path.name}:{node.lineno} imports {a.name}" for a in node.names if _private(a.name)]
            elif isinstance(node, ast.Attribute) and _private(node.attr):
                expression = f"{ast.unparse(node.value)}.{node.attr}"
                if not expression.startswith(("self._", "cls._")) and expression not in NOT_THE_PRODUCTS:
                    found.append(f"{path.name}:{node.lineno} reads {expression}")
            elif isinstance(node, ast.Call) and ast.unparse(node.func).endswith("setattr") and len(node.args) > 1:
                name = node.args[1]
                if isinstance(name, ast.Constant) and isinstance(name.value, str) and _private(name.value):
                    found.append(f"{path.name}:{node.lineno} patches {name.value}")
    assert found == []


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")
