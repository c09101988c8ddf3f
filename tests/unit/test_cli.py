"""The ``sipcore`` command: --help and --version answer on stdout and exit 0; a wrong command
exits 2 naming it; every option of its subcommands is described."""
import re
import subprocess
import sys

import sipcore


def _run(*args):
    return subprocess.run([sys.executable, "-m", "sipcore", *args], capture_output=True,
                          text=True, timeout=60)


def test_version():
    r = _run("--version")
    assert r.returncode == 0
    assert r.stdout.strip() == f"sipcore {sipcore.__version__} on pjproject {sipcore.PJSIP_VERSION}"


def test_help_lists_the_commands():
    r = _run("--help")
    assert r.returncode == 0 and r.stdout.startswith("usage: sipcore")
    assert "demo:" in r.stdout and "peer:" in r.stdout


def test_a_wrong_command_is_named():
    r = _run("bogus")
    assert r.returncode == 2 and "bogus" in r.stderr


def test_every_option_of_the_subcommands_is_described():
    for cmd in ("demo", "peer"):
        r = _run(cmd, "--help")
        assert r.returncode == 0, r.stderr
        options = r.stdout.split("options:", 1)[1]
        # each option line "  --name ..." is followed by its description on the same line
        # or the next one; an option without help shows nothing after its metavar
        entries = re.split(r"\n  (?=-)", "\n" + options.strip("\n"))
        undescribed = [e.split()[0] for e in entries if e.strip() and len(
            re.sub(r"^\s*(-[-\w]+(\s+[A-Z_:{},a-z]+)?,?\s*)+", "", e).strip()) == 0]
        assert undescribed == [], f"{cmd}: {undescribed}"


def test_demo_prints_messages_and_what_was_heard_on_the_call(tmp_path):
    """``sipcore demo``: the MESSAGE echo, then the call with audio -- bob's recording holds
    alice's 440 Hz tone well above a reference frequency while talking, nothing on hold
    (a=inactive), the tone again after unhold; the DTMF digits arrive as sent."""
    r = subprocess.run([sys.executable, "-m", "sipcore", "demo", "--count", "1"],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "unexpected exception" not in r.stderr, r.stderr[-2000:]
    out = r.stdout
    assert "bob -> alice 'echo: hello #1 over UDP'" in out and "over TCP" in out
    assert re.search(r"call up: codec \S+ at \d+ Hz", out)
    sent = re.search(r"DTMF sent by alice: (\S+); received by bob: (\S*)", out)
    assert sent and sent.group(1) == sent.group(2) == "123#", out
    heard = dict(re.findall(r"bob heard, ([a-z ]+): 440 Hz at (-?[\d.]+) dBFS \(1000 Hz: "
                            r"(?:-?[\d.]+) dBFS\)", out))
    other = dict(re.findall(r"bob heard, ([a-z ]+): 440 Hz at -?[\d.]+ dBFS \(1000 Hz: "
                            r"(-?[\d.]+) dBFS\)", out))
    assert set(heard) == {"talking", "on hold", "after unhold"}, out
    for phase in ("talking", "after unhold"):
        # a 0.5 full-scale sine is about -6 dBFS; through the codec at least -20, and at
        # least 10 dB above 1000 Hz
        assert float(heard[phase]) > -20, out
        assert float(heard[phase]) - float(other[phase]) >= 10, out
    assert float(heard["on hold"]) < -60, out
    assert "re-INVITE: hold (a=inactive)" in out and "re-INVITE: unhold (a=sendrecv)" in out


def test_every_argument_of_the_network_commands_is_described():
    from sipcore.cli import COMMANDS, build_parser
    ap = build_parser()
    subparsers = next(a for a in ap._actions if a.choices and "message" in a.choices).choices
    assert sorted(subparsers) == sorted(COMMANDS)
    for name, parser in subparsers.items():
        for action in parser._actions:
            assert action.help and len(action.help) > 10, (name, action.option_strings or
                                                           action.dest)
        r = _run(name, "--help")
        assert r.returncode == 0 and r.stdout.startswith(f"usage: sipcore {name}"), r.stderr


def test_help_lists_the_network_commands():
    r = _run("--help")
    for cmd in ("message:", "call:", "register:", "subscribe:", "trace:", "listen:",
                "publish:"):
        assert cmd in r.stdout
