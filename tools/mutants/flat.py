"""Flat-format mutants (see tools/mutants.py for the format): src/sipcore/_flat.py and the
codecs that use it."""
F = "src/sipcore/_flat.py"
M = "src/sipcore/primitives/message.py"
P = "tests/property/test_flat_formats.py"

MUTANTS = [
    dict(name="flat-unescape-in-the-wrong-order",
         why="escapes undone 0x01 first: a field holding 0x01 then '0' comes back as a NUL",
         file=F,
         old='    return field.replace("\\x010", "\\0").replace("\\x011", "\\x01")',
         new='    return field.replace("\\x011", "\\x01").replace("\\x010", "\\0")',
         tests=[f"{P}::test_headers_list_python_round_trip"]),
    dict(name="flat-0x01-not-escaped-without-a-nul",
         why="a field with 0x01 but no NUL is written as it is, and read back changed",
         file=F,
         old='    if "\\0" not in field and "\\x01" not in field:\n        return field\n',
         new='    if "\\0" not in field:\n        return field\n',
         tests=[f"{P}::test_uri_flat_form_python_round_trip"]),
    dict(name="flat-buffer-grown-short",
         why="a form that did not fit is written again into a buffer smaller than C asked for",
         file=F,
         old="            n = write(*args, self.grow(n), n)\n",
         new="            n = write(*args, self.grow(n - 1), n - 1)\n",
         tests=[f"{P}::test_uri_flat_form_written_by_c"]),
    dict(name="flat-repeated-header-keeps-the-last",
         why="a header given twice is reported with its last value instead of both joined "
             "(RFC 3261 7.3.1)",
         file=F,
         old='            out[name] = f"{out[name]}, {value}" if name in out else value\n',
         new="            out[name] = value\n",
         tests=["tests/unit/test_values.py::test_headers_list_joins_a_repeated_header"]),
    dict(name="message-flat-missing-from-shifts-the-body",
         why="an incoming MESSAGE whose From URI is not sip:/sips: (length -1) has its content "
             "type and body read one byte early",
         file=M,
         old="    end = pos + max(from_len, 0)\n",
         new="    end = pos + from_len\n",
         tests=[f"{P}::test_message_flat_buffer_python_round_trip"]),
]
