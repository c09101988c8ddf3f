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
import signal
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


def _default_sigint() -> None:
    # The tests' Ctrl-C is SIGINT; a suite started as a background job of a non-interactive
    # shell (`make test &`) runs with SIGINT ignored, which the child would inherit, and a
    # Python that starts with SIGINT ignored never raises KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sipcore", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)


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
    (["publish", "--status", "open"], "argument --from"),
    (["publish", "--from", "sip:a@127.0.0.1", "--status", "away"], "argument --status"),
    (["publish", "--from", "sip:a@127.0.0.1", "--body", "/nonexistent"], "argument --body"),
    (["publish", "--from", "sip:a@127.0.0.1", "--body", "x", "--note", "n"], "argument --body"),
    (["publish", "--from", "sip:a@127.0.0.1", "--content-type", "text/plain"],
     "argument --content-type"),
    (["subscribe", "sip:alice@127.0.0.1", "--local-port", "99999"], "argument --local-port"),
    (["trace", "bogus"], "argument COMMAND"),
    (["message", "sip:bob@127.0.0.1", "hi", "--tls-ca", "/nonexistent"], "argument --tls-ca"),
    (["listen", "--transport", "tls"], "argument --tls-cert"),
    (["listen", "--play", "/nonexistent.wav"], "argument --play"),
    (["call", "sip:bob@127.0.0.1", "--play", "/nonexistent.wav"], "argument --play"),
    (["listen", "--answer", "250"], "argument --answer"),
    (["listen", "--message-code", "180"], "argument --message-code"),
    (["listen", "--count", "0"], "argument --count"),
    (["listen", "--transport", "sctp"], "argument --transport"),
    (["listen", "--codec", "nosuchcodec", "--duration", "5"], "argument --codec"),
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


# -- publish --

@pytest.mark.kamailio(users=USERS)
def test_publish_is_seen_by_a_subscriber_refreshed_and_unpublished(kamailio):
    """``publish --status closed --note``: a ``subscribe`` process of bob's sees the PIDF;
    --expires 2 for --duration 2.5: refreshed (each state change printed); unpublished at the
    end (the subscriber's next NOTIFY no longer has the note); exit 0."""
    sub = start("subscribe", at(kamailio, "alice"), "--from", at(kamailio, "bob"), "--password",
                "bpw", "--duration", "20")
    try:
        assert sub.stdout.readline() != ""           # subscribed (or its first NOTIFY)
        r = sipcore("publish", "--from", at(kamailio, "alice"), "--password", "apw",
                    "--status", "closed", "--note", "in a <meeting>", "--expires", "2",
                    "--duration", "2.5")
        time.sleep(1)                                # the NOTIFY of the unpublish
    finally:
        sub.send_signal(2)
        seen, err = sub.communicate(timeout=30)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:2] == ["publication publishing", "publication published: 200 OK"], lines
    assert lines[-2:] == ["publication unpublishing", "publication unpublished: 200 OK"], lines
    assert lines.count("publication published: 200 OK") >= 2, lines    # refreshed (~1 s)
    notifies = seen.split("NOTIFY application/pidf+xml")
    published = [i for i, n in enumerate(notifies) if "in a &lt;meeting&gt;" in n]
    assert published and "<basic>closed</basic>" in notifies[published[0]], seen
    assert published[-1] < len(notifies) - 1, seen   # a later NOTIFY: the note is gone


@pytest.mark.kamailio(users=USERS)
def test_publish_a_body_file_and_the_refusals(kamailio, tmp_path):
    """--body FILE: its content is what a subscriber gets; Ctrl-C: exit 130; a wrong
    password: exit 1 with the code; nothing at the other end: exit 1 with 408."""
    doc = tmp_path / "p.xml"
    doc.write_text(PIDF.replace("entity=\"sip:alice@127.0.0.1\"",
                                f"entity=\"{at(kamailio, 'alice')}\""))
    p = start("publish", "--from", at(kamailio, "alice"), "--password", "apw", "--body",
              str(doc), "--content-type", "application/pidf+xml", "--duration", "30")
    try:
        assert p.stdout.readline() == "publication publishing\n"
        assert p.stdout.readline() == "publication published: 200 OK\n"
        r = sipcore("subscribe", at(kamailio, "alice"), "--from", at(kamailio, "bob"),
                    "--password", "bpw", "--duration", "0.5")
    finally:
        p.send_signal(2)
        out, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    assert "at the cli test" in r.stdout, r.stdout
    r = sipcore("publish", "--from", at(kamailio, "alice"), "--password", "nope")
    assert r.returncode == 1 and re.fullmatch(r"sipcore publish: (401|403|407) .*",
                                              r.stderr.splitlines()[-1]), r.stderr
    r = sipcore("publish", "--from", f"sip:alice@127.0.0.1:{free_port('udp')}", "--timeout",
                "1")
    assert r.returncode == 1 and r.stderr.splitlines()[-1].startswith("sipcore publish: 408 ")


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


def test_call_interrupted_while_ringing_cancels_and_says_how_it_ended(sipcore_peer_factory):
    """Ctrl-C while the callee rings: a CANCEL (the peer sees it), the 487 on stdout, exit
    130; with no response at all (a socket that never answers) nothing can be cancelled
    (RFC 3261 9.1): it says so after at most 3 s."""
    from sipcore.testing.coturn import BlackHole
    ringing = sipcore_peer_factory("--answer", "ring")
    p = start("call", f"sip:peer@127.0.0.1:{ringing.ready['udp']}")
    try:
        ringing.expect("call_state", state="EARLY", timeout=10)
        p.send_signal(2)
        out, err = p.communicate(timeout=20)
    finally:
        p.kill() if p.poll() is None else None
    assert p.returncode == 130, err
    assert out == "call cancelled: 487 Request Terminated\n", (out, err)
    assert err.splitlines()[-1] == "sipcore call: interrupted", err
    ringing.expect("call_state", state="DISCONNECTED", method="CANCEL")
    with BlackHole() as hole:
        p = start("call", f"sip:x@127.0.0.1:{hole.port}")
        try:
            deadline = time.monotonic() + 10
            while hole.received() == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            t0 = time.monotonic()
            p.send_signal(2)
            out, err = p.communicate(timeout=20)
        finally:
            p.kill() if p.poll() is None else None
    assert p.returncode == 130 and time.monotonic() - t0 < 6, err
    assert out == "call given up: no response came to cancel\n", (out, err)


def test_call_unanswered_within_timeout_is_cancelled_and_fails_as_408(sipcore_peer_factory):
    """--timeout while the callee rings: the call is cancelled as at Ctrl-C (the peer sees the
    CANCEL, stdout says how it ended) and fails as the help says, with 408, exit 1."""
    ringing = sipcore_peer_factory("--answer", "ring")
    r = sipcore("call", f"sip:peer@127.0.0.1:{ringing.ready['udp']}", "--timeout", "1",
                timeout=30)
    assert r.returncode == 1, r.stderr
    assert r.stdout == "call cancelled: 487 Request Terminated\n", (r.stdout, r.stderr)
    assert r.stderr.splitlines()[-1] == \
        "sipcore call: 408 Request Timeout (no answer within 1 s)", r.stderr
    ringing.expect("call_state", state="DISCONNECTED", method="CANCEL")


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
        while not ("\nMESSAGE from sip:dave@127.0.0.1" in seen and "SIP/2.0 200 OK" in seen) \
                and time.monotonic() < deadline:       # (the 200 is sent after the receiver)
            seen += p.stdout.readline()
    finally:
        p.send_signal(2)
        rest, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    assert re.search(rf"received 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:{port} \(TCP\)\n"
                     rf"MESSAGE sip:cli@127\.0\.0\.1:{port}", seen), seen
    assert ("MESSAGE from sip:dave@127.0.0.1 (text/plain, 12 bytes; answered 200): anyone there"
            in seen)
    assert "SIP/2.0 200 OK" in seen + rest
    assert rest.endswith("1 request(s) handled\n"), rest      # Ctrl-C: the summary too


# -- listen --

def _listening(*args: str) -> tuple[subprocess.Popen, int]:
    """``sipcore listen ARGS`` started, and the port its first line says it listens on."""
    p = start("listen", *args)
    first = p.stdout.readline()
    m = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+) \((UDP|TCP)\)\n", first)
    assert m, (first, p.stderr.read() if p.poll() is not None else "")
    return p, int(m.group(1))


def test_listen_answers_messages_with_the_chosen_code_until_count(engine, recorder):
    """Each MESSAGE printed (sender, Content-Type, size, body; a second line indented) and
    answered with --message-code as the sender sees it; --count 2: exit 0 after the second."""
    from sipcore import send_message
    p, port = _listening("--transport", "udp", "--message-code", "486", "--count", "2")
    try:
        me = Credentials(SIPURI("127.0.0.1", user="dave"))
        for body, ctype in (("first", "text/plain"), ('{"a": 1}\nline two', "application/json")):
            send_message(me, SIPURI("127.0.0.1", user="cli", port=port), ctype, body,
                         Route("127.0.0.1", port))
            n = recorder.wait_for("SIPEngineGotMessageResponse", timeout=10)
            assert (n.data.code, n.data.reason) == (486, "Busy Here")
        out, err = p.communicate(timeout=20)
    finally:
        p.kill() if p.poll() is None else None
    assert p.returncode == 0, err
    assert out == ("MESSAGE from sip:dave@127.0.0.1 (text/plain, 5 bytes; answered 486): first\n"
                   'MESSAGE from sip:dave@127.0.0.1 (application/json, 17 bytes; answered 486): '
                   '{"a": 1}\n    line two\n'
                   "2 request(s) handled\n"), out


def test_listen_answers_a_call_with_ice_and_audio_and_prints_the_hang_up(sipcore_peer_factory,
                                                                          tmp_path):
    """An incoming call with ICE in its offer: answered 180/200 with ICE, --play heard by the
    caller, the caller's tone recorded (--record with {id}), its BYE printed, --count 1 ends."""
    tone = str(tmp_path / "tone.wav")
    tones.write_tone(tone, 1000, seconds=1, sample_rate=8000)
    p, port = _listening("--transport", "udp", "--count", "1", "--play", tone, "--record",
                         str(tmp_path / "heard-{id}.wav"), "--codec", "PCMU")
    try:
        peer = sipcore_peer_factory("--answer", "manual")
        peer.set_media(codecs=["PCMU", "PCMA"], tone=500, use_ice=True,
                       record=str(tmp_path / "peer-{id}.wav"))
        peer.command("call", id="c1", to=f"sip:cli@127.0.0.1:{port}",
                     route=["127.0.0.1", port, "udp"])
        peer.expect("call_state", id="c1", state="EARLY", code=180)
        started = peer.expect("media_started", id="c1")      # the 200's answer negotiated
        time.sleep(1.5)
        peer.command("hangup", id="c1")
        stopped = peer.expect("media_stopped", id="c1")
        out, err = p.communicate(timeout=20)
    finally:
        p.kill() if p.poll() is None else None
    assert p.returncode == 0, err
    assert started["codec"] == "PCMU"                          # --codec: PCMU only
    assert stopped["ice_active"] and stopped["stats"]["rx_packets"] >= 40   # --play heard
    lines = out.splitlines()
    assert "call in1 INCOMING from sip:peer@127.0.0.1: INVITE received" in lines
    assert "call in1 CONFIRMED: ACK received" in lines and "call in1 EARLY" in lines
    assert any(re.fullmatch(rf"call in1 audio: PCMU at 8000 Hz, RTP port \d+, ICE, recording "
                            rf"{re.escape(str(tmp_path / 'heard-in1.wav'))}", x) for x in lines)
    local, remote = stopped["ice"][0]["chosen_local_candidates"][0], \
        stopped["ice"][0]["chosen_remote_candidates"][0]
    assert (f"call in1 ICE: nominated 127.0.0.1:{remote['port']} (host) -> "
            f"127.0.0.1:{local['port']} (host)") in lines
    assert lines[-3] == "call in1 DISCONNECTED: BYE received"
    sent, received = map(int, re.fullmatch(r"call in1 audio ended: RTP packets sent (\d+), "
                                           r"received (\d+)", lines[-2]).groups())
    assert sent >= 40 and received >= 40, lines[-2]
    assert lines[-1] == "1 request(s) handled"
    heard = tones.levels(str(tmp_path / "heard-in1.wav"), [500, 1000], start=0.3, end=1.3)
    assert heard[500] > -40 and heard[500] - heard[1000] >= 10, heard       # the caller's
    theirs = tones.levels(stopped["record"], [1000, 500], start=0.3, end=1.3)
    assert theirs[1000] > -40 and theirs[1000] - theirs[500] >= 10, theirs  # --play's
    assert peer.exceptions == []


def _call_for(peer, port: int, cid: str, seconds: float) -> dict:
    """``peer`` calls the listening ``sipcore listen`` on ``port``, stays ``seconds`` once its
    media started, hangs up; returns its media_stopped event."""
    peer.command("call", id=cid, to=f"sip:cli@127.0.0.1:{port}",
                 route=["127.0.0.1", port, "udp"])
    peer.expect("media_started", id=cid)
    time.sleep(seconds)
    peer.command("hangup", id=cid)
    return peer.expect("media_stopped", id=cid)


def test_listen_records_every_call_without_overwriting_one(sipcore_peer_factory, tmp_path):
    """--record without {id}: the first call records into the name given, the second into
    NAME-in2.wav (each file holds its own caller's tone); a --record naming another field in
    braces: exit 2 naming --record."""
    heard = tmp_path / "heard.wav"
    p, port = _listening("--transport", "udp", "--count", "2", "--record", str(heard),
                         "--codec", "PCMU")
    try:
        peer = sipcore_peer_factory("--answer", "manual")
        for cid, hz in (("c1", 500), ("c2", 1500)):
            peer.set_media(codecs=["PCMU"], tone=hz)
            _call_for(peer, port, cid, 1.3)
        out, err = p.communicate(timeout=20)
    finally:
        p.kill() if p.poll() is None else None
    assert p.returncode == 0, err
    second = tmp_path / "heard-in2.wav"
    assert f", recording {heard}" in out and f", recording {second}" in out, out
    for path, hz, other in ((heard, 500, 1500), (second, 1500, 500)):
        levels = tones.levels(str(path), [hz, other], start=0.3, end=1.0)
        assert levels[hz] > -40 and levels[hz] - levels[other] >= 10, (path, levels)
    assert peer.exceptions == []
    r = sipcore("listen", "--record", str(tmp_path / "call-{name}.wav"), "--duration", "1")
    assert r.returncode == 2, r.stderr
    assert re.fullmatch(r"sipcore listen: error: argument --record: .*only \{id\}.*",
                        r.stderr.splitlines()[-1]), r.stderr


def test_listen_asks_its_stun_server_for_an_ice_answer(sipcore_peer_factory, coturn):
    """--stun: an offer with ICE is answered once coturn's STUN answer came (the audio line
    names the server) and audio flows; with a server that never answers the answer waits
    (the server was asked) and Ctrl-C ends the call and listen with its summary line, exit
    130."""
    from sipcore.testing.coturn import BlackHole
    p, port = _listening("--transport", "udp", "--count", "1", "--stun",
                         f"127.0.0.1:{coturn.port}")
    try:
        peer = sipcore_peer_factory("--answer", "manual")
        peer.set_media(codecs=["PCMU"], tone=800, use_ice=True)
        stopped = _call_for(peer, port, "c1", 1.0)
        out, err = p.communicate(timeout=20)
    finally:
        p.kill() if p.poll() is None else None
    assert p.returncode == 0, err
    assert re.search(rf"^call in1 audio: PCMU at 8000 Hz, RTP port \d+, ICE \(STUN "
                     rf"127\.0\.0\.1:{coturn.port}\)$", out, re.M), out
    received = re.search(r"^call in1 audio ended: RTP packets sent \d+, received (\d+)$", out,
                         re.M)
    assert stopped["ice_active"] and received and int(received.group(1)) >= 25, out
    with BlackHole() as hole:
        p, port = _listening("--transport", "udp", "--stun", f"127.0.0.1:{hole.port}")
        try:
            peer.command("call", id="c2", to=f"sip:cli@127.0.0.1:{port}",
                         route=["127.0.0.1", port, "udp"])
            peer.expect("call_state", id="c2", state="EARLY", code=180)
            deadline = time.monotonic() + 5
            while hole.received() == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert hole.received() > 0                  # the STUN request went to --stun
            with pytest.raises(TimeoutError):
                peer.expect("call_state", id="c2", state="CONFIRMED", timeout=0.5)
            p.send_signal(2)
            out, err = p.communicate(timeout=20)
        finally:
            p.kill() if p.poll() is None else None
    assert p.returncode == 130, err
    # the call Ctrl-C ended: declined (the peer sees the 603), its line, then the count
    assert out.endswith("call in1 DISCONNECTED: 603 Decline\ncall in1 audio ended: RTP packets "
                        "sent 0, received 0\n1 request(s) handled\n"), out
    peer.expect("call_state", id="c2", state="DISCONNECTED", code=603)
    assert err.splitlines()[-1] == "sipcore listen: interrupted", err


def test_listen_refuses_calls_with_busy_or_a_code_and_rings(sipcore_peer):
    """--answer busy: the caller gets 486; --answer 603: 603; --answer ring: 180 and no more
    (the caller's CANCEL ends it); each call counts once ended."""
    for mode, expect in (("busy", "486 Busy Here"), ("603", "603 Decline")):
        p, port = _listening("--transport", "udp", "--answer", mode, "--count", "1")
        r = sipcore("call", f"sip:cli@127.0.0.1:{port}", "--timeout", "10")
        out, err = p.communicate(timeout=20)
        assert r.returncode == 1 and r.stderr.splitlines()[-1] == f"sipcore call: {expect}"
        assert p.returncode == 0, err
        assert f"call in1 DISCONNECTED: {expect}\n1 request(s) handled\n" in out, out
    p, port = _listening("--transport", "tcp", "--answer", "ring", "--count", "1")
    try:
        sipcore_peer.command("call", id="r1", to=f"sip:cli@127.0.0.1:{port}",
                             route=["127.0.0.1", port, "tcp"])
        sipcore_peer.expect("call_state", id="r1", state="EARLY", code=180)
        with pytest.raises(TimeoutError):                     # ringing, not answered
            sipcore_peer.expect("call_state", id="r1", state="CONNECTING", timeout=1)
        sipcore_peer.command("hangup", id="r1")
        sipcore_peer.expect("call_state", id="r1", state="DISCONNECTED")
        out, err = p.communicate(timeout=20)
    finally:
        p.kill() if p.poll() is None else None
    assert p.returncode == 0, err
    assert "call in1 EARLY\n" in out and "call in1 DISCONNECTED: CANCEL received\n" in out, out


# -- TLS --

def test_tls_message_and_call_to_a_sipcore_peer_and_server_verification(sipcore_peer_factory,
                                                                        tls_files):
    """--transport tls: verified with --tls-ca (200; the call connects over TLS); with the
    system's CAs the test CA is unknown (exit 1, nothing reaches the peer); --no-verify: 200."""
    peer = sipcore_peer_factory("--answer", "auto", "--tls-port", "0", "--tls-cert",
                                tls_files["cert"], "--tls-key", tls_files["key"])
    uri = f"sip:peer@127.0.0.1:{peer.ready['tls']}"
    r = sipcore("message", uri, "over tls", "--transport", "tls", "--tls-ca", tls_files["ca"])
    assert r.returncode == 0 and r.stdout == "200 OK\n", r.stderr
    assert peer.expect("message", body="over tls")["from_uri"].startswith("sip:sipcore@")
    r = sipcore("message", uri, "unverified", "--transport", "tls", "--timeout", "3")
    assert r.returncode == 1 and re.fullmatch(r"sipcore message: 503 .*certificate.*",
                                              r.stderr.splitlines()[-1]), r.stderr
    with pytest.raises(TimeoutError):
        peer.expect("message", body="unverified", timeout=0.5)
    r = sipcore("message", uri, "not verified", "--transport", "tls", "--no-verify")
    assert r.returncode == 0 and r.stdout == "200 OK\n", r.stderr
    r = sipcore("trace", "call", uri, "--transport", "tls", "--tls-ca", tls_files["ca"],
                "--duration", "0.5")
    assert r.returncode == 0, r.stderr
    assert re.search(rf"sent 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:{peer.ready['tls']} \(TLS\)\n"
                     rf"INVITE {re.escape(uri)}", r.stdout), r.stdout
    assert "connected to " in r.stdout and "hung up;" in r.stdout
    peer.expect("call_state", state="CONFIRMED")


@pytest.mark.kamailio(users=USERS)
def test_register_and_publish_over_tls_at_kamailio(kamailio):
    """REGISTER and PUBLISH over TLS to kamailio's TLS port (its CA given): 200 each, the
    binding's contact says transport=tls."""
    tls = ("--transport", "tls", "--tls-ca", kamailio.ca_file, "--route",
           f"127.0.0.1:{kamailio.tls_port}", "--from", at(kamailio, "alice"), "--password", "apw")
    r = sipcore("register", *tls, "--hold", "0")
    assert r.returncode == 0, r.stderr
    assert re.match(r"registered .*: 200 OK, expires in \d+ s, contact <sip:alice@127\.0\.0\.1:"
                    r"\d+;transport=tls>\nunregistered: 200 OK\n$", r.stdout), r.stdout
    r = sipcore("publish", *tls, "--duration", "0.1")
    assert r.returncode == 0 and r.stdout.splitlines()[1] == "publication published: 200 OK", \
        (r.stdout, r.stderr)


@pytest.mark.kamailio(users=USERS, require_client_cert=True)
def test_register_over_tls_with_a_client_certificate(kamailio):
    """kamailio requiring a client certificate from its CA: REGISTER with --tls-cert/--tls-key
    gets its 200s; without them the handshake is refused and the command fails (exit 1)."""
    tls = ("register", "--transport", "tls", "--tls-ca", kamailio.ca_file, "--route",
           f"127.0.0.1:{kamailio.tls_port}", "--from", at(kamailio, "alice"), "--password",
           "apw", "--hold", "0")
    r = sipcore(*tls, "--tls-cert", kamailio.cert_file, "--tls-key", kamailio.key_file)
    assert r.returncode == 0, r.stderr
    assert re.match(r"registered .*: 200 OK, .*\nunregistered: 200 OK\n$", r.stdout), r.stdout
    r = sipcore(*tls, "--timeout", "5")
    assert r.returncode == 1 and "registered" not in r.stdout, (r.stdout, r.stderr)
    assert re.fullmatch(r"sipcore register: 503 .*certificate required",     # (TLS's alert)
                        r.stderr.splitlines()[-1]), r.stderr


def test_listen_over_tls_answers_a_message_and_a_call_from_the_cli(tls_files):
    """listen --transport tls --tls-cert/--tls-key: a MESSAGE and a call from ``sipcore``
    itself over TLS (verified with the test CA), both printed and answered."""
    p = start("listen", "--transport", "tls", "--tls-cert", tls_files["cert"], "--tls-key",
              tls_files["key"], "--count", "2")
    try:
        first = p.stdout.readline()
        port = int(re.fullmatch(r"listening on 127\.0\.0\.1:(\d+) \(TLS\)\n", first).group(1))
        tls = ("--transport", "tls", "--tls-ca", tls_files["ca"])
        r = sipcore("message", f"sip:cli@127.0.0.1:{port}", "secret", *tls)
        assert r.returncode == 0 and r.stdout == "200 OK\n", r.stderr
        r = sipcore("call", f"sip:cli@127.0.0.1:{port}", "--duration", "0.5", *tls)
        assert r.returncode == 0, r.stderr
        out, err = p.communicate(timeout=20)
    finally:
        p.kill() if p.poll() is None else None
    assert p.returncode == 0, err
    assert out.startswith("MESSAGE from sip:sipcore@127.0.0.1 (text/plain, 6 bytes; answered "
                          "200): secret\n"), out
    assert "call in1 CONFIRMED: ACK received\n" in out and "call in1 DISCONNECTED: BYE" in out
    # an offer without ICE (call without --ice) is answered without it
    assert re.search(r"^call in1 audio: \S+ at \d+ Hz, RTP port \d+$", out, re.M), out
    assert out.endswith("2 request(s) handled\n")


def test_listen_for_a_duration_on_udp_and_tcp():
    r = sipcore("listen", "--duration", "0.3")
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(r"listening on 127\.0\.0\.1:\d+ \(UDP\) and 127\.0\.0\.1:\d+ \(TCP\)\n"
                        r"0 request\(s\) handled\n", r.stdout), r.stdout
    assert r.stderr == "listening for 0.3 s\u2026\n"


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
