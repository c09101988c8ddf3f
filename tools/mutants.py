#!/usr/bin/env python3
"""Mutation check: apply named, realistic mutants to sipcore's source one at a time and run the
tests that should catch each one.  A mutant is *killed* when those tests fail, *survived* when
they pass.  Every listed mutant must be killed; the script exits 1 otherwise.

The mutants live in ``tools/mutants/<area>.py`` (message, registration, publication,
subscription, invitation, sdp, signals, uri, ...), each a list ``MUTANTS`` of dicts:

    dict(name="registration-queue-dropped",          # unique, kebab-case
         why="calls during a transaction dropped",    # the broken behaviour, in words
         file="src/sipcore/primitives/registration.py",
         old="...exact text...", new="...replacement...",   # `old` must occur exactly once
         tests=["tests/interop/test_registration.py::test_spec_example_register_unregister"])

Each mutant runs in a scratch copy of ``src/`` and ``tests/`` (the live tree is never
touched), with that copy first on PYTHONPATH, so the built cffi module is reused and only
Python source is mutated.  A mutant whose ``old`` text is missing or repeated is reported as
``STALE`` (the source moved on: update the mutant) and fails the run too.

    python tools/mutants.py                  # all mutants
    python tools/mutants.py --area invitation --area sdp
    python tools/mutants.py --name registration-queue-dropped
    python tools/mutants.py --list           # names, files, tests; runs nothing
    python tools/mutants.py --jobs 2         # two mutants at once
"""
from __future__ import annotations

import argparse
import concurrent.futures
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANT_DIR = Path(__file__).resolve().parent / "mutants"
KEYS = {"name", "why", "file", "old", "new", "tests"}


def load(areas: list[str] | None = None) -> list[dict]:
    mutants = []
    for path in sorted(MUTANT_DIR.glob("*.py")):
        if path.name.startswith("_") or (areas and path.stem not in areas):
            continue
        spec = importlib.util.spec_from_file_location(f"_mutants_{path.stem}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        for m in mod.MUTANTS:
            missing = KEYS - set(m)
            if missing:
                raise SystemExit(f"{path.name}: mutant {m.get('name')!r} lacks {sorted(missing)}")
            mutants.append(dict(m, area=path.stem))
    names = [m["name"] for m in mutants]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise SystemExit(f"duplicate mutant names: {sorted(dupes)}")
    return mutants


def scratch_copy(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", ".pytest_cache", ".hypothesis", "*.egg-info")
    shutil.copytree(ROOT / "src", dest / "src", ignore=ignore)
    shutil.copytree(ROOT / "tests", dest / "tests", ignore=ignore)
    for name in ("pyproject.toml",):
        shutil.copy2(ROOT / name, dest / name)


def run_one(m: dict, timeout: float) -> tuple[str, float, str]:
    """Returns (verdict, seconds, detail): KILLED, SURVIVED, STALE or ERROR."""
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"mutant-{m['name']}-") as tmp:
        tmp = Path(tmp)
        scratch_copy(tmp)
        target = tmp / m["file"]
        text = target.read_text()
        count = text.count(m["old"])
        if count != 1:
            return "STALE", 0.0, f"`old` occurs {count} times in {m['file']}"
        target.write_text(text.replace(m["old"], m["new"]))
        env = dict(os.environ, PYTHONPATH=str(tmp / "src"), PYTHONDONTWRITEBYTECODE="1")
        env.pop("PYTEST_ADDOPTS", None)
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
               "-p", "no:randomly", "--timeout", "120", *m["tests"]]
        try:
            proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return "KILLED", time.monotonic() - start, "tests timed out (a hang counts as caught)"
        took = time.monotonic() - start
        tail = (proc.stdout.strip().splitlines() or [""])[-1]
        if proc.returncode == 1:
            return "KILLED", took, tail
        if proc.returncode == 0:
            return "SURVIVED", took, tail
        return "ERROR", took, f"pytest exit {proc.returncode}: {tail}\n{proc.stderr[-2000:]}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--area", action="append", help="only this area (file stem); repeatable")
    ap.add_argument("--name", action="append", help="only this mutant; repeatable")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--jobs", type=int, default=1, help="mutants run at once (default 1)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per mutant's tests")
    args = ap.parse_args(argv)
    mutants = load(args.area)
    if args.name:
        unknown = set(args.name) - {m["name"] for m in mutants}
        if unknown:
            raise SystemExit(f"unknown mutant(s): {sorted(unknown)}")
        mutants = [m for m in mutants if m["name"] in args.name]
    if args.list:
        for m in mutants:
            print(f"{m['name']:45} {m['file']}\n    {m['why']}\n    tests: {' '.join(m['tests'])}")
        print(f"{len(mutants)} mutants")
        return 0
    print(f"mutants: {len(mutants)} in {len({m['area'] for m in mutants})} areas, "
          f"{args.jobs} at a time", flush=True)
    t0 = time.monotonic()
    results = {}
    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        futures = {pool.submit(run_one, m, args.timeout): m for m in mutants}
        for fut in concurrent.futures.as_completed(futures):
            m = futures[fut]
            verdict, took, detail = fut.result()
            results[m["name"]] = verdict
            print(f"{verdict:8} {took:6.1f}s  {m['name']}: {detail}", flush=True)
    counts = {v: list(results.values()).count(v) for v in ("KILLED", "SURVIVED", "STALE", "ERROR")}
    print(f"mutants: {counts['KILLED']} killed, {counts['SURVIVED']} survived, "
          f"{counts['STALE']} stale, {counts['ERROR']} errors of {len(results)} "
          f"in {time.monotonic() - t0:.0f} s")
    bad = [n for n, v in results.items() if v != "KILLED"]
    if bad:
        print("not killed: " + ", ".join(sorted(bad)))
    print(f"mutants: {counts['KILLED']} passed, {len(bad)} failed")   # killed = passed
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
