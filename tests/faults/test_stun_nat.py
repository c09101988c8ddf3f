"""A server-reflexive ICE candidate from coturn, through a NAT of the test's own.

On a plain loopback the STUN server sees the RTP socket's own address, so the mapped address
equals the host candidate and pjnath drops the server-reflexive one as redundant (RFC 8445
5.1.3): the other STUN tests (tests/interop/test_rtp_ice.py) can only show that the server
was asked and answered.  Here, in a network namespace the test creates, an nftables rule
source-NATs the datagrams to coturn from 127.0.0.1 to 127.0.0.3 (conntrack maps the answers
back), as a home router would: coturn answers with 127.0.0.3 and the mapped port, and the
candidate must reach the SDP, as the default candidate (m=, c=, a=rtcp) with the host
candidate next to it (raddr/rport: RFC 8839 5.1).  The same for ``sipcore listen --stun``:
the answer its caller receives carries it.
"""
from __future__ import annotations

import re
import signal
import subprocess
import sys

import pytest

from sipcore import AudioTransport, NotificationRecorder, RTPTransport, SDPSession
from sipcore.testing.coturn import Coturn

from faultkit import netns  # noqa: F401 (fixtures)

MAPPED = "127.0.0.3"
# a=candidate:<foundation> <component> UDP <priority> <address> <port> typ <type>
#   [raddr <address> rport <port>]
CANDIDATE = re.compile(r"\S+ (\d) UDP \d+ (\S+) (\d+) typ (\w+)(?: raddr (\S+) rport (\d+))?")


def _nat(ns, coturn) -> None:
    """Source NAT, to MAPPED, of what goes from 127.0.0.1 to coturn's port (and only that)."""
    ns.nft(f"""table ip sipcore_nat {{
  chain post {{
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr 127.0.0.1 ip daddr 127.0.0.1 udp dport {coturn.port} counter snat to {MAPPED}
  }}
}}
""")


def _natted(ns) -> int:
    """Packets the NAT rule has rewritten so far."""
    out = ns.exec("nft", "list", "table", "ip", "sipcore_nat")
    m = re.search(r"counter packets (\d+)", out)
    assert m, out
    return int(m.group(1))


def _candidates(lines: list[str]) -> dict[tuple[int, str], tuple[str, int, str | None, int]]:
    """{(component, type): (address, port, raddr, rport)} of a=candidate values."""
    out = {}
    for value in lines:
        m = CANDIDATE.fullmatch(value)
        assert m, value
        comp, addr, port, typ, raddr, rport = m.groups()
        out[(int(comp), typ)] = (addr, int(port), raddr, int(rport) if rport else None)
    return out


def _offer_of(t: RTPTransport) -> SDPSession:
    t.set_INIT()
    offer = SDPSession("127.0.0.1", media=[AudioTransport(t).get_local_media(True)])
    t.set_LOCAL(offer, 0)
    return offer


def _initialized(coturn) -> RTPTransport:
    with NotificationRecorder(["RTPTransportDidInitialize", "RTPTransportDidFail"]) as rec:
        t = RTPTransport(use_ice=True, ice_stun_address="127.0.0.1", ice_stun_port=coturn.port)
        rec.wait_for("RTPTransportDidInitialize", sender=t, fail_on="RTPTransportDidFail",
                     timeout=15)
    return t


@pytest.fixture
def coturn_in_ns(netns):       # noqa: F811 (the fixture above)
    c = Coturn(change_request=False).start()
    yield c
    c.close()


def test_behind_a_nat_the_offer_carries_the_server_reflexive_candidate(netns, coturn_in_ns,  # noqa: F811
                                                                        engine_factory):
    engine_factory(local_tcp_port=None)
    # without the NAT: the mapped address is the host's, and no srflx candidate is offered
    plain = _candidates([a.value for a in _offer_of(_initialized(coturn_in_ns)).media[0]
                         .attributes if a.name == "candidate"])
    assert set(plain) == {(1, "host"), (2, "host")}, plain

    _nat(netns, coturn_in_ns)
    t = _initialized(coturn_in_ns)
    assert _natted(netns) >= 2                      # RTP's and RTCP's requests went through it
    offer = _offer_of(t)
    m = offer.media[0]
    cands = _candidates([a.value for a in m.attributes if a.name == "candidate"])
    assert set(cands) == {(1, "host"), (2, "host"), (1, "srflx"), (2, "srflx")}, cands
    for comp in (1, 2):
        host_addr, host_port, _, _ = cands[(comp, "host")]
        addr, port, raddr, rport = cands[(comp, "srflx")]
        assert host_addr == "127.0.0.1"
        # the mapped address, and the host candidate it was seen from (RFC 8839 5.1)
        assert (addr, raddr, rport) == (MAPPED, host_addr, host_port), cands
        assert port > 0
    # the server-reflexive candidate is the default one: m=, c= and a=rtcp (RFC 8839 4.2.1.2)
    rtp_addr, rtp_port, _, _ = cands[(1, "srflx")]
    rtcp_addr, rtcp_port, _, _ = cands[(2, "srflx")]
    assert (m.connection.address, m.port) == (rtp_addr, rtp_port), str(offer)
    assert [a.value for a in m.attributes if a.name == "rtcp"] == [f"{rtcp_port} IN IP4 "
                                                                    f"{rtcp_addr}"], str(offer)
    # and what the transport reports as its local address
    assert (t.local_rtp_address, t.local_rtp_port) == (MAPPED, rtp_port)


def test_listen_answers_with_the_server_reflexive_candidate(netns, coturn_in_ns,  # noqa: F811
                                                             sipcore_peer_factory):
    _nat(netns, coturn_in_ns)
    p = subprocess.Popen(
        [sys.executable, "-m", "sipcore", "listen", "--transport", "udp", "--count", "1",
         "--stun", f"127.0.0.1:{coturn_in_ns.port}"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        first = p.stdout.readline()
        port = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+) \(UDP\)\n", first)
        assert port, (first, p.stderr.read() if p.poll() is not None else "")
        peer = sipcore_peer_factory("--answer", "manual")
        peer.set_media(codecs=["PCMU"], tone=800, use_ice=True)
        peer.command("call", id="c1", to=f"sip:cli@127.0.0.1:{port.group(1)}",
                     route=["127.0.0.1", int(port.group(1)), "udp"])
        update = peer.expect("sdp_update", id="c1", succeeded=True, timeout=20)
        peer.expect("media_started", id="c1")
        peer.command("hangup", id="c1")
        peer.expect("media_stopped", id="c1")
        out, err = p.communicate(timeout=20)
    finally:
        p.kill() if p.poll() is None else None
    assert p.returncode == 0, err
    answer = update["remote_sdp"]
    values = re.findall(r"^a=candidate:(.*?)\r?$", answer, re.M)
    cands = _candidates(values)
    assert (1, "srflx") in cands, answer
    addr, port, raddr, rport = cands[(1, "srflx")]
    assert (addr, raddr, rport) == (MAPPED, "127.0.0.1", cands[(1, "host")][1]), answer
    assert re.search(rf"^c=IN IP4 {re.escape(MAPPED)}\r?$", answer, re.M), answer
    assert _natted(netns) >= 1
