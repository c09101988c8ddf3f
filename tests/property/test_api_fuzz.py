"""Hypothesis: arbitrary arguments to the public API raise clean errors, never crash."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipcore import Credentials, Engine, Route, SIPCoreError, SIPURI, send_message

anything = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
    st.text(max_size=30), st.binary(max_size=30), st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.one_of(st.none(), st.text(max_size=5)), max_size=3),
    st.tuples(st.integers(0, 70000), st.integers(0, 70000)),
    st.builds(lambda: SIPURI("127.0.0.1", user="x", port=9)),
    st.builds(lambda: Route("127.0.0.1", 9)),
)
CLEAN = (TypeError, ValueError, SIPCoreError, AttributeError, NotImplementedError)

SETTABLE = ["user_agent", "log_level", "trace_sip", "codecs", "rtp_port_range", "playback_dtmf"]
METHODS = ["add_event", "set_local_udp_port", "set_local_tcp_port", "parse_sip_uri"]



@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(attr=st.sampled_from(SETTABLE), value=anything)
def test_setting_attributes(running_engine, attr, value):
    try:
        setattr(running_engine, attr, value)
    except CLEAN:
        pass
    assert running_engine.is_running


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(METHODS), args=st.lists(anything, min_size=0, max_size=3))
def test_calling_methods(running_engine, method, args):
    if method in ("set_local_udp_port", "set_local_tcp_port") and args and args[0] is None:
        args[0] = 0  # keep the transports up for the rest of the run
    try:
        getattr(running_engine, method)(*args)
    except CLEAN:
        pass
    assert running_engine.is_running
    assert running_engine.local_udp_port and running_engine.local_tcp_port


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(args=st.lists(anything, min_size=5, max_size=6))
def test_send_message_arguments(running_engine, args):
    try:
        send_message(*args)
    except CLEAN:
        pass


@settings(max_examples=300, deadline=None)
@given(kwargs=st.dictionaries(st.sampled_from(["host", "user", "port", "display", "secure",
                                               "parameters", "headers"]), anything))
def test_value_classes(kwargs):
    try:
        u = SIPURI(**kwargs)
    except CLEAN:
        return
    assert isinstance(str(u), str) and u == u.copy()
    try:
        Credentials(u, kwargs.get("user"))
        Route(kwargs.get("host"), kwargs.get("port"), kwargs.get("user"))
    except CLEAN:
        pass


@settings(max_examples=60, deadline=None)
@given(opts=st.dictionaries(st.sampled_from(sorted(Engine.default_start_options)), anything, max_size=3))
def test_start_options(opts):
    e = Engine()
    if e.is_running:
        e.stop()
    opts.setdefault("local_ip", "127.0.0.1")
    opts.setdefault("log_level", 0)
    try:
        e.start(**opts)
    except CLEAN:
        assert not e.is_running
    finally:
        e.stop()
