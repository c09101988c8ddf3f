"""Hypothesis: arguments to the public API, mostly valid and sometimes anything at all.
A bad argument must raise a clean error (TypeError, ValueError or a SIPCoreError -- not
AttributeError, NotImplementedError or anything else); a valid call must do what the spec
says (the value reads back, the MESSAGE gets its one 200, the URI parses back equal).  Each
test counts the examples that reach that property and asserts they are most of them (>= 50%;
printed with -s, hypothesis ``event()`` with --hypothesis-show-statistics)."""
import collections
import itertools

from hypothesis import event, given, settings
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
CLEAN = (TypeError, ValueError, SIPCoreError)

_ids = itertools.count()
tokens = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-_."), min_size=1, max_size=8)
texts = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)
labels = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789"), min_size=1, max_size=8)


def _sometimes_broken(draw, valid: dict, share_valid: int = 3) -> tuple[dict, str | None]:
    """``valid`` as it is (share_valid in share_valid + 1 examples), or with one entry
    replaced by anything; returns (arguments, name of the replaced one or None)."""
    if draw(st.sampled_from(["valid"] * share_valid + ["broken"])) == "valid":
        return valid, None
    name = draw(st.sampled_from(sorted(valid)))
    return {**valid, name: draw(anything)}, name


def _report(seen, what):
    print(f"\n{what}: {seen['reached']} of {seen['examples']} reached the property "
          f"({dict(seen)})")
    assert seen["reached"] >= seen["examples"] // 2, seen


# ---- Engine attributes ----------------------------------------------------------------------

def _valid_values(engine):
    avail = engine.available_codecs
    return {
        "user_agent": st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30),
        "log_level": st.integers(0, 6),
        "trace_sip": st.booleans(),
        "codecs": st.permutations(avail).flatmap(lambda p: st.integers(1, len(p)).map(lambda n: p[:n]))
                    .flatmap(lambda cs: st.tuples(*[st.sampled_from([c, c.lower(), c.upper()]) for c in cs]))
                    .map(list),
        "rtp_port_range": st.integers(1024, 60000).flatmap(
            lambda a: st.integers(a + 2, 65535).map(lambda b: (a, b))),
        "playback_dtmf": st.booleans(),
    }


def test_setting_attributes(running_engine, recorder):
    seen = collections.Counter()
    valid = _valid_values(running_engine)

    @settings(max_examples=300, deadline=None)
    @given(data=st.data())
    def check(data):
        attr = data.draw(st.sampled_from(sorted(valid)))
        broken = data.draw(st.sampled_from([False, False, False, True]))
        value = data.draw(anything if broken else valid[attr])
        seen["examples"] += 1
        try:
            setattr(running_engine, attr, value)
        except CLEAN:
            event("rejected")
            assert broken, (attr, value)
            return
        got = getattr(running_engine, attr)
        if attr == "codecs":
            assert [c.lower() for c in got] == [c.lower() for c in value]
        else:
            assert got == value, (attr, value, got)
        seen["reached"] += 1
        event("set and read back")

    try:
        check()
        assert recorder.all("SIPEngineGotException") == []
    finally:
        running_engine.log_level, running_engine.trace_sip = 0, False
    assert running_engine.is_running
    _report(seen, "Engine attributes")


# ---- Engine methods -------------------------------------------------------------------------

def _free_port(method):
    import socket
    kind = socket.SOCK_DGRAM if "udp" in method else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_calling_methods(running_engine, recorder):
    seen = collections.Counter()

    @st.composite
    def calls(draw):
        method = draw(st.sampled_from(["add_event", "set_local_udp_port", "set_local_tcp_port",
                                       "parse_sip_uri"]))
        if draw(st.sampled_from([False, False, False, True])):
            return method, draw(st.lists(anything, max_size=3)), False
        if method == "add_event":
            return method, [f"x-fuzz-{next(_ids)}", [f"application/{draw(tokens)}"]], True
        if method == "parse_sip_uri":
            return method, [f"sip:{draw(tokens)}@{draw(labels)}.example.com"], True
        # port 0 (any) or a port free a moment ago; the salt keeps examples distinct (hypothesis
        # does not run the same example twice, and would explore only the broken ones)
        draw(st.integers(0, 2**32))
        return method, draw(st.lists(st.sampled_from([0, "free"]), min_size=1, max_size=3)), True

    @settings(max_examples=300, deadline=None)
    @given(call=calls())
    def check(call):
        method, args, valid = call
        seen[f"{method} {'valid' if valid else 'anything'}"] += 1
        if method.startswith("set_local") and args and args[0] is None:
            args[0] = 0  # keep the transports up for the rest of the run
        seen["examples"] += 1
        try:
            if method.startswith("set_local") and valid:
                for arg in args:             # moved again and again: always the port asked for
                    port = _free_port(method) if arg == "free" else 0
                    result = getattr(running_engine, method)(port)
                    now = getattr(running_engine, method[4:])
                    assert now > 0 and (port == 0 or now == port), (port, now)
            else:
                result = getattr(running_engine, method)(*args)
        except CLEAN:
            assert not valid, (method, args)
            event("rejected")
            return
        if method == "parse_sip_uri" and valid:
            assert str(result) == args[0]
        elif method == "add_event" and valid:
            assert running_engine.events[args[0]] == args[1]
        seen["reached"] += valid
        event(f"valid {method}" if valid else f"accepted {method}")

    check()
    assert recorder.all("SIPEngineGotException") == []
    assert running_engine.is_running
    assert running_engine.local_udp_port and running_engine.local_tcp_port
    _report(seen, "Engine methods")


# ---- send_message ---------------------------------------------------------------------------

def test_send_message_arguments(running_engine, recorder):
    seen = collections.Counter()

    @st.composite
    def message_args(draw):
        udp, tcp = running_engine.local_udp_port, running_engine.local_tcp_port
        transport = draw(st.sampled_from(["udp", "tcp", None]))
        port = tcp if transport == "tcp" else udp
        user = f"fuzz{next(_ids)}"          # one pending MESSAGE per URI: never the same twice
        valid = {
            "credentials": Credentials(SIPURI("127.0.0.1", user=draw(tokens),
                                              display=draw(st.none() | texts)),
                                       draw(st.none() | texts)),
            "to_uri": SIPURI("127.0.0.1", user=user, port=port,
                             parameters=draw(st.dictionaries(tokens.filter(
                                 lambda t: t not in ("transport", "maddr", "ttl", "lr", "user", "method")),
                                 st.none() | tokens, max_size=2)),
                             headers=draw(st.dictionaries(st.sampled_from(["Subject", "X-Fuzz"]),
                                                          tokens, max_size=2))),
            "content_type": draw(st.sampled_from(["text/plain", "application/json",
                                                  "message/cpim", "application/x-fuzz+xml"])),
            "body": draw(st.one_of(texts, st.binary(max_size=200))),
            "route": Route("127.0.0.1", port, transport),
        }
        return _sometimes_broken(draw, valid)

    @settings(max_examples=300, deadline=None)
    @given(case=message_args())
    def check(case):
        args, broken = case
        seen["examples"] += 1
        try:
            send_message(args["credentials"], args["to_uri"], args["content_type"], args["body"],
                         args["route"])
        except CLEAN:
            assert broken is not None, args
            event(f"rejected: {broken}")
            return
        if broken is None:
            to = args["to_uri"]
            got = recorder.wait_for("SIPEngineGotMessage", timeout=5,
                                    where=lambda n: n.data.to_uri.user == to.user)
            resp = recorder.wait_for("SIPEngineGotMessageResponse", timeout=5,
                                     where=lambda n: n.data.to_uri is to)
            assert (resp.data.code, resp.data.reason) == (200, "OK")
            assert resp.data.to_uri is args["to_uri"]
            body = args["body"].encode() if isinstance(args["body"], str) else args["body"]
            assert (got.data.body, got.data.content_type) == (body, args["content_type"])
            assert got.data.to_uri.user == args["to_uri"].user
            seen["reached"] += 1
            event("sent, delivered, answered 200")
        else:
            event(f"accepted although {broken} was replaced")

    check()
    assert recorder.all("SIPEngineGotException") == []
    _report(seen, "send_message")


# ---- value classes --------------------------------------------------------------------------

def test_value_classes(running_engine, recorder):
    seen = collections.Counter()

    @st.composite
    def uri_kwargs(draw):
        valid = {
            "host": draw(st.sampled_from(["127.0.0.1", "example.com", "::1", "[2001:db8::1]",
                                          "a-b.c.example.org"])),
            "user": draw(st.none() | texts),
            "port": draw(st.none() | st.integers(0, 65535)),
            "display": draw(st.none() | texts),
            "secure": draw(st.booleans()),
            "parameters": draw(st.dictionaries(tokens.filter(lambda t: t not in ("lr", "ttl")),
                                               st.none() | tokens, max_size=3)),
            "headers": draw(st.dictionaries(st.sampled_from(["Subject", "X-A"]), tokens, max_size=2)),
        }
        kwargs, broken = _sometimes_broken(draw, valid)
        # a subset of the keywords: host is the only mandatory one
        keep = draw(st.sets(st.sampled_from(sorted(kwargs))))
        return {k: v for k, v in kwargs.items() if k in keep | {"host"}}, broken

    @settings(max_examples=300, deadline=None)
    @given(case=uri_kwargs(), password=st.none() | texts | anything,
           route=st.tuples(st.sampled_from(["127.0.0.1", "::1"]), st.integers(1, 65535),
                           st.sampled_from([None, "udp", "TCP", "tls"])) | anything)
    def check(case, password, route):
        kwargs, broken = case
        seen["examples"] += 1
        try:
            u = SIPURI(**kwargs)
        except CLEAN:
            assert broken is not None, kwargs
            event("SIPURI rejected")
            return
        assert u == u.copy() and str(u) == str(u.copy())
        for name, value in kwargs.items():
            if broken is None and name not in ("host", "port", "display"):
                assert getattr(u, name) == value, name
        if broken is None:
            # printed and parsed by PJSIP: the same URI (port 0 is 'not set', as is None)
            assert running_engine.parse_sip_uri(str(u)) == u, str(u)
            seen["reached"] += 1
            event("SIPURI round trip")
        try:
            c = Credentials(u, password)
            assert c.uri == u and c.password == password and c.copy().uri == u
        except CLEAN:
            assert not (password is None or isinstance(password, str) and "\0" not in password)
        try:
            r = Route(*route) if isinstance(route, tuple) and len(route) == 3 else Route(route)
            assert r.copy() == r
        except CLEAN:
            pass

    check()
    assert recorder.all("SIPEngineGotException") == []
    _report(seen, "SIPURI/Credentials/Route")


# ---- Engine start options -------------------------------------------------------------------

def test_start_options(recorder):
    seen = collections.Counter()
    valid_values = {
        "local_udp_port": st.sampled_from([0, None]),
        "local_tcp_port": st.sampled_from([0, None]),
        "local_tls_port": st.sampled_from([0, None]),
        "user_agent": tokens,
        "log_level": st.integers(0, 6),
        "trace_sip": st.booleans(),
        "sample_rate": st.sampled_from([8, 16, 32]),
        "playback_dtmf": st.booleans(),
        "rtp_port_range": st.sampled_from([(40000, 40100), (50000, 50002)]),
        "ec_tail_length": st.integers(0, 1000),
        "codecs": st.sampled_from([None, ["PCMU"], ["g722", "pcma"]]),
        "tls_protocol": st.sampled_from([None, "TLSv1.2", "TLSv1.3"]),
        "tls_verify_server": st.booleans(),
        "tls_timeout": st.integers(1, 600000),
    }

    @st.composite
    def start_options(draw):
        names = draw(st.sets(st.sampled_from(sorted(valid_values)), min_size=1, max_size=4))
        valid = {n: draw(valid_values[n]) for n in names}
        if draw(st.sampled_from([False, False, False, True])):
            name = draw(st.sampled_from(sorted(Engine.default_start_options)))
            return {**valid, name: draw(anything)}, name
        return valid, None

    @settings(max_examples=60, deadline=None)
    @given(case=start_options())
    def check(case):
        opts, broken = case
        e = Engine()
        if e.is_running:
            e.stop()
        opts = {"local_ip": "127.0.0.1", "log_level": 0, **opts}
        seen["examples"] += 1
        try:
            e.start(**opts)
        except CLEAN:
            assert broken is not None, opts
            assert not e.is_running
            event("rejected")
            return
        try:
            for name, value in opts.items():
                if broken is None and name not in ("codecs", "local_udp_port", "local_tcp_port",
                                                   "local_tls_port"):
                    assert getattr(e, name) == value, name
            for kind in ("udp", "tcp", "tls"):
                port = getattr(e, f"local_{kind}_port")
                wanted = opts.get(f"local_{kind}_port", 0)
                if broken is None:
                    assert (port is None) == (wanted is None), kind
            if broken is None:
                seen["reached"] += 1
                event("started with the options")
        finally:
            e.stop()

    check()
    assert recorder.all("SIPEngineGotException") == []
    _report(seen, "Engine.start options")
