"""The slab allocator behind PJSIP's pools (glue_pool.c): it serves the traffic, returns
every block when the Engine stops, and SIPCORE_MALLOC_POOLS switches it off."""
import os
import subprocess
import sys
import textwrap

import pytest

from sipcore import Credentials, Route, SIPURI, _ua, send_message
from sipcore._pj import ffi, lib


@pytest.fixture(autouse=True)
def slab_policy(monkeypatch):
    """These tests are about the slabs: the Engines they start use them even where the run
    selects pjlib's malloc policy for all others (``make asan`` sets SIPCORE_MALLOC_POOLS=1;
    the Engine reads it at start)."""
    monkeypatch.delenv("SIPCORE_MALLOC_POOLS", raising=False)


def usage() -> dict[int, int]:
    live = ffi.new("size_t[256]")
    n = lib.sc_pool_usage(live, 256)
    return {(i + 1) * 256: live[i] for i in range(n) if live[i]}


def _ping(engine, recorder, count: int, transport: str = "udp", body: str = "ping") -> None:
    """``count`` MESSAGEs to itself at once, then wait for every response (200)."""
    port = engine.local_tcp_port if transport == "tcp" else engine.local_udp_port
    for i in range(count):
        send_message(Credentials(SIPURI("127.0.0.1", user="a")),
                     SIPURI("127.0.0.1", user=f"b{i}", port=port), "text/plain", body,
                     Route("127.0.0.1", port, transport))
    for _ in range(count):
        assert recorder.wait_for("SIPEngineGotMessageResponse", timeout=10).data.code == 200


def test_transactions_take_blocks_from_slabs_and_stop_returns_them(engine_factory, recorder):
    e = engine_factory()
    before = sum(usage().values())
    assert before > 0 and lib.sc_pool_slabs() > 0        # the endpoint's own pools
    _ping(e, recorder, 50)
    # finished transactions wait for Timer K/J with their requests and responses
    assert sum(usage().values()) >= before + 50 * 2
    e.stop()
    assert usage() == {}                                  # every block came back ...
    assert lib.sc_pool_slabs() == 0                       # ... and every slab is unmapped
    e2 = engine_factory()                                 # and a new run starts from scratch
    _ping(e2, recorder, 5)


def test_trim_unmaps_empty_slabs_and_keeps_used_ones(engine_factory):
    """A pool of an otherwise unused size class (60 KiB blocks) maps a slab of its own;
    released, it leaves that slab empty but mapped until a trim, which unmaps exactly it
    and returns the count of slabs left; the slabs of live pools stay."""
    e = engine_factory()
    size = 60 * 1024
    lib.sc_pool_trim()
    base, before = lib.sc_pool_slabs(), usage()
    assert base > 0 and not any(k > size - 1024 for k in before)   # no block that large yet

    def make_release_trim():   # on the poll thread: its own idle trim cannot run in between
        pool = lib.pjsip_endpt_create_pool(_ua.current.endpt, b"trim", size - 1024, 4096)
        during = (lib.sc_pool_slabs(), usage())
        lib.pjsip_endpt_release_pool(_ua.current.endpt, pool)
        released = (lib.sc_pool_slabs(), usage())
        return during, released, lib.sc_pool_trim(), lib.sc_pool_slabs()

    (slabs, during), (slabs_released, released), trimmed, after = _ua.current.call(make_release_trim)
    big = {k: v for k, v in during.items() if k > size - 1024}
    assert slabs == base + 1 and list(big.values()) == [1]     # a new slab, one block live
    assert slabs_released == base + 1 and not any(k in released for k in big)  # empty, mapped
    assert trimmed == after == base                             # exactly that slab unmapped
    assert sum(usage().values()) > 0                            # live pools keep theirs


def test_malloc_pools_switch(tmp_path):
    script = textwrap.dedent("""
        import threading
        from sipcore import Engine, Credentials, Route, SIPURI, send_message, signals
        from sipcore._pj import lib
        e = Engine()
        e.start(local_ip="127.0.0.1", local_udp_port=0, local_tcp_port=None, local_tls_port=None)
        got = threading.Event()
        codes = []
        def on(sender, code, **d):
            codes.append(code); got.set()
        signals.SIPEngineGotMessageResponse.connect(on)
        port = e.local_udp_port
        send_message(Credentials(SIPURI("127.0.0.1", user="a")), SIPURI("127.0.0.1", port=port),
                     "text/plain", "x", Route("127.0.0.1", port))
        got.wait(10)
        print(codes, lib.sc_pool_slabs())
        e.stop()
    """)
    env = dict(os.environ, SIPCORE_MALLOC_POOLS="1")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[200]", "0"]


def test_burst_over_tcp_gives_its_slabs_back(engine_factory, recorder):
    """Over TCP, transactions end at once (Timer J/K are 0): after a burst the blocks are free
    again, and trimming unmaps the slabs the burst added."""
    import time
    e = engine_factory()
    time.sleep(0.2)
    lib.sc_pool_trim()
    base_slabs = lib.sc_pool_slabs()
    for _ in range(3):
        _ping(e, recorder, 100, "tcp", "x" * 2000)
    peak_slabs = lib.sc_pool_slabs()
    deadline = time.monotonic() + 5
    while lib.sc_pool_trim() > base_slabs + 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert peak_slabs > base_slabs                 # the burst needed slabs of its own ...
    assert lib.sc_pool_slabs() <= base_slabs + 2   # ... and gave them back


def test_trim_gives_back_the_pages_an_emptied_slab_used_before(engine_factory):
    """A slab whose blocks were all freed starts again from its bottom; one block taken from
    it before a trim must not keep the pages its earlier blocks dirtied resident."""
    import ctypes
    e = engine_factory()
    libc = ctypes.CDLL(None, use_errno=True)
    slab, page, block = 1 << 20, 4096, 61440     # a 60 KiB class: nothing else uses it

    def resident(addr: int) -> int:
        vec = (ctypes.c_ubyte * (slab // page))()
        assert libc.mincore(ctypes.c_void_p(addr), ctypes.c_size_t(slab), vec) == 0
        return sum(v & 1 for v in vec)

    def run():
        endpt = _ua.current.endpt
        pools = [lib.pjsip_endpt_create_pool(endpt, b"t", block, block) for _ in range(16)]
        for p in pools:                          # dirty (almost) every page of the slab
            ffi.memmove(lib.pj_pool_alloc(p, 50000), b"x" * 50000, 50000)
        addr = int(ffi.cast("uintptr_t", lib.pj_pool_alloc(pools[0], 16))) & ~(slab - 1)
        full = resident(addr)
        for p in pools:
            lib.pjsip_endpt_release_pool(endpt, p)
        one = lib.pjsip_endpt_create_pool(endpt, b"t", block, block)   # block 0 again
        lib.sc_pool_trim()
        after = resident(addr)
        lib.pjsip_endpt_release_pool(endpt, one)
        return full, after

    full, after = _ua.running("test").call(run)
    assert full > 150                            # the 16 blocks were really touched
    assert after <= (block + 8192) // page + 2   # the slab's header and its one block
