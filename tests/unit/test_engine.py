"""The Engine: lifecycle, options, proxied attributes, signals, errors (loopback only)."""

import logging
import time

import pytest

from conftest import in_threads
from sipcore import (Engine, EngineNotRunningError, InvalidStateError, SIPCoreError, SIPURI,
                     signals)


def test_singleton():
    assert Engine() is Engine()


def test_calls_before_start_raise_sipcoreerror():
    e = Engine()
    assert not e.is_running
    for attr in ("local_udp_port", "user_agent", "codecs", "available_codecs", "events"):
        with pytest.raises(SIPCoreError, match="running Engine"):
            getattr(e, attr)
    with pytest.raises(EngineNotRunningError):
        e.parse_sip_uri("sip:a@b.c")
    with pytest.raises(EngineNotRunningError):
        e.add_event("foo", ["application/foo"])
    e.stop()  # a no-op when stopped


def test_start_stop_start_stop_and_signal_order(recorder):
    e = Engine()
    for ip in ("127.0.0.1", "::1"):
        e.start(local_ip=ip, log_level=0, local_tls_port=None)
        assert e.is_running and e.local_ip == ip
        assert isinstance(e.local_udp_port, int) and e.local_udp_port > 0
        e.stop()
        assert not e.is_running
        with pytest.raises(EngineNotRunningError):
            e.local_udp_port
    names = recorder.names_seen("SIPEngineWillStart", "SIPEngineDidStart", "SIPEngineWillEnd",
                                "SIPEngineDidEnd")
    assert names == ["SIPEngineWillStart", "SIPEngineDidStart", "SIPEngineWillEnd",
                     "SIPEngineDidEnd"] * 2
    for n in recorder.all():
        assert n.sender is e and n.data.timestamp.tzinfo is not None


def test_start_twice_raises_invalid_state(engine):
    with pytest.raises(InvalidStateError, match="running"):
        engine.start()


@pytest.mark.parametrize("opts, exc, word", [
    ({"bogus": 1}, TypeError, "bogus"),
    ({"local_udp_port": "5060"}, TypeError, "local_udp_port"),
    ({"local_tcp_port": 99999}, ValueError, "local_tcp_port"),
    ({"local_ip": "localhost"}, ValueError, "local_ip"),
    ({"log_level": 9}, ValueError, "log_level"),
    ({"sample_rate": 44}, ValueError, "sample_rate"),
    ({"rtp_port_range": (5000,)}, TypeError, "rtp_port_range"),
    ({"tls_protocol": "SSLv3"}, ValueError, "protocol"),
    ({"tls_ca_file": "/nonexistent/ca.pem"}, ValueError, "tls_ca_file"),
    ({"codecs": ["nosuchcodec"]}, ValueError, "nosuchcodec"),
    ({"events": {"presence": "application/pidf+xml"}}, TypeError, "accept_types"),
    ({"user_agent": "x\r\nEvil: 1"}, ValueError, "user_agent"),
])
def test_bad_start_options_raise_naming_them(opts, exc, word):
    e = Engine()
    with pytest.raises(exc, match=word):
        e.start(**{"local_ip": "127.0.0.1", "log_level": 0, "local_tls_port": None, **opts})
    assert not e.is_running


def test_port_in_use_raises_pjsiperror_and_engine_can_start_after(engine_factory, recorder):
    import socket
    from sipcore import PJSIPError
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    try:
        with pytest.raises(PJSIPError) as info:
            engine_factory(local_udp_port=s.getsockname()[1])
        assert info.value.status != 0 and "UDP" in str(info.value)
        assert recorder.names_seen("SIPEngineWillStart", "SIPEngineDidStart", "SIPEngineDidFail") == [
            "SIPEngineWillStart", "SIPEngineDidFail"]
    finally:
        s.close()
    e = engine_factory()
    assert e.is_running


def test_runtime_settable_attributes(engine):
    engine.user_agent = "test-agent/1.0"
    assert engine.user_agent == "test-agent/1.0"
    engine.log_level = 3
    assert engine.log_level == 3
    engine.trace_sip = True
    assert engine.trace_sip is True
    engine.rtp_port_range = (50000, 50100)
    assert engine.rtp_port_range == (50000, 50100)
    engine.playback_dtmf = False
    assert engine.playback_dtmf is False
    with pytest.raises(AttributeError, match="read-only"):
        engine.local_ip = "127.0.0.2"
    with pytest.raises(AttributeError, match="set_local_udp_port"):
        engine.local_udp_port = 5
    with pytest.raises(TypeError, match="trace_sip"):
        engine.trace_sip = "yes"


def test_codecs(engine):
    avail = engine.available_codecs
    assert {"PCMU", "PCMA", "speex", "G722", "GSM", "opus"} <= set(avail)
    # spec: the default is speex, G722, PCMU, PCMA, iLBC, GSM, limited to what is available
    # (we also put opus first: a deviation, not pinned here); every default is available and
    # the spec's codecs keep the spec's order
    spec_default = ["speex", "G722", "PCMU", "PCMA", "iLBC", "GSM"]
    assert set(engine.codecs) <= set(avail)
    assert [c for c in engine.codecs if c in spec_default] == [c for c in spec_default if c in avail]
    engine.codecs = ["gsm", "Speex", "pcmu", "G722"]    # order as given, case-insensitive
    assert engine.codecs == ["GSM", "speex", "PCMU", "G722"]
    engine.codecs = ["pcma", "PCMU"]
    assert engine.codecs == ["PCMA", "PCMU"]  # canonical spelling, order kept
    assert "iLBC" not in avail              # (not built): asking for it is refused ...
    with pytest.raises(ValueError, match="iLBC"):
        engine.codecs = ["iLBC"]
    with pytest.raises(ValueError, match="twice"):
        engine.codecs = ["PCMU", "pcmu"]
    assert engine.codecs == ["PCMA", "PCMU"]                # ... and changes nothing


def test_codecs_start_option_keeps_order_and_case(engine_factory):
    e = engine_factory(codecs=["pcmu", "OPUS", "g722"])
    assert e.codecs == ["PCMU", "opus", "G722"]


def _own_ports(table: str) -> set[int]:
    """Local ports of this process's sockets, from /proc (another process may take a port we
    freed at any moment, so binding it again would prove nothing)."""
    import os
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    with open(f"/proc/net/{table}") as fh:
        next(fh)
        for line in fh:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].split(":")[1], 16))
    return ports


def test_transports_can_be_moved_and_disabled(engine):
    old = engine.local_udp_port
    assert old in _own_ports("udp")
    engine.set_local_udp_port(0)
    new = engine.local_udp_port
    assert new and new != old
    assert new in _own_ports("udp") and old not in _own_ports("udp")  # the old port was released
    tcp = engine.local_tcp_port
    assert tcp in _own_ports("tcp")
    engine.set_local_tcp_port(None)
    assert engine.local_tcp_port is None
    assert tcp not in _own_ports("tcp")
    engine.set_local_tcp_port(0)
    assert engine.local_tcp_port > 0
    with pytest.raises(TypeError, match="value"):
        engine.set_local_udp_port("x")


def test_events(engine):
    assert engine.events["presence"] == ["application/pidf+xml"]
    engine.add_event("x-test", ["application/x-test"])
    assert engine.events["x-test"] == ["application/x-test"]
    with pytest.raises(ValueError, match="already"):
        engine.add_event("x-test", ["application/other"])
    with pytest.raises(ValueError, match="type/subtype"):
        engine.add_event("x-other", ["nonsense"])


def test_parse_sip_uri(engine):
    u = engine.parse_sip_uri('"Alice A" <sips:al%20ice@example.com:5071;transport=tcp;lr;x=1?Subject=hi>')
    assert u == SIPURI("example.com", user="al ice", port=5071, display="Alice A", secure=True,
                       parameters={"transport": "tcp", "lr": None, "x": "1"},
                       headers={"Subject": "hi"})
    assert engine.parse_sip_uri("sip:[::1]:5060").host == "::1"
    for bad in ("", "not a uri", "sip:", "tel:+123", "<sip:a@b", "sip:a@b\x00c", "x" * 10000):
        with pytest.raises(SIPCoreError):
            engine.parse_sip_uri(bad)
    with pytest.raises(TypeError, match="uri_string"):
        engine.parse_sip_uri(b"sip:a@b")


def test_parse_sip_uri_refuses_a_parameter_or_header_given_twice(engine):
    """A SIPURI holds each parameter and header once (dicts): a URI naming one twice is refused
    with its name instead of one value being dropped (hypothesis found ``;ttl=;ttl=0``, whose
    ttl=0 was lost); the forms once each still parse.  (PJSIP's parser itself keeps the last
    of a repeated user/method/transport/maddr/ttl/lr parameter: that is not seen here.)"""
    for text, name in (("sips:10.10.100.100;ttl=;ttl=0;lr", "ttl"), ("sip:h;x=1;x=2", "x"),
                       ("sip:h?Subject=a&Subject=b", "Subject"), ("<sip:h;a;a=1>", "a")):
        with pytest.raises(SIPCoreError, match=f"'{name}' appears more than once"):
            engine.parse_sip_uri(text)
    u = engine.parse_sip_uri("sip:h;ttl=0;x=1;lr?Subject=a")
    assert u.parameters == {"ttl": "0", "x": "1", "lr": None} and u.headers == {"Subject": "a"}
    assert engine.parse_sip_uri(str(u)) == u and str(engine.parse_sip_uri(str(u))) == str(u)


def test_parse_sip_uri_every_field_and_the_rare_forms(engine):
    # every field of the URI flat form (sc_uri_pj_flat), in PJSIP's parameter order
    u = engine.parse_sip_uri('"A \\"q\\" B" <sip:u@h:5;lr;ttl=3;maddr=1.2.3.4;user=phone;'
                             'method=INVITE;foo;bar=baz?Subject=hi&X=>')
    assert (u.display, u.user, u.host, u.port, u.secure) == ('A "q" B', "u", "h", 5, False)
    assert list(u.parameters.items()) == [("user", "phone"), ("method", "INVITE"),
                                          ("maddr", "1.2.3.4"), ("ttl", "3"), ("lr", None),
                                          ("foo", None), ("bar", "baz")]
    assert u.headers == {"Subject": "hi", "X": ""}
    # a value of "\x01" (the flat form's mark for "no value") is escaped like any other
    assert engine.parse_sip_uri("sip:u@h;x=%01;transport=%01").parameters == {
        "transport": "\x01", "x": "\x01"}
    long_user = "u" * 3000                    # longer than the buffer it is read into first
    assert engine.parse_sip_uri(f"sip:{long_user}@h").user == long_user
    big = "v" * 8000                          # a header parameter of MAX_URI_LENGTH's size
    assert engine.parse_sip_uri(f"sip:h?X={big}").headers == {"X": big}


def test_methods_from_other_threads(engine):
    results = []

    def work(_):
        for _ in range(50):
            results.append(engine.parse_sip_uri("sip:bob@example.com").user)

    assert not in_threads(work) and results == ["bob"] * 400


def test_receiver_exception_becomes_notification_and_poll_thread_survives(engine, recorder):
    def bad_receiver(sender, **data):
        raise RuntimeError("boom in receiver")

    signals.SIPEngineLog.connect(bad_receiver)
    try:
        engine.log_level = 5
        engine.set_local_udp_port(0)   # produces log lines on the poll thread
        n = recorder.wait_for("SIPEngineGotException", timeout=5)
        assert "boom in receiver" in n.data.traceback
    finally:
        signals.SIPEngineLog.disconnect(bad_receiver)
    assert engine.parse_sip_uri("sip:a@b.c").host == "b.c"   # still serving


def test_log_notifications(engine, recorder):
    engine.log_level = 5
    engine.set_local_tcp_port(0)
    n = recorder.wait_for("SIPEngineLog", timeout=5)
    assert isinstance(n.data.level, int) and 1 <= n.data.level <= 5
    assert n.data.sender and isinstance(n.data.message, str)


def test_stop_from_a_receiver(engine, recorder):
    def on_log(sender, **data):
        Engine().stop()

    engine.log_level = 5
    signals.SIPEngineLog.connect(on_log)
    try:
        engine.set_local_tcp_port(0)
        recorder.wait_for("SIPEngineDidEnd", timeout=10)
    finally:
        signals.SIPEngineLog.disconnect(on_log)
    assert not Engine().is_running


# ---- spec behaviours (issue #10, item 4) ------------------------------------------------

def _poll_turns(engine, n=3):
    """Let the poll thread run ``n`` full turns (each posted call waits for the previous
    turn's poll and C-event drain): log lines queued before now have been delivered."""
    for _ in range(n):
        engine.parse_sip_uri("sip:fence@example.com")


def _make_log_lines(engine, recorder):
    """Work that makes PJSIP log at levels 1 (an unparsable request), 3 (a refused TCP
    connection) and 4..5 (transport restarts, a MESSAGE to itself)."""
    import socket
    from sipcore import Credentials, Route, send_message
    engine.set_local_tcp_port(0)
    engine.set_local_udp_port(0)
    port = engine.local_udp_port
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"MESSAGE sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9\r\n\r\n",
                 ("127.0.0.1", port))                        # no CSeq: level 1
    me = Credentials(SIPURI("127.0.0.1", user="a"))
    send_message(me, SIPURI("127.0.0.1", user="b", port=port), "text/plain", "log me",
                 Route("127.0.0.1", port))
    assert recorder.wait_for("SIPEngineGotMessageResponse", timeout=5).data.code == 200
    with socket.socket() as t:
        t.bind(("127.0.0.1", 0))
        closed = t.getsockname()[1]
    send_message(me, SIPURI("127.0.0.1", user="b", port=closed), "text/plain", "refused",
                 Route("127.0.0.1", closed, "tcp"))           # connect() refused: level 3
    assert recorder.wait_for("SIPEngineGotMessageResponse", timeout=5).data.code == 503
    _poll_turns(engine)


def test_log_level_filters_sipenginelog_and_changes_at_run_time(engine_factory, recorder):
    """Spec: log_level is the maximum level SIPEngineLog may report (1 most critical .. 5),
    readable and settable at run time."""
    e = engine_factory(log_level=3)
    _make_log_lines(e, recorder)
    at3 = [n.data.level for n in recorder.all("SIPEngineLog")]
    assert {1, 3} <= set(at3) and max(at3) <= 3, sorted(set(at3))   # up to 3, never above

    e.log_level = 5
    assert e.log_level == 5
    mark = len(recorder.all("SIPEngineLog"))
    _make_log_lines(e, recorder)
    at5 = [n.data.level for n in recorder.all("SIPEngineLog")[mark:]]
    assert {1, 3, 4, 5} <= set(at5)                           # the same work, more detail

    e.log_level = 1
    _poll_turns(e)                                            # lines from before the change
    mark = len(recorder.all("SIPEngineLog"))
    _make_log_lines(e, recorder)
    assert {n.data.level for n in recorder.all("SIPEngineLog")[mark:]} == {1}

    e.log_level = 0                                           # nothing at all
    _poll_turns(e)
    mark = len(recorder.all("SIPEngineLog"))
    _make_log_lines(e, recorder)
    assert recorder.all("SIPEngineLog")[mark:] == []
    assert recorder.all("SIPEngineGotException") == []


def test_set_tls_options_without_local_port_stops_tls(engine_factory, recorder):
    """Spec: set_tls_options() (re)starts TLS, or stops it when local_port is None; then
    local_tls_port is None, the port is closed, and a TLS route fails cleanly."""
    from sipcore import Credentials, Route, send_message
    e = engine_factory(local_tls_port=0)
    port = e.local_tls_port
    assert isinstance(port, int) and port in _own_ports("tcp")
    e.set_tls_options(local_port=None)
    assert e.local_tls_port is None
    assert port not in _own_ports("tcp")
    me = Credentials(SIPURI("127.0.0.1", user="a"))
    to = SIPURI("127.0.0.1", user="b", port=e.local_udp_port)
    with pytest.raises(InvalidStateError, match="TLS"):
        send_message(me, to, "text/plain", "x", Route("127.0.0.1", 5061, "tls"))
    # the other transports are untouched: UDP still carries a MESSAGE
    send_message(me, to, "text/plain", "x", Route("127.0.0.1", e.local_udp_port))
    assert recorder.wait_for("SIPEngineGotMessageResponse", timeout=5).data.code == 200
    # and TLS comes back with set_tls_options(local_port=0)
    e.set_tls_options(local_port=0)
    assert e.local_tls_port and e.local_tls_port in _own_ports("tcp")
    assert recorder.all("SIPEngineGotMessageResponse")[0].data.code == 200
    assert recorder.all("SIPEngineGotException") == []


ENGINE_LIFECYCLE = ("SIPEngineWillStart", "SIPEngineDidStart", "SIPEngineDidFail",
                    "SIPEngineWillEnd", "SIPEngineDidEnd")


@pytest.mark.parametrize("kind", ["udp", "tcp", "tls"])
def test_start_on_a_taken_port_sends_willstart_then_didfail(engine_factory, recorder, kind):
    """Spec: SIPEngineDidFail when the Engine fails fatally and cannot start; DidEnd only for
    an Engine that was running (it never was): WillStart, DidFail, and start() raises."""
    import socket
    from sipcore import PJSIPError
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    if kind != "udp":
        s.listen()
    try:
        opts = {f"local_{kind}_port": s.getsockname()[1]}
        with pytest.raises(PJSIPError, match=kind.upper()):
            engine_factory(**opts)
        assert not Engine().is_running
        assert recorder.names_seen(*ENGINE_LIFECYCLE) == ["SIPEngineWillStart", "SIPEngineDidFail"]
        with pytest.raises(EngineNotRunningError):
            Engine().local_udp_port
    finally:
        s.close()


@pytest.mark.parametrize("signal", ["SIPEngineDidStart", "SIPEngineWillEnd"])
def test_fatal_error_on_the_poll_thread_sends_didfail_then_didend(signal, tmp_path):
    """An exception that ends the poll thread (SystemExit raised by a receiver: notify()
    reports only Exception subclasses) is fatal: SIPEngineGotException, SIPEngineDidFail,
    SIPEngineDidEnd (spec: DidFail when 'about to stop'; GotException followed by DidFail when
    fatal), and start() returns (it hung for ever when this came from a DidStart receiver).
    In a child process, so that a hang is a failed test."""
    import subprocess
    import sys
    import textwrap
    script = textwrap.dedent(f"""
        from sipcore import Engine, signals
        seen = []
        signals.any_notification.connect(
            lambda sender, notification: seen.append(notification.name), weak=False)
        def fatal(sender, **data):
            raise SystemExit("fatal in a receiver")
        signals.{signal}.connect(fatal, weak=False)
        e = Engine()
        e.start(local_ip="127.0.0.1", log_level=0, local_tls_port=None)
        e.stop()
        print(",".join(n for n in seen if n != "SIPEngineLog"))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=15)           # (a run takes about a second)
    assert proc.returncode == 0, proc.stderr
    names = proc.stdout.strip().split(",")
    # (the failing receiver runs before the any_notification ones: its own signal is unseen)
    expected = ["SIPEngineWillStart", "SIPEngineDidStart", "SIPEngineWillEnd",
                "SIPEngineGotException", "SIPEngineDidFail", "SIPEngineDidEnd"]
    assert names == expected[:expected.index(signal)] + expected[3:], names


def test_pjsip_log_and_sip_trace_reach_python_logging(engine, recorder, caplog):
    """Without any receiver connected, PJSIP's log lines reach the ``sipcore.pjsip`` logger
    (pjlib level 4-5 as DEBUG) and, with trace_sip on, every SIP message on the wire the
    ``sipcore.trace`` logger at INFO."""
    from sipcore import Credentials, Route, send_message
    caplog.set_level(logging.DEBUG, logger="sipcore")
    engine.log_level = 5
    engine.trace_sip = True
    port = engine.local_udp_port
    send_message(Credentials(SIPURI("127.0.0.1", user="alice")),
                 SIPURI("127.0.0.1", user="bob", port=port), "text/plain", "logged",
                 Route("127.0.0.1", port))
    assert recorder.wait_for("SIPEngineGotMessageResponse", timeout=5).data.code == 200
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and sum(
            r.name == "sipcore.trace" for r in caplog.records) < 4:
        time.sleep(0.02)
    traces = [r for r in caplog.records if r.name == "sipcore.trace"]
    sent = [r.getMessage() for r in traces if r.getMessage().startswith("sent ")]
    received = [r.getMessage() for r in traces if r.getMessage().startswith("received ")]
    assert any("\nMESSAGE sip:bob@127.0.0.1" in m and "logged" in m for m in sent)
    assert any("\nMESSAGE sip:bob@127.0.0.1" in m for m in received)
    assert any("\nSIP/2.0 200" in m for m in received)
    assert all(r.levelno == logging.INFO for r in traces)
    pj = [r for r in caplog.records if r.name == "sipcore.pjsip"]
    assert pj and all(r.levelno in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR)
                      for r in pj)
    assert any(r.levelno == logging.DEBUG and ": " in r.getMessage() for r in pj)
    caplog.clear()
    caplog.set_level(logging.WARNING, logger="sipcore")
    engine.trace_sip = False


def test_start_again_same_options_is_a_no_op_other_options_say_what_to_do(engine_factory, recorder):
    """A notebook's start cell run again: the same options do nothing (no new run, no
    notification); other options raise InvalidStateError naming them and the way out."""
    e = engine_factory(local_udp_port=0, trace_sip=True)
    port = e.local_udp_port
    e.start(local_ip="127.0.0.1", log_level=0, local_tls_port=None, local_udp_port=0,
            trace_sip=True)
    assert e.is_running and e.local_udp_port == port
    assert recorder.names_seen("SIPEngineWillStart", "SIPEngineDidStart") == [
        "SIPEngineWillStart", "SIPEngineDidStart"]     # the first start only
    with pytest.raises(InvalidStateError, match="running") as err:
        e.start(local_ip="127.0.0.1", log_level=0, local_tls_port=None, trace_sip=False)
    assert "trace_sip=False (running: True)" in str(err.value)
    assert "stop() first" in str(err.value) and err.value.state == "running"
    with pytest.raises(TypeError, match="bogus"):      # checked first, as when stopped
        e.start(bogus=1)
    assert e.is_running and e.local_udp_port == port
