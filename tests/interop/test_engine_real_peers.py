"""Engine behaviours of the spec against real peers: TLS server verification on and off
(kamailio's TLS port, its certificate signed by a CA this process does not trust), and the
stop at interpreter exit (a child process that never calls stop())."""
import json
import socket
import subprocess
import sys
import textwrap

from sipcore import Credentials, Route, SIPURI, send_message


def _message_over_tls(kam, recorder, body):
    send_message(Credentials(SIPURI("127.0.0.1", user="alice"), "apw"),
                 SIPURI("127.0.0.1", user="nobody"), "text/plain", body,
                 Route("127.0.0.1", kam.tls_port, "tls"))
    return recorder.wait_for("SIPEngineGotMessageResponse", timeout=15).data


def test_verify_server_false_accepts_an_unknown_ca_and_true_refuses_it(kam, tls_files,
                                                                       engine_factory, recorder):
    """Spec (tls_verify_server / set_tls_options(verify_server=...)): verify the server's
    certificate against the CA list or not.  kamailio's certificate is signed by its own CA;
    this Engine trusts another one (tls_files' CA)."""
    e = engine_factory(local_tls_port=0, tls_ca_file=tls_files["ca"], tls_verify_server=True,
                       trace_sip=True)
    refused = _message_over_tls(kam, recorder, "verified")
    assert refused.code == 503                        # RFC 3261 8.1.3.1: transport failure
    assert "certificate" in refused.reason.lower() or "verif" in refused.reason.lower()
    assert not [t for t in recorder.all("SIPEngineSIPTrace") if t.data.received]  # no answer

    e.set_tls_options(local_port=0, ca_file=tls_files["ca"], verify_server=False)
    assert e.tls_verify_server is False and e.local_tls_port
    got = _message_over_tls(kam, recorder, "unverified")
    # the TLS connection was made and kamailio answered: the MESSAGE passed its digest
    # challenge (alice/apw) and found no "nobody" registered (its config: 404 Not Found)
    assert (got.code, got.reason) == (404, "Not Found")
    answers = [t.data for t in recorder.all("SIPEngineSIPTrace") if t.data.received]
    assert any(a.data.startswith("SIP/2.0 407") for a in answers)
    assert answers[-1].data.startswith("SIP/2.0 404") and answers[-1].source_port == kam.tls_port

    # verification on again, now with kamailio's CA: it passes (so the 503 was the CA)
    e.set_tls_options(local_port=0, ca_file=kam.ca_file, verify_server=True)
    assert _message_over_tls(kam, recorder, "verified with its CA").code == 404
    assert recorder.all("SIPEngineGotException") == []


EXIT_CHILD = textwrap.dedent("""
    import json, sys
    from sipcore import (Credentials, Engine, Registration, Route, SIPURI, send_message,
                         signals)

    def out(**obj):
        sys.stdout.write(json.dumps(obj) + "\\n")
        sys.stdout.flush()

    def seen(sender, notification):
        d = notification.data
        if notification.name == "SIPEngineLog":
            return
        out(name=notification.name, state=getattr(d, "state", None),
            code=getattr(d, "code", None), reason=getattr(d, "reason", None))

    signals.any_notification.connect(seen, weak=False)
    kam_port, silent_port = int(sys.argv[1]), int(sys.argv[2])
    e = Engine()
    e.start(local_ip="127.0.0.1", log_level=0, local_tls_port=None)
    reg = Registration(Credentials(SIPURI("127.0.0.1", user="alice"), "apw"),
                       Route("127.0.0.1", kam_port), expires=30)
    done = signals.wait_for("SIPRegistrationChangedState", reg.register, timeout=10,
                            where=lambda n: n.data.state == "registered")
    send_message(Credentials(SIPURI("127.0.0.1", user="alice")),
                 SIPURI("127.0.0.1", user="silent", port=silent_port), "text/plain",
                 "never answered", Route("127.0.0.1", silent_port))
    out(name="exiting")
    # no Engine().stop(): the interpreter's exit must do it
""")


def test_engine_stops_at_interpreter_exit(kam, tmp_path):
    """Spec (stop): 'This method is automatically called when the Python interpreter
    exits.'  A child registers with kamailio, sends a MESSAGE nobody answers and exits
    without stop(): it exits 0 and, after its last line, the stop is reported in order --
    WillEnd, the MESSAGE's 408 'Engine stopped', the Registration ended on the registrar
    (unregistering, unregistered with the registrar's 200: issue #14, the binding must not
    stay behind), DidEnd -- and kamailio holds no binding for it any more."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    silent.settimeout(10)
    try:
        proc = subprocess.run([sys.executable, "-c", EXIT_CHILD, str(kam.port),
                               str(silent.getsockname()[1])],
                              capture_output=True, text=True, timeout=60)
        request = silent.recv(65536)                   # the MESSAGE did go out on the wire
    finally:
        silent.close()
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert request.startswith(b"MESSAGE sip:silent@127.0.0.1:")
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    names = [ev["name"] for ev in events]
    assert "SIPEngineGotException" not in names, proc.stdout
    assert names[:2] == ["SIPEngineWillStart", "SIPEngineDidStart"]
    after = events[names.index("exiting") + 1:]
    assert [(ev["name"], ev["state"], ev["code"], ev["reason"]) for ev in after] == [
        ("SIPEngineWillEnd", None, None, None),
        ("SIPEngineGotMessageResponse", None, 408, "Engine stopped"),
        ("SIPRegistrationChangedState", "unregistering", None, None),
        ("SIPRegistrationChangedState", "unregistered", 200, "OK"),
        ("SIPEngineDidEnd", None, None, None),
    ]
    # and before it: registered with kamailio (the registrar holds the binding)
    assert ("SIPRegistrationChangedState", "registered") in [
        (ev["name"], ev["state"]) for ev in events[:names.index("exiting")]]
    assert kam.contacts("alice") == []
