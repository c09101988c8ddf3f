"""The layers of src/sipcore, read from the source: every import of every module (those inside
functions too) as an edge of the package's import graph.

- no import loop;
- the values (``sdp/``, ``uri``, ``route``, ``credentials``, ``errors``) import nothing from the
  Engine, the UA or the primitives (SDP reaches PJMEDIA through ``sdp.with_pool``, which the
  UA provides);
- the core (``_ua``, ``engine``) imports no primitive;
- every ``extern "Python"`` callback of ``sipcore.h`` is defined in ``_callbacks.py``, and
  nowhere else.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "sipcore"
VALUES = ("sipcore.sdp", "sipcore.uri", "sipcore.route", "sipcore.credentials", "sipcore.errors")
UPPER = ("sipcore.engine", "sipcore._ua", "sipcore.primitives", "sipcore._callbacks")


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = (package.name,) + path.relative_to(package).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def edges(package: Path = PACKAGE) -> set[tuple[str, str]]:
    """(importer, imported) for every import of a module of the package, at any depth (the
    compiled cffi module, sipcore._pjsip, is no node: it imports nothing)."""
    mods = modules(package)
    compiled = {f"{package.name}._pjsip"}
    out = set()
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
                # "from . import x" imports the module x when there is one, else a name of base
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base
                           for a in node.names]
            for target in targets:
                if _inside(target, tuple(compiled)):
                    continue
                while target and target not in mods:        # sipcore._pjsip (C), a.b.name
                    target = target.rpartition(".")[0]
                if target and target != name:
                    out.add((name, target))
    return out


def _show(graph: set[tuple[str, str]]) -> str:
    return "import graph (importer -> imported):\n" + "\n".join(
        f"  {a} -> {b}" for a, b in sorted(graph))


def _cycle(graph: set[tuple[str, str]]) -> list[str] | None:
    succ: dict[str, list[str]] = {}
    for a, b in graph:
        succ.setdefault(a, []).append(b)
    state: dict[str, int] = {}          # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(succ.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(succ):
        if node not in state and (found := visit(node)):
            return found
    return None


def _inside(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_the_graph_is_read_at_every_depth(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .a import x\nVERSION = 1\n")
    (pkg / "a.py").write_text("import os\nfrom ._pjsip import lib\n"
                              "def f():\n    from .sub import b\n    from . import VERSION\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("class C:\n    def m(self):\n        import pkg.a\n"
                                      "        from .. import sub\n        from ..a import f\n")
    assert edges(pkg) == {("pkg", "pkg.a"), ("pkg.a", "pkg.sub.b"), ("pkg.a", "pkg"),
                          ("pkg.sub.b", "pkg.a"), ("pkg.sub.b", "pkg.sub")}
    assert _cycle(edges(pkg)) in (["pkg.a", "pkg.sub.b", "pkg.a"], ["pkg", "pkg.a", "pkg"])
    graph = edges()
    assert ("sipcore.engine", "sipcore._ua") in graph, _show(graph)


def test_no_import_loop():
    graph = edges()
    cycle = _cycle(graph)
    assert cycle is None, f"import loop: {' -> '.join(cycle)}\n{_show(graph)}"


def test_values_import_nothing_from_the_engine_ua_or_primitives():
    graph = edges()
    bad = sorted((a, b) for a, b in graph if _inside(a, VALUES) and _inside(b, UPPER))
    assert bad == [], f"{bad}\n{_show(graph)}"


def test_the_core_imports_no_primitive():
    graph = edges()
    bad = sorted((a, b) for a, b in graph
                 if a in ("sipcore._ua", "sipcore.engine") and _inside(b, ("sipcore.primitives",
                                                                          "sipcore._callbacks")))
    assert bad == [], f"{bad}\n{_show(graph)}"


def test_every_callback_is_a_trampoline_of_the_callbacks_module():
    header = (PACKAGE / "_cdefs" / "sipcore.h").read_text()
    block = re.search(r"^SC_PYTHON_CALLBACKS_BEGIN$(.*?)^SC_PYTHON_CALLBACKS_END$", header,
                      re.M | re.S).group(1)
    declared = set(re.findall(r"\b(sc_py_\w+)\s*\(", block))
    defined = {}
    for name, path in modules().items():
        for found in re.findall(r"""(?:trampoline|def_extern)\(\s*(?:name=)?["'](sc_py_\w+)""",
                                path.read_text()):
            defined.setdefault(found, []).append(name)
    assert declared and set(defined) == declared
    assert {name: where for name, where in defined.items() if where != ["sipcore._callbacks"]} == {}
    assert ("sipcore", "sipcore._callbacks") in edges()     # defined before an Engine can start


def test_import_sipcore_leaves_asyncio_out_until_aio_is_used():
    """``sipcore.aio`` is loaded on first use: asyncio (with ssl, socket...) costs a process
    5-6 MB of RSS, which the idle-RSS benchmark counts and a non-asyncio application should not
    pay."""
    import subprocess
    import sys
    code = ("import sys, sipcore; assert 'asyncio' not in sys.modules, 'asyncio imported'; "
            "from sipcore import aio; assert aio.__name__ == 'sipcore.aio'; "
            "assert sipcore.aio is aio and 'asyncio' in sys.modules; print('ok')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
