"""The build: without any pjproject, sipcore's build stops with a message naming the fix."""
import glob
import importlib.util
import os
import re
import subprocess
import sys

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src", "sipcore")


def test_build_without_pjproject_names_build_pjsip(tmp_path):
    env = dict(os.environ, SIPCORE_CACHE_DIR=str(tmp_path), PKG_CONFIG_PATH=str(tmp_path),
               PKG_CONFIG_LIBDIR=str(tmp_path))
    r = subprocess.run([sys.executable, "-c", "import _ffi_build"], cwd=SRC, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "build_pjsip.py" in r.stderr and "libpjproject" in r.stderr


def test_module_is_linked_with_rpath_and_imports_without_ld_library_path():
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    r = subprocess.run([sys.executable, "-c", "import sipcore; print(sipcore.PJSIP_VERSION)"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    major, minor = map(int, r.stdout.strip().split(".")[:2])
    assert (major, minor) >= (2, 12)


def _ffi_build():
    path = os.path.join(SRC, "_ffi_build.py")
    spec = importlib.util.spec_from_file_location("_sipcore_ffi_build", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_header_is_what_cffi_reads_minus_the_c_only_parts():
    b = _ffi_build()
    text = b.cdef_text(b._read("sipcore.h"))
    assert not [line for line in text.splitlines() if line.startswith("#")]
    assert "__typeof__" not in text and "#include" not in text
    assert 'extern "Python+C" {' in text and "SC_PYTHON_CALLBACKS" not in text
    assert "sc_msg_send" in text and "SC_INV_EV_CANCEL = 6" in text
    assert b.WARNINGS == ["-Wall", "-Wextra", "-Werror"]


def test_every_declared_function_and_constant_is_used_by_the_python_side():
    """Nothing is declared that nothing uses: each is reached as ``lib.NAME``, or, for a
    callback, by the name its trampoline is registered under (a string, or the name of the
    function ``ffi.def_extern()`` decorates)."""
    b = _ffi_build()
    cdef = "\n".join(b._read("decl", name) for name in b.DECLS) + b.cdef_text(b._read("sipcore.h"))
    cdef = re.sub(r"/\*.*?\*/", "", cdef, flags=re.S)
    names = set(re.findall(r"\b([A-Za-z_]\w*)\s*\(", cdef)) - {"void", "int"}
    names |= set(re.findall(r"^#define\s+(\w+)", cdef, flags=re.M))
    root = os.path.join(SRC, "..", "..")
    python = ""
    for folder in ("src", "tests", "benchmarks"):
        for path in glob.glob(os.path.join(root, folder, "**", "*.py"), recursive=True):
            if not path.endswith("_ffi_build.py"):
                with open(path) as fh:
                    python += fh.read()
    used = [rf"lib\.{n}\b|[\"']{n}[\"']|def {n}\(" for n in sorted(names)]
    assert [n for n, pattern in zip(sorted(names), used) if not re.search(pattern, python)] == []
