"""Self-tests for the real-peer helpers (no sipcore import).

Run:  python3 -m pytest -q tests/peers/test_peers_selftest.py
A peer that is not installed is a failure, never a skip (`make setup` installs them).
"""
import shutil
import socket
import subprocess


import pytest

from .baresip import Baresip
from .dnsmasq import Dnsmasq, dns_query
from .kamailio import Kamailio, sip_options_ping
from . import sipsak
from .ports import free_port, ipv6_available

PEER_BINARIES = ["kamailio", "baresip", "sipsak", "sipp", "turnserver", "openssl"]


def test_peers_installed():
    missing = [b for b in PEER_BINARIES if not (shutil.which(b) or shutil.which(f"/usr/sbin/{b}"))]
    assert not missing, f"peers missing (run `make setup`): {missing}"


def need_kamailio(f):
    return f


need_baresip = need_sipsak = need_kamailio


def _no_leftovers(pid):
    try:
        out = subprocess.run(["ps", "-o", "pid=", "-g", str(pid)],
                             capture_output=True, text=True, timeout=10).stdout
    except Exception:
        return True
    return out.strip() == ""


@pytest.fixture
def kam(tmp_path):
    with Kamailio(workdir=tmp_path / "kam", ipv6=ipv6_available()) as k:
        k.add_user("alice", "apw")
        k.add_user("bob", "bpw")
        yield k


def test_free_port():
    p = free_port("both")
    for t in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, t)
        s.bind(("127.0.0.1", p))
        s.close()
    assert free_port("udp") != free_port("udp")


@need_kamailio
def test_kamailio_up_options_tls_restart(kam):
    assert sip_options_ping(kam.host, kam.port).startswith("SIP/2.0 200")
    if kam.ipv6:
        assert sip_options_ping("::1", kam.port6, 1.0,
                                socket.AF_INET6).startswith("SIP/2.0 200")
    r = subprocess.run(["openssl", "s_client", "-connect",
                        f"127.0.0.1:{kam.tls_port}", "-CAfile", kam.ca_file,
                        "-verify_return_error", "-verify_ip", "127.0.0.1",
                        "-brief"], input="", capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == 0, r.stderr
    pid = kam.proc.pid
    old = (kam.port, kam.tls_port)
    kam.restart()
    assert (kam.port, kam.tls_port) == old
    assert _no_leftovers(pid)
    assert sip_options_ping(kam.host, kam.port).startswith("SIP/2.0 200")
    assert kam.rpc("core.uptime")["uptime"] >= 0


@need_kamailio
@need_sipsak
def test_sipsak_register(kam):
    r = sipsak.register(f"sip:alice@127.0.0.1:{kam.port}", "apw")
    assert r.ok, r.stdout + r.stderr
    assert kam.is_registered("alice")
    assert not sipsak.register(f"sip:alice@127.0.0.1:{kam.port}", "wrong").ok
    kam.restart()       # bindings are in memory only by default
    assert not kam.is_registered("alice")


@need_kamailio
@need_baresip
@need_sipsak
def test_message_sipsak_to_baresip_and_back(kam):
    with Baresip("bob", "bpw", registrar=kam,
                 contacts=["sip:alice@127.0.0.1"]) as b, \
         Baresip("alice", "apw", registrar=kam, transport="tcp") as a:
        b.wait_registered()
        a.wait_registered()
        assert kam.wait_registered("bob")
        # sipsak -> kamailio (407 auth) -> baresip bob
        for tr in ("udp", "tcp"):
            r = sipsak.send_message("sip:bob@127.0.0.1", f"hi via {tr}",
                                    proxy=f"{kam.host}:{kam.port}",
                                    from_uri="sip:alice@127.0.0.1",
                                    user="alice", password="apw",
                                    transport=tr)
            assert r.ok, r.stdout + r.stderr
            assert b.wait_for_message(f"hi via {tr}", 10) == \
                ("sip:alice@127.0.0.1", f"hi via {tr}")
        # no credentials -> 407 -> failure
        r = sipsak.send_message("sip:bob@127.0.0.1", "x",
                                proxy=f"{kam.host}:{kam.port}",
                                from_uri="sip:alice@127.0.0.1")
        assert not r.ok and r.status == 407
        # unknown user -> 404
        r = sipsak.send_message("sip:nobody@127.0.0.1", "x",
                                proxy=f"{kam.host}:{kam.port}",
                                from_uri="sip:alice@127.0.0.1",
                                user="alice", password="apw")
        assert r.returncode == 1 and r.status == 404
        # baresip bob -> kamailio -> baresip alice (over TCP)
        m = a.mark()
        b.send_message("sip:alice@127.0.0.1", "hello alice")
        assert a.wait_for_message("hello alice", 10, since=m)[0] == \
            "sip:bob@127.0.0.1"
        # direct, no proxy
        r = sipsak.send_message(b.contact_uri, "direct")
        assert r.ok
        b.wait_for_message("direct", 10)
    assert not a.running and not b.running


@need_kamailio
@need_baresip
def test_auth_messages_off_and_call(tmp_path):
    with Kamailio(workdir=tmp_path / "k2", auth_messages=False) as k:
        k.add_user("bob", "bpw")
        k.add_user("carl", "cpw")
        with Baresip("bob", "bpw", registrar=k, auto_answer=True,
                     sip_trace=False) as b, \
             Baresip("carl", "cpw", registrar=k, sip_trace=False) as c:
            b.wait_registered()
            c.wait_registered()
            r = sipsak.send_message("sip:bob@127.0.0.1", "no auth needed",
                                    proxy=f"{k.host}:{k.port}",
                                    from_uri="sip:carl@127.0.0.1")
            assert r.ok, r.stdout + r.stderr
            b.wait_for_message("no auth needed")
            m = c.mark()
            c.dial("sip:bob@127.0.0.1")
            c.wait_for_output(r"Call established", 15, since=m)
            mb = b.mark()
            c.hangup()
            # callee got the BYE through the proxy (loose_route)
            b.wait_for_output(r"terminated|closed", 10, since=mb)


def test_dnsmasq_answers_what_it_was_given():
    """NOERROR (rcode 0) for the records given, NXDOMAIN (3) for other names of the domain."""
    with Dnsmasq(hosts={"a.test": "127.0.0.1"},
                 srv=[("_sip._udp.x.test", "a.test", 5070, 10, 10)],
                 naptr=[("x.test", 10, 10, "s", "SIP+D2U", "_sip._udp.x.test")]) as dns:
        assert dns_query(dns.host, dns.port, "a.test", 1) == 0            # A
        assert dns_query(dns.host, dns.port, "_sip._udp.x.test", 33) == 0  # SRV
        assert dns_query(dns.host, dns.port, "x.test", 35) == 0            # NAPTR
        assert dns_query(dns.host, dns.port, "none.test", 1) == 3
        assert "query[NAPTR] x.test" in dns.output()
    assert not dns.running
