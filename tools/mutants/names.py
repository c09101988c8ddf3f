"""Names (RFC 3263) mutants (see tools/mutants.py for the format): Route with host names, the
nameservers option, the MESSAGE's transport choice.  The C side (glue_dns.c) is covered by the
same tests but cannot be mutated here (the scratch copy is not rebuilt)."""
T = "tests/interop/test_names.py"

MUTANTS = [
    dict(name="names-route-name-gets-default-port",
         why="a Route to a host name gets port 5060 when none is given, so no SRV lookup "
             "happens (RFC 3263 4.2: no port means SRV)",
         file="src/sipcore/route.py",
         old="                if self.is_name:\n",
         new="                if False:\n",
         tests=[f"{T}::test_route_accepts_host_names"]),
    dict(name="names-route-name-forces-udp",
         why="a Route to a host name without port and transport is written with "
             "transport=udp, so its NAPTR records can never choose TCP or TLS (RFC 3263 4.1)",
         file="src/sipcore/route.py",
         old="        if self.port is None and self.transport is None:\n",
         new="        if False:\n",
         tests=[f"{T}::test_route_accepts_host_names",
                f"{T}::test_naptr_order_chooses_the_transport"]),
    dict(name="names-message-keeps-udp-selector",
         why="a MESSAGE to a name without transport keeps the UDP transport selector, so a "
             "NAPTR choice of TCP fails (PJSIP_ETPNOTSUITABLE)",
         file="src/sipcore/primitives/message.py",
         old='any_transport = int(b";transport=" not in route_hdr)',
         new="any_transport = 0",
         tests=[f"{T}::test_naptr_order_chooses_the_transport"]),
    dict(name="names-nameserver-port-ignored",
         why='"ip:port" in nameservers loses its port (every query goes to port 53)',
         file="src/sipcore/_options.py",
         old="        raise ValueError(f\"nameservers: the port of {item!r} must be 1..65535\")\n"
             "    return host, port",
         new="        raise ValueError(f\"nameservers: the port of {item!r} must be 1..65535\")\n"
             "    return host, 53",
         tests=[f"{T}::test_nameservers_default_is_resolv_conf"]),
    dict(name="names-tls-listener-not-given-to-resolver",
         why="the resolver does not know the TLS listener, so TLS chosen by NAPTR records "
             "fails (PJSIP makes TLS connections for sip: URIs only through a named listener)",
         file="src/sipcore/_ua.py",
         old='self.transports.get("tls", ffi.NULL))',
         new="ffi.NULL)",
         tests=[f"{T}::test_tls_certificate_checked_against_the_name"]),
    dict(name="names-refreshing-no-failover-on-408",
         why="a Registration/Publication answered 408 by one server of a name gives up "
             "instead of trying the next (RFC 3263 4.3: a timeout moves on)",
         file="src/sipcore/primitives/_refreshing.py",
         old="not (result.code in (408, 503) or result.code <= 0)",
         new="not (result.code in (503,) or result.code <= 0)",
         tests=[f"{T}::test_registration_and_publication_fail_over_on_503_and_408"]),
    dict(name="names-refreshing-failover-skipped",
         why="a Registration/Publication answered 503 by one server of a name notifies the "
             "failure instead of trying the next server",
         file="src/sipcore/primitives/_refreshing.py",
         old="            if not self._failover(result):\n",
         new="            if True:\n",
         tests=[f"{T}::test_registration_and_publication_fail_over_on_503_and_408"]),
]

# issue #14 (names, continued): rows of name, why, file, old, new, tests
ISSUE14 = [
    ("names-ipv6-engine-asks-for-a-records",
     "the glue is not told the Engine's transports are IPv6: after NAPTR/SRV it asks for A "
     "records only and an Engine on ::1 reaches no server",
     "src/sipcore/_ua.py",
     '                                  + (8 if ":" in self.options["local_ip"] else 0),\n',
     '                                  + 0,\n',
     [f"{T}::test_aaaa_records_for_an_ipv6_engine"]),
]
MUTANTS += [dict(name=n, why=w, file=f, old=o, new=x, tests=t) for n, w, f, o, x, t in ISSUE14]
