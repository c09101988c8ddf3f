"""SDP mutants (see tools/mutants.py for the format): src/sipcore/sdp/__init__.py."""
F = "src/sipcore/sdp/__init__.py"
T = "tests/unit/test_sdp.py"
P = "tests/property/test_sdp_properties.py"

MUTANTS = [
    dict(name="sdp-media-connection-lost-in-parse",
         why="a media-level c= line is dropped when PJMEDIA's parse is read back",
         file=F,
         old="        mconn = _conn_from_flat(nx)\n",
         new="        mconn = _conn_from_flat(nx) and None\n",
         tests=[f"{P}::test_build_str_parse_round_trip"]),
    dict(name="sdp-media-info-off-by-one",
         why="each media section gets the i= line of the section before it (session's for the first)",
         file=F,
         old="            minfo = info[1 + i]\n",
         new="            minfo = info[i]\n",
         tests=[f"{P}::test_build_str_parse_round_trip"]),
    dict(name="sdp-port-count-one-printed",
         why="a port count of 1 is printed (m=audio 4000/1 ...), which the spec says to leave out",
         file=F,
         old='        count = f"/{self.port_count}" if self.port_count > 1 else ""',
         new='        count = f"/{self.port_count}" if self.port_count >= 1 else ""',
         tests=[f"{T}::test_str_exact"]),
    dict(name="sdp-default-direction-inactive",
         why="get_direction() without a direction attribute says inactive (spec: sendrecv)",
         file=F,
         old='        return "sendrecv"\n',
         new='        return "inactive"\n',
         tests=[f"{T}::test_get_direction"]),
]
