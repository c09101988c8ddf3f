"""Names (RFC 3263) against a real DNS server: dnsmasq on a free loopback port, started here.

The SIP servers the names lead to are this Engine itself (it answers a MESSAGE 200), a tiny
UDP server answering with a chosen code (test_publication's ``ScriptedServer``), kamailio, or nothing (a port no
one listens on).  Which server a request went to is read from the SIP trace."""
from __future__ import annotations

import re
import socket
import threading
import time
import weakref
from typing import Any

import pytest

from peers.dnsmasq import Dnsmasq
from peers.kamailio import Kamailio, make_tls_cert
from peers.ports import free_port
from test_publication import ScriptedServer
from sipcore import (Credentials, Engine, Invitation, Publication, Registration, Route, SIPURI,
                     Subscription, send_message, signals)
from test_invitation_helpers import auto_answer, incoming_calls, make_sdp, seq

ALICE = Credentials(SIPURI("127.0.0.1", user="alice"))


@pytest.fixture
def responders():
    """UDP 'servers' answering every request with one code (test_publication's)."""
    made = []

    def make(code):
        made.append(ScriptedServer(lambda req, i: (code, "Test", {})))
        return made[-1]
    yield make
    for r in made:
        r.close()


# (keyed by the recorder itself, weakly: an id() of a collected recorder is reused by a later
# one, whose sent_to() then started past its own traces -- a CI failure, 2026-11-29)
_since: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


def forget_sent(rec):
    """sent_to(rec) starts after what was traced so far."""
    _since[rec] = len(rec.all("SIPEngineSIPTrace"))


def sent_to(rec, method="MESSAGE"):
    """(transport from the Via, destination port) of every request sent (since forget_sent),
    in order."""
    out = []
    for n in rec.all("SIPEngineSIPTrace")[_since.get(rec, 0):]:
        d = n.data
        if not d.received and d.data.startswith(method + " "):
            via = re.search(r"Via: SIP/2.0/(\w+)", d.data).group(1)
            out.append((via, d.destination_port))
    return out


def message(rec, domain, route=None, timeout=10):
    start = len(rec.all("SIPEngineGotMessageResponse"))
    send_message(ALICE, SIPURI(domain, user="bob"), "text/plain", "hi",
                 route or Route(domain), timeout=timeout)
    deadline = time.monotonic() + timeout + 5
    while time.monotonic() < deadline:
        got = rec.all("SIPEngineGotMessageResponse")
        if len(got) > start:
            return got[start].data
        time.sleep(0.01)
    raise AssertionError("no SIPEngineGotMessageResponse: the request hung")


def reaches(rec, domain, *sent):
    """A MESSAGE through Route(domain) gets its 200, sent only to ``sent`` ((transport,
    port) pairs, in order)."""
    forget_sent(rec)
    assert message(rec, domain).code == 200
    assert sent_to(rec) == list(sent)


# ---- values -------------------------------------------------------------------------------

def test_route_accepts_host_names():
    r = Route("sip.example.com")
    assert (r.address, r.port, r.transport) == ("sip.example.com", None, None)
    assert r.uri() == "<sip:sip.example.com;lr>"                 # RFC 3263: NAPTR chooses
    assert Route("example.com", transport="TCP").uri() == "<sip:example.com;transport=tcp;lr>"
    assert Route("example.com", 5070).uri() == "<sip:example.com:5070;transport=udp;lr>"
    assert Route("127.0.0.1").port == 5060 and Route("::1", transport="tls").port == 5061
    for bad in ("-bad.example", "a..b", "exa mple.com", "", "x" * 300, "1.2.3.256"):
        with pytest.raises(ValueError, match="address"):
            Route(bad)
    with pytest.raises(TypeError, match="address"):
        Route(5)


@pytest.mark.parametrize("value, exc", [
    ("127.0.0.1", TypeError), ([1], TypeError), ([], ValueError), (["10.0.0.1"] * 9, ValueError),
    (["dns.example"], ValueError), (["127.0.0.1:0"], ValueError), (["127.0.0.1:x"], ValueError),
    (["[::1"], ValueError), (["127.0.0.1:70000"], ValueError)])
def test_nameservers_option_checked(value, exc):
    with pytest.raises(exc, match="nameservers"):
        Engine().start(local_ip="127.0.0.1", nameservers=value)
    assert not Engine().is_running


def test_nameservers_default_is_resolv_conf(tmp_path):
    from sipcore._options import check_nameservers, system_nameservers
    conf = tmp_path / "resolv.conf"
    conf.write_text("# x\nnameserver 192.0.2.7\nsearch example\nnameserver ::1\nnameserver bogus\n")
    assert system_nameservers(str(conf)) == ["192.0.2.7", "[::1]"]
    assert system_nameservers(str(tmp_path / "none")) == ["127.0.0.1"]
    assert check_nameservers(["192.0.2.1", "192.0.2.2:5353", "[::1]:53", "::1"]) == [
        ("192.0.2.1", 53), ("192.0.2.2", 5353), ("::1", 53), ("::1", 53)]


# ---- selection ----------------------------------------------------------------------------

def test_naptr_order_chooses_the_transport(engine_factory, recorder):
    p = free_port("both")
    with Dnsmasq(hosts={"a.test": "127.0.0.1"},
                 srv=[("_sip._udp.tcpfirst.test", "a.test", p, 10, 10),
                      ("_sip._tcp.tcpfirst.test", "a.test", p, 10, 10),
                      ("_sip._udp.udpfirst.test", "a.test", p, 10, 10),
                      ("_sip._tcp.udpfirst.test", "a.test", p, 10, 10)],
                 naptr=[("tcpfirst.test", 20, 10, "s", "SIP+D2U", "_sip._udp.tcpfirst.test"),
                        ("tcpfirst.test", 10, 90, "s", "SIP+D2T", "_sip._tcp.tcpfirst.test"),
                        ("udpfirst.test", 10, 20, "s", "SIP+D2T", "_sip._tcp.udpfirst.test"),
                        ("udpfirst.test", 10, 10, "s", "SIP+D2U", "_sip._udp.udpfirst.test")]) as dns:
        engine_factory(local_udp_port=p, local_tcp_port=p, nameservers=[dns.nameserver],
                       trace_sip=True)
        assert message(recorder, "tcpfirst.test").code == 200     # order 10 < 20: TCP
        assert sent_to(recorder) == [("TCP", p)]
        forget_sent(recorder)
        assert message(recorder, "udpfirst.test").code == 200     # same order, preference 10
        assert sent_to(recorder) == [("UDP", p)]


def test_naptr_skips_a_transport_the_engine_lacks(engine_factory, recorder):
    p = free_port("both")
    with Dnsmasq(hosts={"a.test": "127.0.0.1"},
                 srv=[("_sips._tcp.x.test", "a.test", p, 10, 10),
                      ("_sip._udp.x.test", "a.test", p, 10, 10)],
                 naptr=[("x.test", 10, 10, "s", "SIPS+D2T", "_sips._tcp.x.test"),
                        ("x.test", 20, 10, "s", "SIP+D2U", "_sip._udp.x.test")]) as dns:
        engine_factory(local_udp_port=p, nameservers=[dns.nameserver], trace_sip=True)
        assert message(recorder, "x.test").code == 200             # no TLS transport: UDP
        assert sent_to(recorder) == [("UDP", p)]


def test_no_naptr_means_udp_srv_then_a(engine_factory, recorder):
    p = free_port("both")
    with Dnsmasq(hosts={"a.test": "127.0.0.1", "plain.test": "127.0.0.1"},
                 srv=[("_sip._udp.srv.test", "a.test", p, 10, 10),
                      ("_sip._tcp.srv.test", "a.test", p + 0, 5, 10)]) as dns:
        engine_factory(local_udp_port=p, local_tcp_port=p, nameservers=[dns.nameserver],
                       trace_sip=True)
        assert message(recorder, "srv.test").code == 200
        assert sent_to(recorder) == [("UDP", p)]
        forget_sent(recorder)
        # no NAPTR, no SRV: the A record and port 5060 over UDP (RFC 3263 4.2) -- nothing
        # listens there, so only where it went is checked
        message(recorder, "plain.test", timeout=0.5)
        assert sent_to(recorder)[:1] == [("UDP", 5060)]
        forget_sent(recorder)
        # a transport given: SRV for that transport; a port given: A only
        assert message(recorder, "srv.test", Route("srv.test", transport="tcp")).code == 200
        assert sent_to(recorder) == [("TCP", p)]
        forget_sent(recorder)
        assert message(recorder, "plain.test", Route("plain.test", p)).code == 200
        assert sent_to(recorder) == [("UDP", p)]


def test_naptr_services_are_rfc_3263s(engine_factory, recorder, tmp_path):
    """SIPS+D2T is TLS; SIP+D2S is SCTP (RFC 3263 4.1), which this Engine lacks: skipped,
    although a TLS listener runs and the SRV name answers."""
    tls = make_tls_cert(tmp_path / "tls", cn="a.test", san="DNS:a.test,DNS:s.test,DNS:t.test")
    p, q = free_port("both"), free_port("tcp")
    # each name: the service under test at order 10 (its SRV name on the TLS port q), and
    # SIP+D2U at order 20 (_sip._udp on p)
    first = {"s.test": ("SIP+D2S", "_sip._sctp.s.test"),
             "t.test": ("SIPS+D2T", "_sips._tcp.t.test")}
    srv = [(res, "a.test", q, 10, 10) for _, res in first.values()]
    srv += [(f"_sip._udp.{name}", "a.test", p, 10, 10) for name in first]
    naptr = [(name, 10, 10, "s", svc, res) for name, (svc, res) in first.items()]
    naptr += [(name, 20, 10, "s", "SIP+D2U", f"_sip._udp.{name}") for name in first]
    with Dnsmasq(hosts={"a.test": "127.0.0.1"}, srv=srv, naptr=naptr) as dns:
        engine_factory(local_udp_port=p, local_tls_port=q, tls_ca_file=tls["ca_file"],
                       tls_cert_file=tls["cert_file"], tls_privkey_file=tls["key_file"],
                       nameservers=[dns.nameserver], trace_sip=True)
        reaches(recorder, "s.test", ("UDP", p))
        reaches(recorder, "t.test", ("TLS", q))


def test_no_naptr_means_srv_for_each_transport(engine_factory, recorder, tmp_path):
    """Without NAPTR records, an SRV query for each transport the Engine has (RFC 3263 4.1):
    a name with only _sip._tcp records is reached over TCP, one with only _sips._tcp over
    TLS, and with both UDP and TCP records UDP is chosen (the client's choice)."""
    tls = make_tls_cert(tmp_path / "tls", cn="tlsonly.test", san="DNS:tlsonly.test")
    p, q = free_port("both"), free_port("tcp")
    with Dnsmasq(hosts={"a.test": "127.0.0.1"},
                 srv=[("_sip._tcp.tcponly.test", "a.test", p, 10, 10),
                      ("_sips._tcp.tlsonly.test", "a.test", q, 10, 10),
                      ("_sip._tcp.both.test", "a.test", p, 10, 10),
                      ("_sip._udp.both.test", "a.test", p, 10, 10)]) as dns:
        engine_factory(local_udp_port=p, local_tcp_port=p, local_tls_port=q,
                       tls_ca_file=tls["ca_file"], tls_cert_file=tls["cert_file"],
                       tls_privkey_file=tls["key_file"], nameservers=[dns.nameserver],
                       trace_sip=True)
        reaches(recorder, "tcponly.test", ("TCP", p))
        reaches(recorder, "tlsonly.test", ("TLS", q))
        reaches(recorder, "both.test", ("UDP", p))


def test_aaaa_records_for_an_ipv6_engine(engine_factory, recorder):
    """An Engine on ::1 reaches servers through their AAAA records: after NAPTR and SRV, and
    after SRV alone, passing over a server with only an A record."""
    p = free_port("both", socket.AF_INET6)
    with Dnsmasq(hosts={"six.test": "::1", "four.test": "127.0.0.1"},
                 srv=[("_sip._tcp.v6.test", "six.test", p, 10, 10),
                      ("_sip._udp.srv6.test", "four.test", p, 10, 10),
                      ("_sip._udp.srv6.test", "six.test", p, 20, 10)],
                 naptr=[("v6.test", 10, 10, "s", "SIP+D2T", "_sip._tcp.v6.test")]) as dns:
        engine_factory(local_ip="::1", local_udp_port=p, local_tcp_port=p,
                       nameservers=[dns.nameserver], trace_sip=True)
        reaches(recorder, "v6.test", ("TCP", p))
        reaches(recorder, "srv6.test", ("UDP", p))


def test_srv_priority_then_weight(engine_factory, recorder, responders):
    """Lower priority first (RFC 2782); within a priority, picked in proportion to weight."""
    p = free_port("both")
    heavy, light, backup = responders(200), responders(200), responders(200)
    with Dnsmasq(hosts={"a.test": "127.0.0.1"},
                 srv=[("_sip._udp.w.test", "a.test", heavy.port, 10, 30),
                      ("_sip._udp.w.test", "a.test", light.port, 10, 10),
                      ("_sip._udp.w.test", "a.test", backup.port, 20, 1000)]) as dns:
        engine_factory(local_udp_port=p, nameservers=[dns.nameserver], trace_sip=True)
        for _ in range(60):
            assert message(recorder, "w.test").code == 200
    assert len(backup.requests) == 0                  # priority 20 never while 10 answers
    assert len(heavy.requests) + len(light.requests) == 60
    assert 30 <= len(heavy.requests) <= 57, (len(heavy.requests), len(light.requests))    # expected 45


# ---- failover -----------------------------------------------------------------------------

def test_failover_on_503_and_on_refused_connection(engine_factory, recorder, responders):
    p = free_port("both")
    dead = free_port("both")                     # nothing listens here
    busy = responders(503)
    with Dnsmasq(hosts={"a.test": "127.0.0.1"},
                 srv=[("_sip._udp.busy.test", "a.test", busy.port, 10, 10),
                      ("_sip._udp.busy.test", "a.test", p, 20, 10),
                      ("_sip._tcp.down.test", "a.test", dead, 10, 10),
                      ("_sip._tcp.down.test", "a.test", p, 20, 10)]) as dns:
        engine_factory(local_udp_port=p, local_tcp_port=p, nameservers=[dns.nameserver],
                       trace_sip=True)
        r = message(recorder, "busy.test")
        assert r.code == 200, r
        assert len(busy.requests) == 1
        assert sent_to(recorder) == [("UDP", busy.port), ("UDP", p)]
        forget_sent(recorder)
        r = message(recorder, "down.test", Route("down.test", transport="tcp"))
        assert r.code == 200, r
        assert sent_to(recorder)[-1] == ("TCP", p)


def test_every_target_failing_ends_in_one_final_response(engine_factory, recorder, responders):
    a, b = responders(503), responders(503)
    with Dnsmasq(hosts={"a.test": "127.0.0.1"},
                 srv=[("_sip._udp.busy.test", "a.test", a.port, 10, 10),
                      ("_sip._udp.busy.test", "a.test", b.port, 20, 10)]) as dns:
        engine_factory(nameservers=[dns.nameserver], trace_sip=True)
        r = message(recorder, "busy.test")
        assert r.code == 503
        time.sleep(0.3)
        assert len(recorder.all("SIPEngineGotMessageResponse")) == 1
        assert (len(a.requests), len(b.requests)) == (1, 1)


PIDF = ('<?xml version="1.0" encoding="UTF-8"?><presence xmlns="urn:ietf:params:xml:ns:pidf" '
        'entity="sip:alice@127.0.0.1"><tuple id="t1"><status><basic>open</basic></status>'
        '</tuple></presence>')


def state_after(rec, obj, signal, leaving, timeout=15):
    """The first state notification of obj whose state is not in ``leaving``."""
    return rec.wait_for(signal, timeout=timeout, sender=obj,
                        where=lambda n: n.data.state not in leaving)


def test_every_primitive_fails_over_to_kamailio(engine_factory, recorder, tmp_path):
    """kamailio on the second target of kam.test, nothing on the first (NAPTR: TCP; the
    refused connection moves each request on to kamailio): bob registers, alice sends him a
    MESSAGE (kamailio relays it to this Engine: 200), publishes and subscribes to her presence,
    and calls bob, who answers 486 -- every request through Route("kam.test")."""
    dead = free_port("both")
    with Kamailio(workdir=tmp_path / "kam", children=1) as k:
        k.add_user("alice", "apw")
        k.add_user("bob", "bpw")
        with Dnsmasq(hosts={"a.test": "127.0.0.1"},
                     srv=[("_sip._tcp.kam.test", "a.test", dead, 10, 10),
                          ("_sip._tcp.kam.test", "a.test", k.port, 20, 10)],
                     naptr=[("kam.test", 10, 10, "s", "SIP+D2T", "_sip._tcp.kam.test")]) as dns, \
                incoming_calls(lambda inv: inv.disconnect(486)) as calls:
            engine_factory(nameservers=[dns.nameserver], trace_sip=True)
            route = Route("kam.test")
            alice = Credentials(SIPURI("127.0.0.1", user="alice"), "apw")
            bob = Credentials(SIPURI("127.0.0.1", user="bob"), "bpw")

            reg = Registration(bob, route, expires=60)
            reg.register()
            n = state_after(recorder, reg, "SIPRegistrationChangedState", ("registering",))
            assert n.data.state == "registered", n.data
            assert k.contacts("bob")

            send_message(alice, SIPURI("127.0.0.1", user="bob"), "text/plain", "via a name",
                         route, timeout=10)
            r = recorder.wait_for("SIPEngineGotMessageResponse", timeout=15).data
            assert r.code == 200, r
            got = recorder.wait_for("SIPEngineGotMessage", timeout=5).data
            assert got.body == b"via a name"

            pub = Publication(alice, "presence", route, expires=60)
            pub.publish("application/pidf+xml", PIDF)
            n = state_after(recorder, pub, "SIPPublicationChangedState", ("publishing",))
            assert n.data.state == "published", n.data

            sub = Subscription(bob, SIPURI("127.0.0.1", user="alice"), "presence", route)
            sub.subscribe()
            n = state_after(recorder, sub, "SIPSubscriptionChangedState",
                            ("NULL", "SENT", "TERMINATED"))
            assert n.data.state in ("ACCEPTED", "PENDING", "ACTIVE"), n.data

            inv = Invitation(alice, SIPURI("127.0.0.1", user="bob"), route)
            inv.set_offered_local_sdp(make_sdp())
            inv.send_invite()
            n = recorder.wait_for("SIPInvitationChangedState", timeout=15, sender=inv,
                                  where=lambda n: n.data.state == "DISCONNECTED")
            assert n.data.code == 486, n.data
            assert len(calls) == 1 and seq(recorder, calls[0])[0] == "INCOMING"

            # each went to the dead first target first (priority 10), then to kamailio
            for method in ("REGISTER", "MESSAGE", "PUBLISH", "SUBSCRIBE", "INVITE"):
                sent = sent_to(recorder, method)
                assert sent[:2] == [("TCP", dead), ("TCP", k.port)], (method, sent)
            sub.unsubscribe()
            pub.unpublish()
            reg.unregister()
            state_after(recorder, reg, "SIPRegistrationChangedState",
                        ("registered", "unregistering"))


@pytest.mark.parametrize("first_code", [503, 408])
def test_registration_and_publication_fail_over_on_503_and_408(engine_factory, recorder,
                                                               responders, tmp_path, first_code):
    """The first server answers 503 (or 408); the request goes to the next one, kamailio,
    and only its answer is notified (RFC 3263 4.3)."""
    busy = responders(first_code)
    with Kamailio(workdir=tmp_path / "kam", children=1) as k:
        k.add_user("alice", "apw")
        with Dnsmasq(hosts={"a.test": "127.0.0.1"},
                     srv=[("_sip._udp.kam.test", "a.test", busy.port, 10, 10),
                          ("_sip._udp.kam.test", "a.test", k.port, 20, 10)]) as dns:
            engine_factory(nameservers=[dns.nameserver], trace_sip=True)
            alice = Credentials(SIPURI("127.0.0.1", user="alice"), "apw")
            reg = Registration(alice, Route("kam.test"), expires=60)
            reg.register()
            n = state_after(recorder, reg, "SIPRegistrationChangedState", ("registering",))
            assert n.data.state == "registered" and n.data.code == 200, n.data
            pub = Publication(alice, "presence", Route("kam.test"), expires=60)
            pub.publish("application/pidf+xml", PIDF)
            n = state_after(recorder, pub, "SIPPublicationChangedState", ("publishing",))
            assert n.data.state == "published" and n.data.code == 200, n.data
            assert [n.data.state for n in recorder.all("SIPRegistrationChangedState")] == [
                "registering", "registered"]
            assert len(busy.requests) == 2            # one REGISTER, one PUBLISH
            for method in ("REGISTER", "PUBLISH"):
                assert sent_to(recorder, method)[:2] == [("UDP", busy.port), ("UDP", k.port)]
            pub.unpublish()
            reg.unregister()
            state_after(recorder, reg, "SIPRegistrationChangedState",
                        ("registered", "unregistering"))


@pytest.mark.parametrize("first", [503, 408, "silent"])
def test_subscription_fails_over_on_503_408_and_timeout(engine_factory, recorder, responders,
                                                        tmp_path, first):
    """The first server answers the SUBSCRIBE 503 (or 408, or never: the Subscription's
    ``timeout``); the same SUBSCRIBE goes to the next one, kamailio, and only its answer is
    notified (RFC 3263 4.3): SENT, then accepted, no TERMINATED between."""
    silent = None
    if first == "silent":
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
    else:
        busy = responders(first)
        port = busy.port
    try:
        with Kamailio(workdir=tmp_path / "kam", children=1) as k:
            k.add_user("alice", "apw")
            with Dnsmasq(hosts={"a.test": "127.0.0.1"},
                         srv=[("_sip._udp.kam.test", "a.test", port, 10, 10),
                              ("_sip._udp.kam.test", "a.test", k.port, 20, 10)]) as dns:
                engine_factory(nameservers=[dns.nameserver], trace_sip=True)
                alice = Credentials(SIPURI("127.0.0.1", user="alice"), "apw")
                sub = Subscription(alice, SIPURI("127.0.0.1", user="alice"), "presence",
                                   Route("kam.test"), timeout=1.0)
                sub.subscribe()
                n = state_after(recorder, sub, "SIPSubscriptionChangedState", ("NULL", "SENT"))
                assert n.data.state in ("ACCEPTED", "PENDING", "ACTIVE"), n.data
                states = [m.data.state for m in recorder.all("SIPSubscriptionChangedState")]
                assert "TERMINATED" not in states, states
                sent = [x for i, x in enumerate(sent_to(recorder, "SUBSCRIBE"))
                        if i == 0 or x != sent_to(recorder, "SUBSCRIBE")[i - 1]]  # (UDP re-sends)
                assert sent[:2] == [("UDP", port), ("UDP", k.port)], sent
                if silent is None:
                    assert len(busy.requests) == 1
                sub.unsubscribe()
                recorder.wait_for("SIPSubscriptionChangedState", timeout=10, sender=sub,
                                  where=lambda m: m.data.state == "TERMINATED")
    finally:
        if silent is not None:
            silent.close()


def test_subscription_failover_ends_when_every_server_fails(engine_factory, recorder,
                                                            responders):
    """Both servers answer 503: one SUBSCRIBE to each, then one TERMINATED with 503."""
    a, b = responders(503), responders(503)
    with Dnsmasq(hosts={"a.test": "127.0.0.1"},
                 srv=[("_sip._udp.busy.test", "a.test", a.port, 10, 10),
                      ("_sip._udp.busy.test", "a.test", b.port, 20, 10)]) as dns:
        engine_factory(nameservers=[dns.nameserver], events={"presence": ["application/pidf+xml"]})
        sub = Subscription(ALICE, SIPURI("127.0.0.1", user="bob"), "presence", Route("busy.test"))
        sub.subscribe()
        n = recorder.wait_for("SIPSubscriptionChangedState", timeout=15, sender=sub,
                              where=lambda m: m.data.state == "TERMINATED")
        assert n.data.code == 503, n.data
        time.sleep(0.3)
        assert [m.data.state for m in recorder.all("SIPSubscriptionChangedState")] == [
            "SENT", "TERMINATED"]
        assert (len(a.requests), len(b.requests)) == (1, 1)


def call(rec, domain, made=None):
    """An Invitation to bob@127.0.0.1 through Route(domain), sent (appended to ``made``
    first)."""
    inv = Invitation(ALICE, SIPURI("127.0.0.1", user="bob"), Route(domain))
    if made is not None:
        made.append(inv)
    inv.set_offered_local_sdp(make_sdp())
    inv.send_invite(extra_headers={"X-Call": "one"})
    return inv


def ended(rec, inv, timeout=15):
    return rec.wait_for("SIPInvitationChangedState", timeout=timeout, sender=inv,
                        where=lambda n: n.data.state == "DISCONNECTED").data


def invites(server):
    return [r for r in server.requests if r.startswith("INVITE ")]


@pytest.mark.parametrize("first_code", [503, 408])
def test_invitation_fails_over_on_503_and_408(engine_factory, recorder, responders, first_code):
    """The first server answers the INVITE 503 (or 408); the same INVITE (offer, headers) goes
    to the next one, this Engine, which answers: the application sees one call, CALLING ->
    EARLY -> CONNECTING -> CONFIRMED, with no DISCONNECTED between (RFC 3263 4.3)."""
    p = free_port("both")
    busy = responders(first_code)
    with Dnsmasq(hosts={"a.test": "127.0.0.1"},
                 srv=[("_sip._udp.inv.test", "a.test", busy.port, 10, 10),
                      ("_sip._udp.inv.test", "a.test", p, 20, 10)]) as dns, \
            auto_answer() as calls:
        engine_factory(local_udp_port=p, nameservers=[dns.nameserver], trace_sip=True)
        inv = call(recorder, "inv.test")
        recorder.wait_for("SIPInvitationChangedState", timeout=15, sender=inv,
                          where=lambda n: n.data.state in ("CONFIRMED", "DISCONNECTED"))
        assert seq(recorder, inv) == ["CALLING", "EARLY", "CONNECTING", "CONFIRMED"]
        assert len(invites(busy)) == 1
        assert sent_to(recorder, "INVITE") == [("UDP", busy.port), ("UDP", p)]
        assert len(calls) == 1
        assert inv.get_active_remote_sdp() is not None      # offer/answer done with it
        got = [n for n in recorder.all("SIPInvitationChangedState")
               if n.sender is calls[0] and n.data.state == "INCOMING"][0]
        assert got.data.headers.get("X-Call") == "one"         # the same headers and offer
        assert "m=audio 40000 RTP/AVP" in got.data.body
        inv.disconnect()
        assert ended(recorder, inv).code == 200
        assert seq(recorder, inv)[-2:] == ["DISCONNECTING", "DISCONNECTED"]


def test_invitation_failover_ends_once_with_the_last_code(engine_factory, recorder,
                                                         responders):
    """Every server fails (503, then 408): one INVITE to each, then one DISCONNECTED with the
    last server's code."""
    a, b = responders(503), responders(408)
    with Dnsmasq(hosts={"a.test": "127.0.0.1"},
                 srv=[("_sip._udp.busy.test", "a.test", a.port, 10, 10),
                      ("_sip._udp.busy.test", "a.test", b.port, 20, 10)]) as dns:
        engine_factory(nameservers=[dns.nameserver])
        inv = call(recorder, "busy.test")
        assert ended(recorder, inv).code == 408
        time.sleep(0.3)
        assert seq(recorder, inv) == ["CALLING", "DISCONNECTED"]
        assert (len(invites(a)), len(invites(b))) == (1, 1)


def test_invitation_disconnect_during_failover(engine_factory, recorder, responders):
    """disconnect() while the INVITE waits on the second server (the first answered 503): a
    CANCEL to the second server, one DISCONNECTED (487), no INVITE sent after it."""
    p = free_port("both")
    busy = responders(503)
    with Dnsmasq(hosts={"a.test": "127.0.0.1"},
                 srv=[("_sip._udp.inv.test", "a.test", busy.port, 10, 10),
                      ("_sip._udp.inv.test", "a.test", p, 20, 10)]) as dns, \
            incoming_calls(lambda inv: None) as calls:
        engine_factory(local_udp_port=p, nameservers=[dns.nameserver], trace_sip=True)
        inv = call(recorder, "inv.test")
        deadline = time.monotonic() + 15
        while not calls and time.monotonic() < deadline:
            time.sleep(0.01)
        assert calls, seq(recorder, inv)
        assert inv.state == "CALLING"
        inv.disconnect()
        assert ended(recorder, inv).code == 487
        assert ended(recorder, calls[0]).method == "CANCEL"
        time.sleep(0.3)
        assert seq(recorder, inv) == ["CALLING", "DISCONNECTING", "DISCONNECTED"]
        assert sent_to(recorder, "INVITE") == [("UDP", busy.port), ("UDP", p)]
        assert sent_to(recorder, "CANCEL") == [("UDP", p)]


def disconnect_when(match):
    """A receiver of SIPEngineSIPTrace and SIPEngineLog (on the poll thread) that calls
    disconnect() on the Invitation put in its ``invs`` list, once, at the first notification
    ``match(signal name, data)`` is true for."""
    invs: list = []

    def on_note(sender, **d):
        if invs and match(d):
            inv = invs.pop()
            inv.disconnect()
    return invs, on_note


@pytest.mark.parametrize("moment", ["503 reported", "between two servers"])
def test_invitation_disconnect_at_the_failover(engine_factory, recorder, responders, moment):
    """disconnect() called by a receiver of a notification delivered on the poll thread at
    the failover: (a) the trace of the first server's 503, delivered while PJSIP reports that
    session's end (the end is that 503); (b) PJSIP's log of the first session's end, delivered
    after it, in the instant before the next INVITE goes out (nothing on the wire: 487
    "Request Terminated").  Either way DISCONNECTING, DISCONNECTED once, and no INVITE to the
    next server, then or later."""
    p = free_port("both")
    busy = responders(503)
    if moment == "503 reported":
        signal = signals.SIPEngineSIPTrace
        invs, on_note = disconnect_when(
            lambda d: d["received"] and d["data"].startswith("SIP/2.0 503"))
        expect, log_level = (503, "Test"), 0
    else:
        signal = signals.SIPEngineLog
        invs, on_note = disconnect_when(
            lambda d: "Session count dec" in d["message"] and "mod-invite" in d["message"])
        expect, log_level = (487, "Request Terminated"), 5       # (PJSIP's dialog log)
    signal.connect(on_note)
    try:
        with Dnsmasq(hosts={"a.test": "127.0.0.1"},
                     srv=[("_sip._udp.inv.test", "a.test", busy.port, 10, 10),
                          ("_sip._udp.inv.test", "a.test", p, 20, 10)]) as dns, \
                incoming_calls(lambda inv: None) as calls:
            engine_factory(local_udp_port=p, nameservers=[dns.nameserver], trace_sip=True,
                           log_level=log_level)
            inv = call(recorder, "inv.test", made=invs)
            d = ended(recorder, inv)
            assert invs == []                     # (the receiver did call disconnect())
            assert (d.code, d.reason) == expect, d
            time.sleep(0.5)
            assert seq(recorder, inv) == ["CALLING", "DISCONNECTING", "DISCONNECTED"]
            assert sent_to(recorder, "INVITE") == [("UDP", busy.port)]
            assert calls == []
    finally:
        signal.disconnect(on_note)


def test_invitation_no_failover_after_an_early_dialog(engine_factory, recorder):
    """The first server makes an early dialog (180 with a To tag), then answers 503: a dialog
    was established, so the call ends there (503), and no INVITE goes to the next server."""
    p = free_port("both")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]

    def serve():
        data, addr = sock.recvfrom(65535)
        req = data.decode()
        for answer in ((180, "Ringing", {"Contact": f"<sip:srv@127.0.0.1:{port}>"}),
                       (503, "Test", {})):
            sock.sendto(ScriptedServer._response(req, answer), addr)
            time.sleep(0.1)
    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        with Dnsmasq(hosts={"a.test": "127.0.0.1"},
                     srv=[("_sip._udp.inv.test", "a.test", port, 10, 10),
                          ("_sip._udp.inv.test", "a.test", p, 20, 10)]) as dns, \
                auto_answer() as calls:
            engine_factory(local_udp_port=p, nameservers=[dns.nameserver], trace_sip=True)
            inv = call(recorder, "inv.test")
            assert ended(recorder, inv).code == 503
            time.sleep(0.3)
            assert seq(recorder, inv) == ["CALLING", "EARLY", "DISCONNECTED"]
            assert sent_to(recorder, "INVITE") == [("UDP", port)]
            assert calls == []
    finally:
        server.join(2)
        sock.close()


@pytest.mark.long
def test_invitation_fails_over_when_the_first_server_is_silent(engine_factory, recorder):
    """The first server never answers: after PJSIP's transaction timeout (Timer B, 32 s) the
    INVITE goes to the next server, which answers; no DISCONNECTED between."""
    p = free_port("both")
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        with Dnsmasq(hosts={"a.test": "127.0.0.1"},
                     srv=[("_sip._udp.inv.test", "a.test", silent.getsockname()[1], 10, 10),
                          ("_sip._udp.inv.test", "a.test", p, 20, 10)]) as dns, \
                auto_answer():
            engine_factory(local_udp_port=p, nameservers=[dns.nameserver])
            inv = call(recorder, "inv.test")
            recorder.wait_for("SIPInvitationChangedState", timeout=60, sender=inv,
                              where=lambda n: n.data.state in ("CONFIRMED", "DISCONNECTED"))
            assert seq(recorder, inv) == ["CALLING", "EARLY", "CONNECTING", "CONFIRMED"]
            inv.disconnect()
            ended(recorder, inv)
    finally:
        silent.close()


# ---- DNS failures end in a notification ------------------------------------------------

def test_dns_timeout_ends_in_a_notification_for_every_primitive(engine_factory, recorder):
    """A name server that never answers: each request ends, after the resolver's retries
    (about 2 s, not Timer F's 32 s), in its primitive's final notification with the reason."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)   # bound, never answers
    silent.bind(("127.0.0.1", 0))
    try:
        engine_factory(nameservers=[f"127.0.0.1:{silent.getsockname()[1]}"])
        route = Route("nowhere.test")
        alice = Credentials(SIPURI("127.0.0.1", user="alice"), "apw")
        t0 = time.monotonic()
        send_message(alice, SIPURI("127.0.0.1", user="bob"), "text/plain", "x", route, timeout=30)
        reg = Registration(alice, route, expires=60)
        reg.register()
        pub = Publication(alice, "presence", route, expires=60)
        pub.publish("application/pidf+xml", PIDF)
        sub = Subscription(alice, SIPURI("127.0.0.1", user="bob"), "presence", route)
        sub.subscribe()
        inv = Invitation(alice, SIPURI("127.0.0.1", user="bob"), route)
        inv.set_offered_local_sdp(make_sdp())
        inv.send_invite()
        ends = [
            recorder.wait_for("SIPEngineGotMessageResponse", timeout=15),
            state_after(recorder, reg, "SIPRegistrationChangedState", ("registering",)),
            state_after(recorder, pub, "SIPPublicationChangedState", ("publishing",)),
            recorder.wait_for("SIPSubscriptionChangedState", timeout=15, sender=sub,
                              where=lambda n: n.data.state == "TERMINATED"),
            recorder.wait_for("SIPInvitationChangedState", timeout=15, sender=inv,
                              where=lambda n: n.data.state == "DISCONNECTED"),
        ]
        took = time.monotonic() - t0
        assert [n.data.state for n in ends[1:3]] == ["unregistered", "unpublished"]
        for n in ends:
            assert n.data.code == 503, (n.name, n.data)
            # pjsip_publishc hands its callback the generic "Service Unavailable" only
            if n.name != "SIPPublicationChangedState":
                assert "timed out" in n.data.reason, (n.name, n.data)
        assert took < 10, took
    finally:
        silent.close()


def test_engine_stop_while_names_resolve(engine_factory, recorder):
    """Stopping while every primitive waits for a name server that never answers: the stop
    is prompt, each primitive ends with its final notification, and the Engine starts again
    (the resolver and its pending queries went with the endpoint)."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        for _ in range(2):
            e = engine_factory(nameservers=[f"127.0.0.1:{silent.getsockname()[1]}"])
            a = Credentials(SIPURI("127.0.0.1", user="alice"), "apw")
            r = Route("nowhere.test")
            send_message(a, SIPURI("127.0.0.1", user="bob"), "text/plain", "x", r)
            reg = Registration(a, r)
            reg.register()
            sub = Subscription(a, SIPURI("127.0.0.1", user="bob"), "presence", r)
            sub.subscribe()
            inv = Invitation(a, SIPURI("127.0.0.1", user="bob"), r)
            inv.set_offered_local_sdp(make_sdp())
            inv.send_invite()
            time.sleep(0.2)
            t0 = time.monotonic()
            e.stop()
            assert time.monotonic() - t0 < 2
            assert recorder.all("SIPEngineGotMessageResponse")[-1].data.code == 408
            assert reg.state == "unregistered" and sub.state == "TERMINATED"
            assert inv.state == "DISCONNECTED"
    finally:
        silent.close()


def test_unknown_name_ends_in_a_final_response(engine_factory, recorder):
    with Dnsmasq() as dns:
        engine_factory(nameservers=[dns.nameserver])
        r = message(recorder, "nothere.test")
        assert r.code == 502 and "NXDOMAIN" in r.reason, r


# ---- TLS: the certificate is checked against the name ------------------------------------

def test_tls_certificate_checked_against_the_name(engine_factory, recorder, tmp_path):
    tls = make_tls_cert(tmp_path / "tls", cn="sip.test", san="DNS:sip.test")
    p = free_port("tcp")
    with Dnsmasq(hosts={"a.test": "127.0.0.1"},
                 srv=[("_sips._tcp.sip.test", "a.test", p, 10, 10),
                      ("_sips._tcp.other.test", "a.test", p, 10, 10)],
                 naptr=[("sip.test", 10, 10, "s", "SIPS+D2T", "_sips._tcp.sip.test")]) as dns:
        engine_factory(local_tls_port=p, tls_ca_file=tls["ca_file"], tls_cert_file=tls["cert_file"],
                       tls_privkey_file=tls["key_file"], nameservers=[dns.nameserver],
                       trace_sip=True)
        r = message(recorder, "sip.test")                           # NAPTR: TLS; name matches
        assert r.code == 200, r
        assert sent_to(recorder) == [("TLS", p)]
        forget_sent(recorder)
        r = message(recorder, "other.test", Route("other.test", transport="tls"))
        assert r.code == 503, r                                      # same server, wrong name
        assert re.search(r"(?i)identity|certificate|verif", r.reason), r.reason


def test_tls_sends_the_name_as_sni(engine_factory, recorder, tmp_path):
    """The name a TLS target was found under goes into the ClientHello's server_name (RFC 6066
    SNI, RFC 5922 §4): a TLS server on loopback (Python's ssl) records what each handshake
    asked for -- the domain of the request, not the SRV target's name or its address."""
    import ssl
    import threading
    tls = make_tls_cert(tmp_path / "tls", cn="sip.test", san="DNS:sip.test,DNS:other.test")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls["cert_file"], tls["key_file"])
    names: list = []
    ctx.sni_callback = lambda sslobj, name, c: names.append(name)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                with ctx.wrap_socket(conn, server_side=True) as s:
                    s.settimeout(2)
                    s.recv(4096)                    # the MESSAGE (not answered: 408 is fine)
            except (OSError, ssl.SSLError):
                pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        with Dnsmasq(hosts={"a.test": "127.0.0.1"},
                     srv=[("_sips._tcp.sip.test", "a.test", port, 10, 10),
                          ("_sips._tcp.other.test", "a.test", port, 10, 10)],
                     naptr=[("sip.test", 10, 10, "s", "SIP+D2S", "_sips._tcp.sip.test")]) as dns:
            engine_factory(local_tls_port=free_port("tcp"), tls_ca_file=tls["ca_file"],
                           tls_cert_file=tls["cert_file"], tls_privkey_file=tls["key_file"],
                           nameservers=[dns.nameserver])
            message(recorder, "sip.test", timeout=3)
            message(recorder, "other.test", Route("other.test", transport="tls"), timeout=3)
    finally:
        listener.close()
    assert names == ["sip.test", "other.test"]
