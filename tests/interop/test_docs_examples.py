"""The python code blocks of the README and of docs/tutorial.md and docs/threads.md run as
written (issue #13: "README examples that run as written").

Each file's blocks run in order in one fresh Python process, one namespace (a reader's
session: the blocks continue one another), in a scratch folder; the examples start what they
talk to themselves (a second sipcore process, a throw-away kamailio, on free loopback ports).
A ```text block right after a python block is what that block prints: its lines must appear,
in that order, in what the block printed (``...`` in a line matches any text).  A block after
the line ``<!-- run with pytest -->`` is a test file: it runs under pytest (with sipcore's
plugin) in a folder of its own and must pass.

While the examples run, every notification is recorded: no receiver may raise
(``SIPEngineGotException``), and every data key a notification carried must be named in its
row of docs/notifications.md (every signal documented with its data, shown on real traffic).
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ["README.md", "docs/tutorial.md", "docs/threads.md"]
PYTEST_MARK = "<!-- run with pytest -->"

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)


def blocks(path: Path) -> list[dict]:
    """The fenced blocks of a Markdown file: language, code, first line, expected output
    (the ```text block right after a python block) and whether it is a pytest file."""
    text = path.read_text()
    found = []
    for m in _FENCE.finditer(text):
        before = text[:m.start()]
        found.append({"lang": m.group(1), "code": m.group(2), "start": m.start(),
                      "end": m.end(), "line": before.count("\n") + 2,
                      "pytest": before.rstrip().endswith(PYTEST_MARK)})
    out = []
    for i, b in enumerate(found):
        if b["lang"] != "python":
            continue
        nxt = found[i + 1] if i + 1 < len(found) else None
        if nxt is not None and nxt["lang"] == "text" and not text[b["end"]:nxt["start"]].strip():
            b["expected"] = nxt["code"].splitlines()
        out.append(b)
    return out


DRIVER = r'''
import contextlib, io, json, sys, traceback
from sipcore import NotificationRecorder
blocks = json.load(open(sys.argv[1]))
rec = NotificationRecorder().start()
ns = {"__name__": "__main__"}
results = []

class Tee(io.TextIOBase):
    def __init__(self): self.parts = []
    def write(self, s):
        self.parts.append(s); sys.__stdout__.write(s); return len(s)
    def flush(self): sys.__stdout__.flush()

for b in blocks:
    tee = Tee()
    error = None
    with contextlib.redirect_stdout(tee):
        try:
            exec(compile(b["code"], f"{b['file']}:{b['line']}", "exec"), ns)
        except BaseException:
            error = traceback.format_exc()
    results.append({"line": b["line"], "printed": "".join(tee.parts), "error": error})
    if error:
        break
keys = {}
for n in rec.notifications:
    keys.setdefault(n.name, set()).update(vars(n.data))
json.dump({"results": results, "exceptions": rec.exceptions,
           "keys": {k: sorted(v) for k, v in keys.items()}}, open(sys.argv[2], "w"))
'''


def matches(expected: list[str], printed: str) -> bool:
    """Each expected line (``...``: any text) matches a printed line, in order."""
    lines = iter(printed.splitlines())
    for want in expected:
        pattern = re.compile(".*".join(re.escape(p) for p in want.split("...")) + "$")
        if not any(pattern.match(line) for line in lines):
            return False
    return True


def documented_keys() -> dict[str, str]:
    """name -> the data column of its row in docs/notifications.md."""
    rows = {}
    for line in (ROOT / "docs" / "notifications.md").read_text().splitlines():
        m = re.match(r"\| `(\w+)` \|(.*)\|\s*$", line)
        if m:
            rows[m.group(1)] = m.group(2)
    return rows


def check_keys(keys: dict[str, list[str]]) -> list[str]:
    rows = documented_keys()
    missing = []
    for name, names in keys.items():
        row = rows.get(name, "")
        missing += [f"{name}.{k}" for k in names
                    if k != "timestamp" and not re.search(rf"`(data\.)?{k}`", row)]
    return missing


@pytest.mark.parametrize("doc", DOCS)
def test_the_python_blocks_run_as_written(doc, tmp_path):
    path = ROOT / doc
    code = [dict(b, file=doc) for b in blocks(path) if not b["pytest"]]
    assert code, f"{doc} has no python block"
    (tmp_path / "blocks.json").write_text(json.dumps(code))
    (tmp_path / "driver.py").write_text(DRIVER)
    r = subprocess.run([sys.executable, "driver.py", "blocks.json", "result.json"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())
    for b, res in zip(code, result["results"]):
        assert res["error"] is None, f"{doc}:{b['line']}:\n{res['error']}"
        if "expected" in b:
            assert matches(b["expected"], res["printed"]), (
                f"{doc}:{b['line']} printed:\n{res['printed']}\nexpected:\n"
                + "\n".join(b["expected"]))
    assert len(result["results"]) == len(code)
    assert result["exceptions"] == [], result["exceptions"]
    assert check_keys(result["keys"]) == [], "data keys not in docs/notifications.md"


def test_the_pytest_blocks_pass(tmp_path):
    found = [(doc, b) for doc in DOCS for b in blocks(ROOT / doc) if b["pytest"]]
    assert found, "no block marked to run with pytest"
    for i, (doc, b) in enumerate(found):
        folder = tmp_path / f"t{i}"
        folder.mkdir()
        (folder / f"test_example_{i}.py").write_text(b["code"])
        (folder / "pytest.ini").write_text("[pytest]\n")     # no conftest or ini of ours
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "-p", "no:randomly", folder], cwd=folder, capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, f"{doc}:{b['line']}\n{r.stdout[-3000:]}"
        assert re.search(r"\b1 passed\b", r.stdout), r.stdout


def test_the_extraction_itself(tmp_path):
    md = textwrap.dedent('''\
        ```python
        print("a")
        ```

        ```text
        a
        ```

        <!-- run with pytest -->
        ```python
        def test_x(): pass
        ```
        ```sh
        ls
        ```
        ''')
    path = tmp_path / "sample.md"
    path.write_text(md)
    got = blocks(path)
    assert [(b["code"], b.get("expected"), b["pytest"], b["line"]) for b in got] == [
        ('print("a")\n', ["a"], False, 2), ("def test_x(): pass\n", None, True, 11)]
    assert matches(["200 ...", "x"], "200 OK\ny\nx\n")
    assert not matches(["x", "200 ..."], "200 OK\nx\n")
