"""Private virtualenvs used by the benchmarks.

The comparison target ``pjsua2-python`` (PyPI) ships its own copy of
pjproject inside a native extension.  Importing it into the same process
as sipcore would put two pjlib copies (with their own globals) in one
address space, and it would pollute the project's environment, so it is
installed into a dedicated venv that is created once and then reused.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

#: Where the pjsua2 venv lives; listed in benchmarks/.gitignore.
PJSUA2_VENV = Path(__file__).resolve().parent / ".venv-pjsua2"

#: Requirement installed into that venv.  2.15.1.post1 (pjproject 2.15.1)
#: is the newest release at the time of writing and has a cp311 manylinux
#: wheel; the import name is ``pjsua2``.
PJSUA2_REQUIREMENT = "pjsua2-python"


def _venv_python(root: Path) -> Path:
    if os.name == "nt":
        return root / "Scripts" / "python.exe"
    return root / "bin" / "python"


def _importable(python: Path, module: str) -> bool:
    """True if ``python -c 'import module'`` succeeds."""
    if not python.exists():
        return False
    probe = subprocess.run(
        [str(python), "-c", f"import {module}; {module}.Endpoint"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return probe.returncode == 0


def pjsua2_python() -> str:
    """Return the path of a Python interpreter that can ``import pjsua2``.

    On first use this creates ``benchmarks/.venv-pjsua2`` (using the
    interpreter running this code, so the wheel's ABI tag matches) and
    runs ``pip install pjsua2-python`` in it.  Later calls only check that
    the import still works and return immediately.  A half-built venv
    (e.g. an interrupted install) is repaired by re-running pip.
    """
    python = _venv_python(PJSUA2_VENV)
    if _importable(python, "pjsua2"):
        return str(python)

    if not python.exists():
        # with_pip=True bootstraps pip via ensurepip (offline, stdlib).
        venv.EnvBuilder(with_pip=True, clear=True).create(PJSUA2_VENV)

    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet",
         "--disable-pip-version-check", PJSUA2_REQUIREMENT],
        check=True,
        stdout=sys.stderr,  # keep the benchmark's stdout clean
    )
    if not _importable(python, "pjsua2"):
        raise RuntimeError(
            f"installed {PJSUA2_REQUIREMENT} into {PJSUA2_VENV} "
            "but 'import pjsua2' still fails")
    return str(python)


if __name__ == "__main__":
    print(pjsua2_python())
