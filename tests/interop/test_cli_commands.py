"""The ``sipcore`` subcommands (message, call, register, subscribe, trace) run as a user runs
them — a child process ``python -m sipcore ...`` — against real peers on loopback (kamailio,
a second sipcore process), against nothing, and with bad input.

Exit status as documented in sipcore.cli: 0 success, 1 the network said no (the SIP code and
reason on stderr), 2 a bad argument (one line naming it); the status line is a carriage-return
line on a terminal and plain lines otherwise."""
from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
import wave

import pytest

from sipcore import SIPURI, Credentials, Publication, Route, pcap
from sipcore.media import tones
from sipcore.testing.ports import free_port

USERS = {"alice": "apw", "bob": "bpw"}


def sipcore(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sipcore", *args], capture_output=True,
                          text=True, timeout=timeout)


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sipcore", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def at(kamailio, user: str) -> str:
    return f"sip:{user}@127.0.0.1:{kamailio.port}"


# -- message --

def test_message_to_a_sipcore_peer_over_udp_and_tcp(sipcore_peer):
    for transport in ("udp", "tcp"):
        port = sipcore_peer.ready[transport]
        r = sipcore("message", f"sip:peer@127.0.0.1:{port}", f"hello over {transport}",
                    "--transport", transport, "--from", "sip:carol@127.0.0.1")
        assert r.returncode == 0, r.stderr
        assert r.stdout == "200 OK\n"
        got = sipcore_peer.expect("message", body=f"hello over {transport}")
        assert got["from_uri"].startswith("sip:carol@127.0.0.1")


@pytest.mark.kamailio(users=USERS)
def test_message_through_kamailio_with_authentication_and_its_404(kamailio, sipcore_peer):
    # bob is not registered: kamailio authenticates alice (407 then the retry) and says 404
    r = sipcore("message", at(kamailio, "bob"), "hi", "--from", at(kamailio, "alice"),
                "--password", "apw")
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1] == "sipcore message: 404 Not Found"
    r = sipcore("message", at(kamailio, "bob"), "hi", "--from", at(kamailio, "alice"),
                "--password", "wrong")
    assert r.returncode == 1 and re.search(r"sipcore message: (401|403|407) ", r.stderr)


def test_message_to_nothing_fails_with_the_code(tmp_path):
    udp = free_port("udp")
    r = sipcore("message", f"sip:x@127.0.0.1:{udp}", "hi", "--timeout", "1")
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1].startswith("sipcore message: 408 ")
    tcp = free_port("tcp")
    r = sipcore("message", f"sip:x@127.0.0.1:{tcp}", "hi", "--transport", "tcp")
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1].startswith("sipcore message: 503 ")   # refused


@pytest.mark.parametrize("args, named", [
    (["message", "bob@", "hi"], "argument TO"),
    (["message", "sip:bob@127.0.0.1:70000", "hi"], "argument TO"),
    (["message", "sip:bob@127.0.0.1", "hi", "--ip", "127.0.0.x"], "argument --ip"),
    (["message", "sip:bob@127.0.0.1", "hi", "--route", "a b"], "argument --route"),
    (["message", "sip:bob@127.0.0.1", "hi", "--timeout", "-1"], "argument --timeout"),
    (["call", "sip:bob@127.0.0.1", "--transport", "sctp"], "argument --transport"),
    (["call", "sip:bob@127.0.0.1", "--codec", "nosuchcodec"], "argument --codec"),
    (["register"], "argument --from"),
    (["subscribe", "sip:alice@127.0.0.1", "--local-port", "99999"], "argument --local-port"),
    (["trace", "bogus"], "argument COMMAND"),
    (["trace", "--pcap", "x.pcap", "message", "bob@", "hi"], "trace message: error: argument TO"),
    # refused by sipcore itself (after the Engine started): the message names the value
    (["register", "--from", "sip:a@127.0.0.1:9", "--expires", "-3"], "expires must be"),
    (["subscribe", "sip:a@127.0.0.1:9", "--event", "nosuch"], "event 'nosuch'"),
])
def test_bad_input_is_one_line_naming_the_argument(args, named):
    r = sipcore(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and named in lines[0] and lines[0].startswith("sipcore "), lines


# -- register --

@pytest.mark.kamailio(users=USERS)
def test_register_holds_the_binding_then_removes_it(kamailio):
    p = start("register", "--from", at(kamailio, "alice"), "--password", "apw", "--hold", "30",
              "--transport", "tcp")
    try:
        first = p.stdout.readline()          # printed once the 200 came
        contacts = kamailio.wait_registered("alice", timeout=15)
        assert len(contacts) == 1 and "transport=tcp" in str(contacts[0]), contacts
    finally:
        p.send_signal(2)                     # Ctrl-C: unregisters, exit 130
        out, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    assert first.startswith(f"registered {at(kamailio, 'alice')}: 200 OK, expires in "), err
    assert out == ""                         # nothing more: interrupted (stderr says so)
    assert err.splitlines()[-1] == "sipcore register: interrupted"
    assert kamailio.contacts("alice") == []

    r = sipcore("register", "--from", at(kamailio, "alice"), "--password", "apw",
                "--expires", "120")
    assert r.returncode == 0, r.stderr
    assert re.match(r"registered .*: 200 OK, expires in 120 s, contact <sip:alice@127\.0\.0\.1:"
                    r"\d+;transport=udp>\nunregistered: 200 OK\n$", r.stdout), r.stdout
    assert kamailio.contacts("alice") == []


@pytest.mark.kamailio(users=USERS)
def test_register_with_a_wrong_password_and_at_nothing(kamailio):
    r = sipcore("register", "--from", at(kamailio, "alice"), "--password", "nope")
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1] == "sipcore register: 401 Unauthorized"
    r = sipcore("register", "--from", f"sip:alice@127.0.0.1:{free_port('udp')}",
                "--timeout", "1")
    assert r.returncode == 1 and r.stderr.splitlines()[-1].startswith("sipcore register: 408 ")


# -- subscribe --

PIDF = ('<?xml version="1.0" encoding="UTF-8"?><presence xmlns="urn:ietf:params:xml:ns:pidf" '
        'entity="sip:alice@127.0.0.1"><tuple id="t1"><status><basic>open</basic></status>'
        '<note>at the cli test</note></tuple></presence>')


@pytest.mark.kamailio(users=USERS)
def test_subscribe_prints_the_notify_of_a_publication(kamailio, engine, recorder):
    pub = Publication(Credentials(SIPURI("127.0.0.1", user="alice"), "apw"), "presence",
                      Route("127.0.0.1", kamailio.port), expires=60)
    pub.publish("application/pidf+xml", PIDF)
    recorder.wait_for("SIPPublicationChangedState", sender=pub, where={"state": "published"},
                      fail_on={"SIPPublicationChangedState": {"state": "unpublished"}})
    r = sipcore("subscribe", at(kamailio, "alice"), "--from", at(kamailio, "bob"),
                "--password", "bpw", "--duration", "1")
    pub.unpublish()
    assert r.returncode == 0, r.stderr
    assert "subscription ACTIVE\n" in r.stdout        # (the NOTIFY may be printed first)
    assert "NOTIFY application/pidf+xml" in r.stdout and "at the cli test" in r.stdout
    assert r.stdout.endswith("subscription TERMINATED\n")


def test_subscribe_to_nothing_fails_with_the_code():
    r = sipcore("subscribe", f"sip:alice@127.0.0.1:{free_port('udp')}", "--timeout", "1")
    assert r.returncode == 1 and r.stderr.splitlines()[-1].startswith("sipcore subscribe: 408 ")


# -- call --

def test_call_a_sipcore_peer_with_audio_and_hang_up(sipcore_peer, tmp_path):
    tone, heard = str(tmp_path / "tone.wav"), str(tmp_path / "heard.wav")
    tones.write_tone(tone, 1000, seconds=1, sample_rate=8000)
    r = sipcore("call", f"sip:peer@127.0.0.1:{sipcore_peer.ready['udp']}", "--duration", "1.5",
                "--codec", "PCMU", "--play", tone, "--record", heard)
    assert r.returncode == 0, r.stderr
    assert re.match(r"connected to sip:peer@127\.0\.0\.1:\d+: PCMU at 8000 Hz, RTP ", r.stdout)
    sent = int(re.search(r"hung up; RTP packets sent (\d+)", r.stdout).group(1))
    assert sent >= 40                       # 1.5 s of 20 ms packets, less start-up
    call = sipcore_peer.expect("call_state", state="CONFIRMED")
    sipcore_peer.expect("call_state", id=call["id"], state="DISCONNECTED")
    with wave.open(heard) as w:             # the recording was made (the peer sends no RTP)
        assert w.getnchannels() == 1 and w.getnframes() > 0


def test_call_with_ice_and_stun_and_against_a_peer_without_ice(sipcore_peer_factory, coturn,
                                                                tmp_path):
    """``call --stun IP:PORT`` (ICE with coturn's STUN) against a peer with ICE: the ICE line
    names the nominated RTP pair, the peer's SDP port at the other end, and RTP flows over it;
    ``--ice`` against a peer without ICE: plain RTP; a --stun that is no IP address: exit 2."""
    peer = sipcore_peer_factory("--answer", "auto")
    peer.set_media(codecs=["PCMU"], tone=1000, use_ice=True)
    uri = f"sip:peer@127.0.0.1:{peer.ready['udp']}"
    r = sipcore("call", uri, "--duration", "1.5", "--stun", f"127.0.0.1:{coturn.port}")
    assert r.returncode == 0, r.stderr
    assert f"asking the STUN server 127.0.0.1:{coturn.port}" in r.stderr    # WAIT_STUN
    started = peer.expect("media_started")
    m = re.search(r"^ICE: nominated 127\.0\.0\.1:(\d+) \(host\) -> 127\.0\.0\.1:(\d+) "
                  r"\(host\) in \d+ ms; active True$", r.stdout, re.M)
    assert m and int(m.group(2)) == started["local_rtp_port"], r.stdout
    theirs = peer.expect("ice", id=started["id"])
    assert theirs["succeeded"] and theirs["chosen_remote_candidates"][0]["port"] == \
        int(m.group(1))
    received = int(re.search(r"received (\d+)$", r.stdout, re.M).group(1))
    assert received >= 40, r.stdout                 # the peer's tone, over the ICE pair
    peer.set_media(codecs=["PCMU"], tone=1000)
    r = sipcore("call", uri, "--duration", "1", "--ice")
    assert r.returncode == 0, r.stderr
    assert "ICE: the other side did not answer with ICE: plain RTP; active False\n" in r.stdout
    assert int(re.search(r"received (\d+)$", r.stdout, re.M).group(1)) >= 25, r.stdout
    r = sipcore("call", uri, "--stun", "stun.example.com")
    assert r.returncode == 2 and "--stun" in r.stderr.splitlines()[-1], r.stderr
    assert peer.exceptions == []


@pytest.mark.long
def test_call_with_a_stun_server_that_never_answers_fails(sipcore_peer):
    """About 9.5 s (pjnath's STUN retransmissions): exit 1 with the transport's reason."""
    from sipcore.testing.coturn import BlackHole
    with BlackHole() as hole:
        r = sipcore("call", f"sip:peer@127.0.0.1:{sipcore_peer.ready['udp']}", "--stun",
                    f"127.0.0.1:{hole.port}")
        assert hole.received() > 0
    assert r.returncode == 1, r.stderr
    assert re.fullmatch(r"sipcore call: RTPTransportDidFail: .*timed out.*",
                        r.stderr.splitlines()[-1]), r.stderr
    with pytest.raises(TimeoutError):
        sipcore_peer.expect("call_state", timeout=0.5)      # no INVITE was sent


def test_call_refused_and_call_to_nothing(sipcore_peer_factory):
    busy = sipcore_peer_factory("--answer", "busy")
    r = sipcore("call", f"sip:peer@127.0.0.1:{busy.ready['udp']}")
    assert r.returncode == 1 and r.stderr.splitlines()[-1] == "sipcore call: 486 Busy Here"
    r = sipcore("call", f"sip:peer@127.0.0.1:{free_port('tcp')}", "--transport", "tcp")
    assert r.returncode == 1 and r.stderr.splitlines()[-1].startswith("sipcore call: 503 ")


# -- trace --

def test_trace_prints_the_messages_of_a_command(sipcore_peer):
    port = sipcore_peer.ready["udp"]
    r = sipcore("trace", "message", f"sip:peer@127.0.0.1:{port}", "traced")
    assert r.returncode == 0, r.stderr
    blocks = [b for b in r.stdout.split("--- ") if b]
    assert re.match(rf"\S+ sent 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:{port} \(UDP\)\n"
                    rf"MESSAGE sip:peer@127\.0\.0\.1:{port} SIP/2\.0\n", blocks[0]), blocks[0]
    assert blocks[0].rstrip().endswith("traced")
    assert re.match(rf"\S+ received 127\.0\.0\.1:{port} -> 127\.0\.0\.1:\d+ \(UDP\)\n"
                    r"SIP/2\.0 200 OK\n", blocks[1]), blocks[1]
    assert blocks[-1].endswith("200 OK\n")             # then the command's own output


@pytest.mark.kamailio(users=USERS)
def test_trace_to_a_pcap_and_a_ladder(kamailio, tmp_path):
    out = tmp_path / "register.pcap"
    r = sipcore("trace", "--pcap", str(out), "--ladder", "register", "--from",
                at(kamailio, "alice"), "--password", "apw")
    assert r.returncode == 0, r.stderr
    seen = subprocess.run(["tshark", "-r", str(out), "-Y", "sip", "-T", "fields", "-e",
                           "sip.Method", "-e", "sip.Status-Code", "-e", "udp.dstport"],
                          capture_output=True, text=True, timeout=60, check=True).stdout
    assert [line.split("\t")[:2] for line in seen.splitlines()] == [
        ["REGISTER", ""], ["", "401"], ["REGISTER", ""], ["", "200"]] * 2   # tshark: SIP/UDP
    assert {line.split("\t")[2] for line in seen.splitlines()} >= {str(kamailio.port)}
    firsts = [rec.first_line for rec in pcap.read_pcap(out)]
    assert [f.split()[0] for f in firsts] == ["REGISTER", "SIP/2.0", "REGISTER", "SIP/2.0"] * 2
    assert [f.split()[1] for f in firsts if f.startswith("SIP")] == ["401", "200"] * 2
    assert "--REGISTER sip:127.0.0.1" in r.stdout      # the ladder
    assert f"4 SIP message(s) written to {out}" not in r.stderr
    assert f"8 SIP message(s) written to {out}" in r.stderr


def test_trace_listening_shows_what_comes(engine, recorder):
    port = free_port("both")
    p = start("trace", "--listen", "20", "--local-port", str(port))
    try:
        assert p.stdout.readline() == (f"listening on 127.0.0.1:{port} (UDP) and "
                                       f"127.0.0.1:{port} (TCP)\n")
        from sipcore import send_message
        send_message(Credentials(SIPURI("127.0.0.1", user="dave")),
                     SIPURI("127.0.0.1", user="cli", port=port), "text/plain", "anyone there",
                     Route("127.0.0.1", port, "tcp"))
        n = recorder.wait_for("SIPEngineGotMessageResponse", timeout=10)
        assert n.data.code == 200
        seen = ""
        deadline = time.monotonic() + 10
        while "MESSAGE from sip:dave@127.0.0.1" not in seen and time.monotonic() < deadline:
            seen += p.stdout.readline()
    finally:
        p.send_signal(2)
        rest, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    assert re.search(rf"received 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:{port} \(TCP\)\n"
                     rf"MESSAGE sip:cli@127\.0\.0\.1:{port}", seen), seen
    assert "MESSAGE from sip:dave@127.0.0.1: anyone there" in seen
    assert "SIP/2.0 200 OK" in seen + rest


# -- the status line --

def _run_on_a_terminal(*args: str, timeout: float = 30) -> tuple[int, str]:
    """Run ``sipcore ...`` with a pseudo-terminal as stdout and stderr; (exit status, output)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([sys.executable, "-m", "sipcore", *args], stdout=slave, stderr=slave,
                         stdin=subprocess.DEVNULL, close_fds=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:                  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif p.poll() is not None:
            break
    os.close(master)
    return p.wait(timeout=10), out.decode()


def test_status_line_on_a_terminal_and_plain_lines_otherwise():
    target = f"sip:x@127.0.0.1:{free_port('udp')}"
    code, out = _run_on_a_terminal("message", target, "hi", "--timeout", "1.5")
    assert code == 1
    # rewritten in place with the time waited, e.g. "\rsending MESSAGE to ...… 0.7 s"
    times = [float(t) for t in re.findall(rf"\rsending MESSAGE to {re.escape(target)}\u2026 "
                                          r"(\d+\.\d) s", out)]
    assert len(times) >= 5 and times == sorted(times) and times[-1] >= 1.0, out
    assert "sipcore message: 408 " in out
    r = sipcore("message", target, "hi", "--timeout", "0.5")
    assert "\r" not in r.stderr
    assert r.stderr.splitlines() == [f"sending MESSAGE to {target}\u2026",
                                     r.stderr.splitlines()[-1]]


def test_a_busy_local_port_fails_with_the_reason():
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        r = sipcore("trace", "--listen", "1", "--local-port", str(port))
        assert r.returncode == 1
        assert r.stderr.splitlines()[-1].startswith(
            f"sipcore trace: could not listen: starting the UDP transport on port {port}: "
            "Address already in use"), r.stderr
        r = sipcore("message", "sip:x@127.0.0.1:5", "hi", "--local-port", str(port))
        assert r.returncode == 1 and "Address already in use" in r.stderr.splitlines()[-1]
