"""The sipcore pytest plugin (entry point ``pytest11: sipcore``; docs/testing.md).

Fixtures (each peer on free loopback ports, in the test's own temporary folder, stopped at the
end of its scope: nothing fixed, nothing shared, so ``pytest -n auto`` works):

``engine``           the Engine started on 127.0.0.1 (ports chosen by the system, no TLS,
                     quiet log, ``trace_sip`` on for the ladder); stopped after the test
``engine_factory``   ``engine_factory(**options)`` starts it with those options instead
``session_engine``   one Engine start for the session (restarted if a per-test engine
                     stopped it meanwhile)
``recorder``         a started :class:`~sipcore.NotificationRecorder`
``kamailio``         a registrar/proxy/presence server; users from the marker
                     ``@pytest.mark.kamailio(users={"alice": "apw"}, **Kamailio options)``
                     or ``kamailio.account("alice")`` (adds the user if new)
``kamailio_factory`` ``kamailio_factory(users=..., **options)``: more of them
``baresip``          a baresip UA registered at ``kamailio`` as ``bob`` that answers calls
``baresip_factory``  ``baresip_factory(user, password=None, registrar=None, **options)``
``coturn``           a STUN server (``host``, ``port``, ``alt_host``, ``alt_port``)
``sipcore_peer``     a second sipcore endpoint in a child process (``--answer auto``)
``sipcore_peer_factory`` ``sipcore_peer_factory(*peer_options)``

On a failed test that used one of them, its report gets a "SIP ladder" section: the call flow
of every SIP message the Engine sent or received during the test.  ``sipcore_ladder = false``
(ini) or ``--no-sip-ladder`` turns that (and the engine fixtures' ``trace_sip``) off.

Nothing of sipcore is imported until a test uses a fixture of this plugin.
"""
from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any, Callable

import pytest

FIXTURES = frozenset({"engine", "engine_factory", "session_engine", "recorder", "kamailio",
                      "kamailio_factory", "baresip", "baresip_factory", "coturn",
                      "sipcore_peer", "sipcore_peer_factory"})
#: the Engine options of the engine fixtures (a test's own options are added to them)
ENGINE_DEFAULTS: dict[str, Any] = {"local_ip": "127.0.0.1", "log_level": 0,
                                   "local_tls_port": None}

_LADDER = pytest.StashKey[Any]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("sipcore_ladder", type="bool", default=True,
                  help="sipcore: trace SIP in the engine fixtures and show the SIP ladder "
                       "of a failed test in its report (default true)")
    parser.addoption("--no-sip-ladder", action="store_true", default=False,
                     help="sipcore: no SIP trace in the engine fixtures, no ladder in reports")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "kamailio(users=None, **options): the users (name -> password) and the "
                   "Kamailio options of the kamailio fixture")


def _ladder_on(config: pytest.Config) -> bool:
    return bool(config.getini("sipcore_ladder")) and not config.getoption("no_sip_ladder")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    if _ladder_on(item.config) and FIXTURES.intersection(getattr(item, "fixturenames", ())):
        from ..ladder import Ladder
        ladder = Ladder()
        ladder.__enter__()
        item.stash[_LADDER] = ladder
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    yield
    ladder = item.stash.get(_LADDER, None)
    if ladder is not None:
        ladder.__exit__(None, None, None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                               call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    ladder = item.stash.get(_LADDER, None)
    if ladder is not None and report.failed:
        report.sections.append(("SIP ladder", _render(ladder)))


def _name_column(request: pytest.FixtureRequest, host: str, port: Any, name: str) -> None:
    """Name the column of ``host:port`` in the ladder of the test being set up."""
    ladder = request.node.stash.get(_LADDER, None)
    if ladder is not None and port:
        ladder.names[f"[{host}]:{port}" if ":" in host else f"{host}:{port}"] = name


def _render(ladder: Any) -> str:
    if not ladder.messages:
        return "(no SIP messages traced: was the Engine started with trace_sip=True?)"
    text: str = ladder.render()
    return text


# ---- the Engine --------------------------------------------------------------------------

def _engine_options(config: pytest.Config, options: dict[str, Any]) -> dict[str, Any]:
    opts = dict(ENGINE_DEFAULTS, trace_sip=_ladder_on(config))
    opts.update(options)
    return opts


@pytest.fixture
def engine_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """``engine_factory(**options)``: the Engine started with the plugin's defaults plus
    ``options`` (restarted if it runs); stopped after the test."""
    from .. import Engine
    e = Engine()

    def start(**options: Any) -> Any:
        if e.is_running:
            e.stop()
        e.start(**_engine_options(request.config, options))
        return e

    yield start
    e.stop()


@pytest.fixture
def engine(engine_factory: Callable[..., Any]) -> Any:
    """The Engine, started on 127.0.0.1 for this test (see ``engine_factory``)."""
    return engine_factory()


@pytest.fixture(scope="session")
def _sipcore_session_engine(request: pytest.FixtureRequest) -> Iterator[Any]:
    from .. import Engine
    e = Engine()
    yield e
    if e.is_running:
        e.stop()


@pytest.fixture
def session_engine(_sipcore_session_engine: Any, request: pytest.FixtureRequest) -> Any:
    """The Engine, started once for the session (again if a per-test engine stopped it)."""
    e = _sipcore_session_engine
    if not e.is_running:
        e.start(**_engine_options(request.config, {}))
    return e


@pytest.fixture
def recorder() -> Iterator[Any]:
    """A started NotificationRecorder (every notification), stopped after the test."""
    from ..signals import NotificationRecorder
    with NotificationRecorder() as rec:
        yield rec


# ---- the peers ---------------------------------------------------------------------------

@pytest.fixture
def kamailio_factory(tmp_path_factory: pytest.TempPathFactory,
                     request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """``kamailio_factory(users={"alice": "apw"}, **options)``: a started Kamailio (options:
    sipcore.testing.kamailio.Kamailio's; ``children`` defaults to 1) with those users; all
    stopped after the test."""
    from .kamailio import Kamailio
    started: list[Any] = []

    def start(users: dict[str, str] | None = None, **options: Any) -> Any:
        options.setdefault("workdir", tmp_path_factory.mktemp("kamailio"))
        # one worker per transport: kamailio 5.6's db_sqlite sets no busy timeout, and two
        # workers writing the presence tables at once answer a PUBLISH 500 (about 1 in 10)
        options.setdefault("children", 1)
        k = Kamailio(**options)
        started.append(k)
        k.start()
        for user, password in (users or {}).items():
            k.add_user(user, password)
        _name_column(request, k.host, k.port, "kamailio" if len(started) == 1
                     else f"kamailio{len(started)}")
        return k

    try:
        yield start
    finally:
        for k in reversed(started):
            k.close()


@pytest.fixture
def kamailio(kamailio_factory: Callable[..., Any], request: pytest.FixtureRequest) -> Any:
    """A started Kamailio with the users (and options) of ``@pytest.mark.kamailio(...)``."""
    marker = request.node.get_closest_marker("kamailio")
    options = dict(marker.kwargs) if marker is not None else {}
    return kamailio_factory(**options)


@pytest.fixture
def baresip_factory(tmp_path_factory: pytest.TempPathFactory,
                    request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """``baresip_factory(user, password=None, registrar=None, **options)``: a started
    Baresip (options: sipcore.testing.baresip.Baresip's; ``auto_answer`` defaults to True).
    With a Kamailio as ``registrar`` the user is added to it (password: as
    ``Kamailio.account``) and the UA is registered before it is returned."""
    from .baresip import Baresip
    started: list[Any] = []

    def start(user: str = "bob", password: str | None = None, registrar: Any = None,
              **options: Any) -> Any:
        options.setdefault("auto_answer", True)
        options.setdefault("workdir", tmp_path_factory.mktemp("baresip"))
        if registrar is not None and hasattr(registrar, "account"):
            password = registrar.account(user, password).password
        b = Baresip(user, password, registrar=registrar, **options)
        started.append(b)
        _name_column(request, b.host, b.sip_port, f"baresip {user}")
        b.start()
        if registrar is not None:
            b.wait_registered(timeout=15)
        return b

    try:
        yield start
    finally:
        for b in reversed(started):
            b.close()


@pytest.fixture
def baresip(baresip_factory: Callable[..., Any], kamailio: Any) -> Any:
    """A baresip UA registered at ``kamailio`` as ``bob`` that answers every call."""
    return baresip_factory("bob", registrar=kamailio)


@pytest.fixture
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A started coturn STUN server on 127.0.0.1 and 127.0.0.2 (``host``, ``port``,
    ``alt_host``, ``alt_port``)."""
    from .coturn import Coturn
    with Coturn(workdir=tmp_path_factory.mktemp("coturn")) as stun:
        yield stun


@pytest.fixture
def sipcore_peer_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """``sipcore_peer_factory(*options)``: a started ``python -m sipcore peer`` child
    (sipcore.peer.PeerProcess; options as ``python -m sipcore peer --help``)."""
    from ..peer import PeerProcess
    started: list[Any] = []

    def start(*options: str) -> Any:
        p = PeerProcess(*options)
        started.append(p)
        p.start()
        ip = options[options.index("--ip") + 1] if "--ip" in options else "127.0.0.1"
        for transport in ("udp", "tcp"):
            _name_column(request, ip, p.ready.get(transport), "sipcore peer")
        return p

    try:
        yield start
    finally:
        for p in reversed(started):
            p.stop()


@pytest.fixture
def sipcore_peer(sipcore_peer_factory: Callable[..., Any]) -> Any:
    """A second sipcore endpoint on 127.0.0.1 that answers calls (``--answer auto``); its
    ports are in ``sipcore_peer.ready`` (``udp``, ``tcp``)."""
    return sipcore_peer_factory("--answer", "auto")
