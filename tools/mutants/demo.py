"""``sipcore demo`` mutants (see tools/mutants.py for the format): src/sipcore/demo.py's call
with audio, and the UA's Engine.stop with media objects alive (mbench, issue #12)."""
D = "src/sipcore/demo.py"
T = "tests/unit/test_cli.py::test_demo_prints_messages_and_what_was_heard_on_the_call"

MUTANTS = [
    dict(name="demo-recording-not-pairwise",
         why="bob records the conference mix (nothing in it) instead of the call's stream: "
             "the demo prints silence where the tone was heard",
         file=D,
         old="                rec.start(source=audio)\n",
         new="                rec.start()\n",
         tests=[T]),
    dict(name="demo-dtmf-not-reported",
         why="bob does not collect the digits he receives",
         file=D,
         old="        digits.append(digit)\n",
         new="        pass\n",
         tests=[T]),
    dict(name="demo-unhold-not-applied",
         why="after the unhold re-INVITE alice's stream stays inactive: nothing heard after it",
         file=D,
         old="            audio.update_direction(direction)\n",
         new="            audio.update_direction(\"inactive\")\n",
         tests=[T]),
    dict(name="ua-stop-asks-media-cores-to-end-on-wire",
         why="Engine.stop calls _end_on_wire on every object in ua.primitives, media cores "
             "(RTPTransport's, AudioTransport's) included: an AttributeError reported as an "
             "unexpected exception",
         file="src/sipcore/_ua.py",
         old='                end = getattr(primitive, "_end_on_wire", None)\n',
         new="                end = primitive._end_on_wire\n",
         tests=[T]),
]
