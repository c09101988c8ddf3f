"""SIP traces saved as pcap files that tshark and sngrep read as SIP with the real addresses, ports and
times (UDP and TCP, IPv4 and IPv6), read back into a Ladder; and real loopback captures
(dumpcap) read by sipcore.pcap.read_pcap as the same messages the trace saw."""
from __future__ import annotations

import datetime
import subprocess
import time

import pytest

from conftest import host
from sipcore import Credentials, Route, SIPURI, send_message
from sipcore.ladder import Ladder
from sipcore.pcap import TraceWriter, read_pcap, write_pcap
from sipcore.peer import PeerProcess

FIELDS = ["frame.time_epoch", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "udp.srcport",
          "udp.dstport", "tcp.srcport", "tcp.dstport", "sip.Method", "sip.Status-Code",
          "udp.checksum.status", "tcp.checksum.status", "ip.checksum.status"]


def tshark(path) -> list[dict[str, str]]:
    """Every packet tshark dissects as SIP (``-Y sip``), with FIELDS, checksums verified."""
    args = ["tshark", "-r", str(path), "-Y", "sip", "-T", "fields", "-E", "occurrence=f",
            "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
            "-o", "ip.check_checksum:TRUE"]
    for f in FIELDS:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True).stdout
    return [dict(zip(FIELDS, line.split("\t"))) for line in out.splitlines()]


@pytest.fixture(params=["127.0.0.1", "::1"])
def ip(request):
    return request.param


@pytest.fixture
def peer(ip, engine_factory):
    engine_factory(local_ip=ip, trace_sip=True)
    with PeerProcess("--ip", ip, "--user", "bob") as p:
        yield p


def exchange(ip, peer, recorder) -> None:
    """A MESSAGE to the peer over UDP, then over TCP, and one from the peer over TCP."""
    from sipcore import Engine
    for transport in ("udp", "tcp"):
        port = peer.ready[transport]
        send_message(Credentials(SIPURI(ip, user="alice")), SIPURI(ip, user="bob", port=port),
                     "text/plain", f"over {transport}", Route(ip, port, transport))
        assert recorder.wait_for("SIPEngineGotMessageResponse", timeout=10).data.code == 200
    my_tcp = Engine().local_tcp_port
    peer.send(f"sip:alice@{host(ip)}:{my_tcp}", "back", (ip, my_tcp, "tcp"))
    recorder.wait_for("SIPEngineGotMessage", timeout=10)
    assert peer.expect("response", timeout=10)["code"] == 200


def test_trace_as_pcap_read_by_tshark(ip, peer, recorder, tmp_path):
    ladder = Ladder()
    live = tmp_path / "live.pcap"
    with ladder, TraceWriter(live) as writer:
        exchange(ip, peer, recorder)
        # written as it happens: the file is complete while the writer is still open
        assert writer.count == 6 and len(read_pcap(live)) == 6
    traces = [n.data for n in recorder.all("SIPEngineSIPTrace")]
    assert len(traces) == 6
    path = tmp_path / "trace.pcap"
    assert write_pcap(path, recorder.all("SIPEngineSIPTrace")) == 6
    packets = tshark(path)
    assert len(packets) == 6, packets
    v6 = ":" in ip
    expect_ports = [("udp", peer.ready["udp"]), ("udp", peer.ready["udp"]),
                    ("tcp", peer.ready["tcp"]), ("tcp", peer.ready["tcp"])]
    for k, (t, p) in enumerate(zip(traces, packets)):
        # addresses: those of the trace, in the IP header of the right version
        assert p["ipv6.src" if v6 else "ip.src"] == ip and p["ipv6.dst" if v6 else "ip.dst"] == ip
        proto = "udp" if k < 2 else "tcp"
        assert (p[f"{proto}.srcport"], p[f"{proto}.dstport"]) == (
            str(t.source_port), str(t.destination_port))
        if k < 4:       # to the peer's UDP, then TCP port, and the answers from it
            assert expect_ports[k][1] in (t.source_port, t.destination_port)
        else:           # the peer's MESSAGE came to our TCP port
            from sipcore import Engine
            assert Engine().local_tcp_port in (t.source_port, t.destination_port)
        assert p[f"{proto}.checksum.status"] == "1"             # 1: good
        if not v6:
            assert p["ip.checksum.status"] == "1"
        # what: the request's method or the response's code, as the trace's first line
        first = t.data.split("\r\n", 1)[0]
        if first.startswith("SIP/2.0 "):
            assert p["sip.Status-Code"] == first.split()[1] == "200" and p["sip.Method"] == ""
        else:
            assert p["sip.Method"] == first.split()[0] == "MESSAGE"
        # when: the trace's time, to the microsecond
        stamp = t.timestamp.timestamp()
        assert abs(float(p["frame.time_epoch"]) - stamp) < 2e-6, (p, t.timestamp)
    assert tshark(live) == packets          # the live file holds the same packets
    # the Ladder writes the same packets
    ladder_path = tmp_path / "ladder.pcap"
    assert ladder.save_pcap(ladder_path) == 6
    assert tshark(ladder_path) == packets
    # and reading the file back gives the ladder of the trace
    back = Ladder.from_pcap(path)
    assert [(m.source, m.destination, m.data) for m in back.messages] == [
        (m.source, m.destination, m.data) for m in ladder.messages]
    assert [m.transport for m in back.messages] == ["udp"] * 2 + ["tcp"] * 4
    assert [m.timestamp for m in back.messages] == [t.timestamp for t in traces]
    arrows = lambda lad: [ln for ln in lad.render().splitlines() if " ms" in ln]  # noqa: E731
    assert arrows(back) == arrows(ladder) and len(arrows(back)) == 6


def test_sngrep_reads_the_pcap_as_sip(ip, peer, recorder, tmp_path):
    """sngrep (no interface) reads the file and saves the SIP dialogs it found: every message,
    UDP and TCP, with its addresses and text."""
    exchange(ip, peer, recorder)
    path, out = tmp_path / "trace.pcap", tmp_path / "sngrep.pcap"
    assert write_pcap(path, recorder.all("SIPEngineSIPTrace")) == 6
    subprocess.run(["sngrep", "-N", "-q", "-I", str(path), "-O", str(out)], check=True,
                   capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert [(r.source_ip, r.source_port, r.destination_port, r.transport, r.data)
            for r in read_pcap(out)] == [
        (r.source_ip, r.source_port, r.destination_port, r.transport, r.data)
        for r in read_pcap(path)]
    assert len(tshark(out)) == 6


def test_message_to_itself_written_once(engine_factory, recorder, tmp_path):
    """A MESSAGE this process sends to its own UDP port is traced twice (sent and received)
    and so is its 200; the pcap and the ladder have each once."""
    e = engine_factory(trace_sip=True)
    with Ladder() as ladder:
        port = e.local_udp_port
        send_message(Credentials(SIPURI("127.0.0.1", user="me")),
                     SIPURI("127.0.0.1", user="me", port=port), "text/plain", "self",
                     Route("127.0.0.1", port, "udp"))
        assert recorder.wait_for("SIPEngineGotMessageResponse", timeout=10).data.code == 200
    assert len(recorder.all("SIPEngineSIPTrace")) == 4
    path = tmp_path / "self.pcap"
    assert write_pcap(path, recorder.all("SIPEngineSIPTrace")) == 2
    assert [(p["sip.Method"], p["sip.Status-Code"]) for p in tshark(path)] == [
        ("MESSAGE", ""), ("", "200")]
    assert [m.first_line.split()[0] for m in ladder.messages] == ["MESSAGE", "SIP/2.0"]


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_real_capture_read_back(ip, peer, recorder, tmp_path, fmt):
    """dumpcap captures the loopback traffic (as pcap, and as pcapng: what Wireshark, tshark
    and dumpcap write by default); read_pcap finds in it exactly the messages the trace saw
    (TCP segments put together by Content-Length), with the same text."""
    path = tmp_path / f"capture.{fmt}"
    ports = sorted({peer.ready["udp"], peer.ready["tcp"]})
    cap = subprocess.Popen(["dumpcap", "-q", *(["-P"] if fmt == "pcap" else []), "-i", "lo", "-f",
                            " or ".join(f"port {p}" for p in ports) + " or port "
                            + str(__import__("sipcore").Engine().local_tcp_port),
                            "-w", str(path)], stderr=subprocess.PIPE, text=True)
    try:
        line = cap.stderr.readline()        # "Capturing on 'Loopback: lo'", then "File: ..."
        assert "Capturing on" in line, line + cap.stderr.read()
        cap.stderr.readline()
        time.sleep(0.5)                     # (dumpcap attaches its filter after saying so)
        exchange(ip, peer, recorder)
        time.sleep(0.5)                     # (the kernel hands over the last packets)
    finally:
        cap.terminate()
        cap.wait(10)
    assert path.read_bytes()[:4] == (b"\x0a\x0d\x0d\x0a" if fmt == "pcapng" else b"\xd4\xc3\xb2\xa1")
    got = read_pcap(path)
    traced = [n.data for n in recorder.all("SIPEngineSIPTrace")]
    assert [(r.source_port, r.destination_port, r.data) for r in got] == [
        (t.source_port, t.destination_port, t.data) for t in traced]
    assert {r.source_ip for r in got} == {ip}
    # capture times are the kernel's; the trace's are taken in C as the message crossed
    for r, t in zip(got, traced):
        assert abs(r.timestamp - t.timestamp) < datetime.timedelta(seconds=0.25)
