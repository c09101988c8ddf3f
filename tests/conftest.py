"""Shared fixtures.  The Engine is a process-wide singleton: each test that needs one gets
it started on loopback and stopped afterwards; other endpoints are child processes."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from sipcore import Engine  # noqa: E402

pytest_plugins = ["pytester"]      # tests/plugin: pytest's own fixture for testing plugins

LOOPBACKS = ["127.0.0.1", "::1"]


def host(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip


def in_threads(worker, count: int = 8, timeout: float = 30.0) -> list[BaseException]:
    """Run ``worker(i)`` for i in range(count) on as many threads at once, wait for them
    (``timeout`` each) and return the exceptions they raised."""
    import threading
    errors: list[BaseException] = []

    def run(i):
        try:
            worker(i)
        except Exception as exc:  # pragma: no cover - the caller asserts there are none
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return errors


def stop_behind_a_hand_off(stop, ua, go, sender) -> None:
    """``sender`` (a started thread) is held inside a call handed over without waiting (under
    the hand-off queue's lock) until ``go`` is set: run ``stop`` (Engine.stop) on a thread of
    its own, wait until the poll thread is past everything but the queue's last call-out
    (``ua.running`` False), let the sender go and join both."""
    import threading
    stopper = threading.Thread(target=stop)
    stopper.start()
    deadline = time.monotonic() + 5
    while ua.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not ua.running
    go.set()
    sender.join(5)
    stopper.join(10)


def pjmedia_print(pool, sdp) -> str:
    """pjmedia_sdp_print of a ``pjmedia_sdp_session *`` (in the poll thread's ``pool``)."""
    from sipcore._pj import ffi, lib
    buf = ffi.new("char[]", 1 << 17)
    n = lib.pjmedia_sdp_print(sdp, buf, 1 << 17)
    assert n >= 0
    return ffi.unpack(buf, n).decode("utf-8", "surrogateescape")


def pjmedia_parse(pool, text: str | bytes):
    """pjmedia_sdp_parse of ``text`` in ``pool``: the ``pjmedia_sdp_session *`` (its strings
    point into a copy of the text in the pool)."""
    from sipcore._pj import ffi, lib
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    buf = ffi.cast("char *", lib.pj_pool_alloc(pool, len(data) + 1))
    ffi.memmove(buf, data + b"\0", len(data) + 1)
    out = ffi.new("pjmedia_sdp_session **")
    assert lib.pjmedia_sdp_parse(pool, buf, len(data), out) == lib.PJ_SUCCESS
    return out[0]


def sdp_from_pjmedia(sdp, size: int = 64):
    """An SDPSession from a ``pjmedia_sdp_session *`` as sipcore reads one (sc_sdp_flat, in a
    buffer of ``size`` bytes first, grown as the glue asks)."""
    from sipcore import _flat
    from sipcore.sdp import _flat_of_pj, _from_flat
    return _from_flat(_flat_of_pj(sdp, _flat.Buffer(size)))


def print_with_pjmedia(session) -> str:
    """pjmedia_sdp_print of ``session`` as PJMEDIA gets it (sc_sdp_from_flat of its flat form),
    on the Engine's poll thread."""
    from sipcore import sdp
    return sdp.with_pool("test", lambda pool: pjmedia_print(pool, sdp._pj_from_flat(
        pool, sdp._flat(session))))


@contextlib.contextmanager
def calls_on_state(signal, obj, state, *calls):
    """While inside, the first ``signal`` notification from ``obj`` with ``state`` runs
    ``calls`` in its receiver, on the poll thread: the calls are made while that state holds,
    whatever the network does meanwhile (a queue test made from the test's own thread races
    with the server's answer)."""
    done = []

    def receiver(sender, **data):
        if sender is obj and data.get("state") == state and not done:
            done.append(True)
            for call in calls:
                call()

    signal.connect(receiver, weak=False)
    try:
        yield done
    finally:
        signal.disconnect(receiver)


@pytest.fixture(scope="module")
def running_engine():
    """One Engine run for a whole module (property tests, parsers): loopback, quiet."""
    e = Engine()
    if e.is_running:
        e.stop()
    e.start(local_ip="127.0.0.1", log_level=0, local_tls_port=None)
    yield e
    e.stop()


# engine, engine_factory, recorder, kamailio, baresip, coturn, sipcore_peer: the sipcore
# pytest plugin's fixtures (src/sipcore/testing/plugin.py, docs/testing.md)

@pytest.fixture
def kam(kamailio_factory):
    """kamailio (the plugin's) as registrar/proxy/presence server, with users alice/apw and
    bob/bpw; one worker per transport (the plugin's default: kamailio 5.6's db_sqlite sets no
    busy timeout, so two workers writing the presentity table at once fail with "database is
    locked" and the PUBLISH gets a 500, in about 1 of 10 publish/unpublish cycles)."""
    return kamailio_factory(users={"alice": "apw", "bob": "bpw"})


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    """A CA and a server certificate for 127.0.0.1 and ::1, made with the openssl CLI."""
    d = tmp_path_factory.mktemp("tls")
    ca_key, ca_crt = d / "ca.key", d / "ca.crt"
    key, csr, crt = d / "server.key", d / "server.csr", d / "server.crt"
    ext = d / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1,IP:::1\nbasicConstraints=CA:FALSE\n")
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key),
        "-out", str(ca_crt), "-days", "2", "-subj", "/CN=sipcore test CA")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
        "-subj", "/CN=127.0.0.1")
    run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(crt), "-days", "2", "-extfile", str(ext))
    return {"ca": str(ca_crt), "cert": str(crt), "key": str(key)}
