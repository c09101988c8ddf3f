"""The build: without any pjproject, sipcore's build stops with a message naming the fix."""
import os
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
