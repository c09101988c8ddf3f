"""Rich displays for notebooks: the ``_repr_html_`` of the values, the primitives and the
recorder, and the recent transitions the primitives keep for their reprs.

Jupyter shows an object by its ``_repr_html_`` when it has one; these are small tables and
``<pre>`` blocks, escaped, with no script and no style sheet, so they read the same in
JupyterLab, classic notebooks, VS Code and a static HTML export.  Imports nothing of sipcore.
"""
from __future__ import annotations

import datetime
import html
from collections import deque
from collections.abc import Iterable
from typing import Any

#: transitions a primitive keeps for its repr (the most recent ones)
HISTORY = 8

_BOX = ('style="border-collapse:collapse; font-family:monospace; font-size:12px; '
        'text-align:left"')
_CELL = 'style="padding:1px 8px; border-bottom:1px solid #ddd; text-align:left"'


def note(obj: Any, prev: Any, state: Any, data: dict[str, Any]) -> None:
    """Keep a transition of ``obj`` (poll thread): when, from, to, and the code/reason or
    method that caused it."""
    history = obj.__dict__.get("_history")
    if history is None:
        history = obj._history = deque(maxlen=HISTORY)
    cause = data.get("code")
    if cause is not None:
        cause = f"{cause} {data.get('reason', '')}".rstrip()
    else:
        cause = data.get("method")
    history.append((datetime.datetime.now(datetime.timezone.utc), prev, state, cause))


def transitions(obj: Any) -> list[tuple[Any, ...]]:
    return list(obj.__dict__.get("_history") or ())


def path(obj: Any) -> str:
    """``A -> B -> C`` of the recent transitions ('' when none)."""
    hist = transitions(obj)
    if not hist:
        return ""
    return " -> ".join([str(hist[0][1])] + [str(h[2]) for h in hist])


def table(rows: Iterable[Iterable[Any]], head: Iterable[str] | None = None) -> str:
    out = [f"<table {_BOX}>"]
    if head is not None:
        out.append("<tr>" + "".join(f"<th {_CELL}>{html.escape(str(h))}</th>" for h in head)
                   + "</tr>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td {_CELL}>{html.escape(str(c))}</td>" for c in row)
                   + "</tr>")
    out.append("</table>")
    return "".join(out)


def titled(title: str, body: str) -> str:
    return (f'<div><div style="font-family:monospace; font-weight:bold; margin:2px 0">'
            f'{html.escape(title)}</div>{body}</div>')


def primitive_html(obj: Any, fields: list[tuple[str, Any]]) -> str:
    """A primitive: its repr as the title, its fields, and its recent transitions."""
    body = table(fields)
    hist = transitions(obj)
    if hist:
        body += table(([t.strftime("%H:%M:%S.%f")[:-3], f"{p} -> {s}", c or ""]
                       for t, p, s, c in hist), head=["time (UTC)", "transition", "cause"])
    return titled(repr(obj), body)


def pre(title: str, text: str) -> str:
    return titled(title, f'<pre style="margin:0; font-size:12px">{html.escape(text)}</pre>')
