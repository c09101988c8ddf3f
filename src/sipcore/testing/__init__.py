"""sipcore for tests: real SIP peers on free loopback ports and a pytest plugin.

- :mod:`sipcore.testing.plugin` -- the pytest plugin (loaded through the ``pytest11`` entry
  point once sipcore is installed): fixtures for a started Engine, kamailio, baresip, coturn, a
  second sipcore endpoint, a notification recorder, and the SIP ladder of a failed test in
  its report.  docs/testing.md describes them.
- :mod:`sipcore.testing.kamailio` (``Kamailio``: registrar, proxy, presence server),
  :mod:`sipcore.testing.baresip` (``Baresip``: a headless UA that answers and dials),
  :mod:`sipcore.testing.coturn` (``Coturn``: a STUN server; ``BlackHole``),
  :mod:`sipcore.testing.ports` (free loopback ports), :mod:`sipcore.testing.procs` (process
  groups that are always stopped).  These peer modules use only the standard library.
- :mod:`sipcore.testing.netns` -- network faults in a namespace of the test's own
  (``NetNS``: loss rules, TCP resets; ``DelayRelay``), for root (docs/testing.md).
- :mod:`sipcore.testing.helpers` -- sipcore objects for a test: ``Account`` (a user of a
  test's kamailio: credentials, route, register, message, call), ``audio_sdp()``,
  ``auto_answer()``.

Nothing here is imported by ``import sipcore``.
"""
