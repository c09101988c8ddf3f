"""Build the out-of-line API-mode cffi module ``sipcore._pjsip``.

pjproject is found with pkg-config (``libpjproject``).  When pkg-config does not find it,
the cache prefix that ``build_pjsip.py`` fills is searched too, so ``pip install .`` works
right after ``python build_pjsip.py`` with no environment variable.  The library folder is
written into the module as an rpath: ``import sipcore`` needs no LD_LIBRARY_PATH.
"""
from __future__ import annotations

import glob
import importlib
import os
import shlex
import subprocess
import sys

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _cdefs import MODULES  # noqa: E402

MIN_VERSION = "2.12"


def _cache_pc_dirs() -> list[str]:
    root = os.environ.get("SIPCORE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "sipcore")
    dirs = []
    try:  # the build build_pjsip.py made last, with the options of this checkout
        with open(os.path.join(root, "current")) as fh:
            dirs.append(fh.read().strip())
    except OSError:
        pass
    return dirs + sorted(glob.glob(os.path.join(root, "pjproject-*", "lib", "pkgconfig")),
                         key=os.path.getmtime, reverse=True)


def _pkg_config(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["pkg-config", *args], capture_output=True, text=True, env=env)


def pjproject_env() -> dict:
    """An environment in which pkg-config finds libpjproject >= MIN_VERSION, or SystemExit."""
    env = dict(os.environ)
    try:
        if _pkg_config(f"--atleast-version={MIN_VERSION}", "libpjproject").returncode == 0:
            return env
    except FileNotFoundError:
        raise SystemExit("sipcore: pkg-config is not installed (Debian: apt-get install pkg-config)")
    for pcdir in _cache_pc_dirs():
        env["PKG_CONFIG_PATH"] = os.pathsep.join(filter(None, [pcdir, os.environ.get("PKG_CONFIG_PATH")]))
        if _pkg_config(f"--atleast-version={MIN_VERSION}", "libpjproject", env=env).returncode == 0:
            return env
    raise SystemExit(
        "sipcore: no pjproject >= %s found by `pkg-config libpjproject`.\n"
        "  Run `python build_pjsip.py` in the sipcore source tree first (it builds a shared\n"
        "  pjproject into ~/.cache/sipcore, where this build finds it), or set PKG_CONFIG_PATH\n"
        "  to the folder holding your own libpjproject.pc." % MIN_VERSION)


def make_ffi() -> FFI:
    env = pjproject_env()
    mods = [importlib.import_module(f"_cdefs.{name}") for name in MODULES]
    ffibuilder = FFI()
    ffibuilder.cdef("\n".join(m.TYPES for m in mods) + "\n".join(m.FUNCTIONS for m in mods))
    libdir = _pkg_config("--variable=libdir", "libpjproject", env=env).stdout.strip()
    version = _pkg_config("--modversion", "libpjproject", env=env).stdout.strip()
    cflags = shlex.split(_pkg_config("--cflags", "libpjproject", env=env).stdout)
    # Link only the libraries sipcore uses (not pjsua/pjsua2 and their C++ runtime).
    libs = ["pjsip-ua", "pjsip-simple", "pjsip", "pjmedia-codec", "pjmedia",
            "pjmedia-audiodev", "pjnath", "pjlib-util", "pj"]
    source = "\n".join(m.INCLUDES for m in mods)
    source += f'\nconst char *const SIPCORE_BUILT_AGAINST = "{version}";\n'
    source += "\n".join(m.CUSTOMIZATIONS for m in mods)
    ffibuilder.cdef('const char *const SIPCORE_BUILT_AGAINST;')
    ffibuilder.set_source(
        "sipcore._pjsip", source,
        include_dirs=[f[2:] for f in cflags if f.startswith("-I")],
        define_macros=[tuple(f[2:].split("=", 1)) if "=" in f else (f[2:], None)
                       for f in cflags if f.startswith("-D")],
        library_dirs=[libdir],
        libraries=libs,
        # DT_RPATH, not DT_RUNPATH: RUNPATH is only used for the module's direct needs,
        # while libpjsip.so itself needs libpjnath.so etc. from the same folder.
        extra_link_args=["-Wl,--disable-new-dtags", f"-Wl,-rpath,{libdir}"],
        extra_compile_args=["-Wno-unused-function"],
    )
    return ffibuilder


ffibuilder = make_ffi()

if __name__ == "__main__":
    ffibuilder.compile(tmpdir=os.path.join(HERE, "..", "..", "build", "cffi"), verbose=True)
