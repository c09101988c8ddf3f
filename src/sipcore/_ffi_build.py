"""Build the out-of-line API-mode cffi module ``sipcore._pjsip``.

The C interface lives in ``_cdefs/`` (after pyca/cryptography's ``_cffi_src`` and pygit2's
``decl/``):

``decl/*.h``    pjproject's declarations that sipcore uses, one file per pjproject library
                (cdef-only: partial structs and ``#define X ...`` let the compiler fill in
                pjproject's layouts and values);
``sipcore.h``   the one header declaring every ``sc_*`` type, enum and function of the glue
                the Python side may use, the ``extern "Python"`` callbacks, and the flat
                formats that cross the boundary; read by the C compiler and by cffi;
``glue*.c``     the glue, each file its own translation unit (``glue.h``: what they share).

pjproject is found with pkg-config (``libpjproject``).  When pkg-config does not find it,
the cache prefix that ``build_pjsip.py`` fills is searched too, so ``pip install .`` works
right after ``python build_pjsip.py`` with no environment variable.  The library folder is
written into the module as an rpath: ``import sipcore`` needs no LD_LIBRARY_PATH.  The glue
compiles with ``-Wall -Wextra -Werror``, pjproject's headers as system headers.
"""
from __future__ import annotations

import glob
import os
import re
import shlex
import subprocess

from cffi import FFI  # type: ignore[import-untyped]  # (cffi ships no stubs; build time only)

HERE = os.path.dirname(os.path.abspath(__file__))
CDEFS = os.path.join(HERE, "_cdefs")
#: cdef order: each file uses only types of the files before it
DECLS = ["pjlib.h", "pjsip.h", "pjsip_ua.h", "pjsip_simple.h", "pjmedia.h", "pjnath.h"]
GLUE = ["glue.c", "glue_clients.c", "glue_flat.c", "glue_inv.c", "glue_sdp.c", "glue_pool.c",
        "glue_bridge.c", "glue_nat.c", "glue_dns.c", "glue_rtp.c", "glue_stream.c",
        "glue_uas.c"]
#: the glue's warnings fail the build (pjproject's are not ours: -isystem)
WARNINGS = ["-Wall", "-Wextra", "-Werror"]

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


def _pkg_config(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["pkg-config", *args], capture_output=True, text=True, env=env)


def pjproject_env() -> dict[str, str]:
    """An environment in which pkg-config finds libpjproject >= MIN_VERSION, or SystemExit."""
    env = dict(os.environ)
    try:
        if _pkg_config(f"--atleast-version={MIN_VERSION}", "libpjproject").returncode == 0:
            return env
    except FileNotFoundError:
        raise SystemExit("sipcore: pkg-config is not installed "
                         "(Debian: apt-get install pkg-config)") from None
    for pcdir in _cache_pc_dirs():
        env["PKG_CONFIG_PATH"] = os.pathsep.join(
            filter(None, [pcdir, os.environ.get("PKG_CONFIG_PATH")]))
        if _pkg_config(f"--atleast-version={MIN_VERSION}", "libpjproject", env=env).returncode == 0:
            return env
    raise SystemExit(
        f"sipcore: no pjproject >= {MIN_VERSION} found by `pkg-config libpjproject`.\n"
        "  Run `python build_pjsip.py` in the sipcore source tree first (it builds a shared\n"
        "  pjproject into ~/.cache/sipcore, where this build finds it), or set PKG_CONFIG_PATH\n"
        "  to the folder holding your own libpjproject.pc.")


def _read(*path: str) -> str:
    with open(os.path.join(CDEFS, *path)) as fh:
        return fh.read()


def cdef_text(header: str) -> str:
    """sipcore.h as cffi's cdef reads it.  cffi does not preprocess: drop the
    ``#ifndef SIPCORE_CDEF`` ... ``#endif`` blocks (C only; not nested) and the remaining
    preprocessor lines (the include guard), and give the callbacks section cffi's
    ``extern "Python+C"`` block."""
    text = re.sub(r"(?ms)^#ifndef SIPCORE_CDEF\b.*?^#endif\b[^\n]*\n", "", header)
    text = re.sub(r"(?m)^#.*\n", "", text)
    return (text.replace("SC_PYTHON_CALLBACKS_BEGIN", 'extern "Python+C" {')
                .replace("SC_PYTHON_CALLBACKS_END", "}"))


def make_ffi() -> FFI:
    env = pjproject_env()
    ffibuilder = FFI()
    ffibuilder.cdef("\n".join(_read("decl", name) for name in DECLS))
    ffibuilder.cdef(cdef_text(_read("sipcore.h")))
    libdir = _pkg_config("--variable=libdir", "libpjproject", env=env).stdout.strip()
    version = _pkg_config("--modversion", "libpjproject", env=env).stdout.strip()
    cflags = shlex.split(_pkg_config("--cflags", "libpjproject", env=env).stdout)
    # Link only the libraries sipcore uses (not pjsua/pjsua2 and their C++ runtime).
    libs = ["pjsip-ua", "pjsip-simple", "pjsip", "pjmedia-codec", "pjmedia",
            "pjmedia-audiodev", "pjnath", "pjlib-util", "pj"]
    ffibuilder.set_source(
        "sipcore._pjsip", '#include "sipcore.h"\n',
        sources=[os.path.join(CDEFS, name) for name in GLUE],
        include_dirs=[CDEFS],
        define_macros=[("SIPCORE_PJ_VERSION", f'"{version}"')] + [
            tuple(f[2:].split("=", 1)) if "=" in f else (f[2:], None)
            for f in cflags if f.startswith("-D")],
        library_dirs=[libdir],
        libraries=libs,
        # DT_RPATH, not DT_RUNPATH: RUNPATH is only used for the module's direct needs,
        # while libpjsip.so itself needs libpjnath.so etc. from the same folder.
        extra_link_args=["-Wl,--disable-new-dtags", f"-Wl,-rpath,{libdir}"],
        extra_compile_args=WARNINGS + [a for f in cflags if f.startswith("-I")
                                       for a in ("-isystem", f[2:])],
    )
    return ffibuilder


ffibuilder = make_ffi()

if __name__ == "__main__":
    ffibuilder.compile(tmpdir=os.path.join(HERE, "..", "..", "build", "cffi"), verbose=True)
