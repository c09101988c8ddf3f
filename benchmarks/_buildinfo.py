"""Build options of the two pjproject copies the benchmarks compare, read at run time.

sipcore links to the pjproject build ``build_pjsip.py`` made (2.12.1 here); pjsua2-python
ships its own copy (2.15.1) inside its extension module.  The benchmarks print both, so a
ratio is never read without knowing what each side was built with.  Each side is asked in a
child process of its own interpreter (never both pjlibs in one process):

* ``pj_dump_config()`` of the pjlib actually loaded (found in /proc/self/maps for sipcore,
  in the extension module for pjsua2), called through ctypes after ``pj_init()``: pjlib
  version, compiler, ``PJ_DEBUG``, ioqueue type and size, ...;
* whether ``assert()`` is compiled in: the library imports ``__assert_fail`` (glibc's
  assert) unless it was built with ``-DNDEBUG``;
* sipcore only: the ``#define`` lines of the ``pj/config_site.h`` installed next to that
  library, and ``build_pjsip.py``'s CFLAGS when the library's folder carries the hash of
  ``build_pjsip.py``'s current options (so those are the options it was built with);
* pjsua2 only: the wheel's version (``pjsua2.__version__``) and pjsua's
  ``Endpoint.libVersion()``; the wheel does not record its compiler flags.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: dump lines kept (pj_dump_config's names)
DUMP_KEYS = ("PJ_VERSION", "PJ_CC_NAME/VER_(1,2,3)", "PJ_DEBUG", "PJ_POOL_DEBUG",
             "PJ_ENABLE_EXTRA_CHECK", "ioqueue type", "PJ_IOQUEUE_MAX_HANDLES",
             "PJ_LOG_MAX_LEVEL")

_COMMON = r'''
import ctypes, json, os, re, sys, tempfile
def dump(path):
    """pj_dump_config() of the pjlib in ``path``, its stdout captured from fd 1."""
    so = ctypes.CDLL(path)
    with tempfile.TemporaryFile() as tmp:
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(tmp.fileno(), 1)
        try:
            so.pj_init()
            so.pj_dump_config()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        tmp.seek(0)
        text = tmp.read().decode("utf-8", "replace")
    out = {}
    for line in text.splitlines():
        m = re.search(r"config\.c\s+(\S.*?)\s*:\s(.*)$", line)
        if m:
            out[m.group(1).strip()] = m.group(2).strip()
    return out
def asserts(path):
    with open(path, "rb") as fh:
        return b"__assert_fail" in fh.read()
'''

_SIPCORE = _COMMON + r'''
import sipcore
from sipcore import _options
lib = next(l.split()[-1] for l in open("/proc/self/maps") if re.search(r"/libpj\.so", l))
prefix = os.path.dirname(os.path.dirname(lib))
site = os.path.join(prefix, "include", "pj", "config_site.h")
defines = {}
try:
    for line in open(site):
        m = re.match(r"\s*#\s*define\s+(\w+)\s+(.*?)\s*$", line)
        if m:
            defines[m.group(1)] = m.group(2)
except OSError:
    site = None
print(json.dumps({"version": sipcore.PJSIP_VERSION, "sipcore": sipcore.__version__,
                  "library": lib, "prefix": prefix, "config_site": site,
                  "defines": defines, "dump": dump(lib), "assert": asserts(lib),
                  "poll_spin_us_default": _options.DEFAULT_START_OPTIONS["poll_spin_us"]}))
'''

_PJSUA2 = _COMMON + r'''
import pjsua2
from pjsua2 import pjsua2 as mod
so = mod._pjsua2.__file__
print(json.dumps({"wheel": pjsua2.__version__, "library": so, "dump": dump(so),
                  "assert": asserts(so)}))
'''


def _probe(python: str, code: str) -> dict:
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=str(HERE))
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip() or proc.stdout.strip())[-300:]}
    return json.loads(lines[-1])


def _build_pjsip_cflags(prefix: str) -> str | None:
    """build_pjsip.py's CFLAGS if the library's folder name ends in its options hash."""
    sys.path.insert(0, str(HERE.parent))
    try:
        import build_pjsip  # noqa: PLC0415
    except Exception:  # noqa: BLE001
        return None
    finally:
        sys.path.pop(0)
    try:
        if Path(prefix).name.endswith(build_pjsip.options_key()):
            return build_pjsip.CFLAGS
    except Exception:  # noqa: BLE001
        pass
    return None


def build_options(pjsua2_python: str, sipcore_python: str | None = None) -> dict:
    """``{"sipcore": {...}, "pjsua2": {...}}`` as described in the module docstring."""
    s = _probe(sipcore_python or sys.executable, _SIPCORE)
    if "prefix" in s:
        s["cflags"] = _build_pjsip_cflags(s["prefix"])
    p = _probe(pjsua2_python, _PJSUA2)
    return {"sipcore": s, "pjsua2": p}


def describe(info: dict, spin_note: str = "") -> list[str]:
    """Printable lines for ``build_options()``'s result; ``spin_note`` follows the Engine's
    poll_spin_us default."""
    out = []
    s, p = info["sipcore"], info["pjsua2"]
    for name, d in (("sipcore", s), ("pjsua2", p)):
        if "error" in d:
            out.append(f"  {name:8s} could not be read: {d['error']}")
            continue
        dump = d.get("dump", {})
        cc = dump.get("PJ_CC_NAME/VER_(1,2,3)", "?")
        ioq = f"{dump.get('ioqueue type', '?')} ioqueue, {dump.get('PJ_IOQUEUE_MAX_HANDLES', '?')} handles"
        common = (f"PJ_DEBUG {dump.get('PJ_DEBUG', '?')}, assert() "
                  f"{'on' if d.get('assert') else 'off (NDEBUG)'}, {ioq}, {cc}")
        if name == "sipcore":
            flags = d.get("cflags") or "unknown (library not built by this build_pjsip.py)"
            out.append(f"  sipcore  {d.get('sipcore')} on pjproject {dump.get('PJ_VERSION')} "
                       f"(build_pjsip.py, {d.get('prefix')}): {common}; CFLAGS {flags}")
            defs = d.get("defines", {})
            if defs:
                out.append("           config_site.h: " + ", ".join(
                    f"{k} {v}" for k, v in defs.items()))
            out.append(f"           Engine option poll_spin_us: {d.get('poll_spin_us_default')} "
                       f"(the default on this machine{'; ' + spin_note if spin_note else ''})")
        else:
            out.append(f"  pjsua2   pjsua2-python {d.get('wheel')} wheel, pjproject "
                       f"{dump.get('PJ_VERSION')}: {common}; CFLAGS unknown (not recorded "
                       f"in the wheel)")
    return out


if __name__ == "__main__":
    from _venv import pjsua2_python
    info = build_options(pjsua2_python())
    print("\n".join(describe(info)))
