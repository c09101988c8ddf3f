"""SIPURI mutants (see tools/mutants.py for the format): src/sipcore/uri.py."""
F = "src/sipcore/uri.py"
V = "tests/unit/test_values.py"
P = "tests/property/test_uri_properties.py"

MUTANTS = [
    dict(name="uri-user-at-sign-unescaped",
         why="'@' in a user part is not escaped (RFC 3261 25.1: it ends the userinfo)",
         file=F,
         old='_USER_SAFE = set(_UNRESERVED + "&=+$,;?/")',
         new='_USER_SAFE = set(_UNRESERVED + "&=+$,;?/@")',
         tests=[f"{V}::test_sipuri_escapes_what_its_part_does_not_allow"]),
    dict(name="uri-flag-parameter-gets-a-value",
         why="a parameter without value (lr) read from PJSIP gets the flat form's mark as value",
         file=F,
         old='        params[f[i]] = None if f[i + 1] == "\\1" else f[i + 1]',
         new='        params[f[i]] = f[i + 1]',
         tests=[f"{P}::test_build_str_parse_round_trip"]),
    dict(name="uri-display-quote-unescaped",
         why="a '\"' in a display name is not escaped in the quoted-string (RFC 3261 25.1)",
         file=F,
         old="""        disp = self.display.replace("\\\\", "\\\\\\\\").replace('"', '\\\\"')""",
         new="""        disp = self.display.replace("\\\\", "\\\\\\\\")""",
         tests=[f"{V}::test_sipuri_str_forms"]),
    dict(name="uri-host-compared-case-sensitively",
         why="SIPURIs differing only in host case compare unequal (RFC 3261 19.1.4)",
         file=F,
         old="        return (self.host.lower(), self.user,",
         new="        return (self.host, self.user,",
         tests=[f"{V}::test_sipuri_equality_and_copy"]),
    dict(name="uri-port-zero-kept",
         why="port 0 is kept instead of meaning 'not set' (spec: None or 0 if not set)",
         file=F,
         old='                value = value or None\n        elif name == "secure":',
         new='                pass\n        elif name == "secure":',
         tests=[f"{V}::test_sipuri_equality_and_copy",
                "tests/property/test_api_fuzz.py::test_value_classes"]),
]
