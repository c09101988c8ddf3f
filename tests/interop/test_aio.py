"""sipcore.aio under asyncio.run, with real peers: kamailio (registrar) and a second sipcore
process (calls, MESSAGE).  Each awaited operation returns the notification that ended it,
failures raise OperationFailed at once (not after the timeout), notifications reach the loop
while the poll thread never waits for it, and a cancelled or timed-out wait leaves no
receiver behind."""
from __future__ import annotations

import asyncio
import threading
import time

import pytest

from test_invitation_helpers import make_sdp
from sipcore import Credentials, Engine, Invitation, Registration, Route, SIPURI, aio, signals
from sipcore.peer import PeerProcess

IP = "127.0.0.1"


def receivers() -> int:
    return len(signals.any_notification.receivers)


@pytest.fixture
def peer(engine_factory):
    engine_factory()
    with PeerProcess("--ip", IP, "--user", "bob", "--answer", "auto") as p:
        yield p


def bob(peer) -> tuple[SIPURI, Route]:
    port = peer.ready["udp"]
    return SIPURI(IP, user="bob", port=port), Route(IP, port)


def test_register_call_message_hang_up_unregister(kam, peer):
    alice = Credentials(SIPURI(IP, user="alice"), "apw")
    to, route = bob(peer)
    before = receivers()

    async def main():
        reg = Registration(alice, Route(IP, kam.port), expires=60)
        n = await aio.register(reg, timeout=10)
        assert (n.sender, n.data.state, n.data.code, n.data.expires) == (reg, "registered", 200, 60)
        assert kam.contacts("alice")                    # the registrar has the binding
        assert await aio.register(reg, timeout=10) is not None   # (a re-register: its 200)

        inv = Invitation(alice, to, route)
        inv.set_offered_local_sdp(make_sdp())
        n = await aio.call(inv, timeout=10)
        assert n.data.state == inv.state == "CONFIRMED"
        assert await aio.state(inv, "CONFIRMED") is None        # holds already

        assert await aio.send_message(alice, to, "text/plain", "hi bob", route,
                                      timeout=5) == (200, "OK")
        got = await aio.wait_for(
            "SIPEngineGotMessage", timeout=10,
            action=lambda: peer.send(f"sip:alice@{IP}:{Engine().local_udp_port}", "hi alice",
                                     (IP, Engine().local_udp_port, "udp")))
        assert got.data.body == b"hi alice"

        n = await aio.hang_up(inv, timeout=10)
        assert n.data.state == "DISCONNECTED"
        assert await aio.hang_up(inv) is None                   # ended already
        n = await aio.unregister(reg, timeout=10)
        assert n.data.state == "unregistered"
        return threading.current_thread()

    assert asyncio.run(main()) is threading.main_thread()
    assert peer.expect("message", timeout=5)["body"] == "hi bob"
    assert receivers() == before                                # every wait cleaned up
    kam.wait_registered("alice", registered=False)


def test_failures_raise_at_once_with_the_code(kam, peer, engine_factory):
    async def main():
        reg = Registration(Credentials(SIPURI(IP, user="alice"), "wrong"), Route(IP, kam.port))
        t0 = time.monotonic()
        with pytest.raises(aio.OperationFailed) as err:
            await aio.register(reg, timeout=15)
        assert time.monotonic() - t0 < 10
        assert err.value.notification.data.code == 401 and "401" in str(err.value)

        # a call that the callee turns down: DISCONNECTED with the 486 instead of CONFIRMED
        with PeerProcess("--ip", IP, "--user", "carol", "--answer", "busy") as busy:
            port = busy.ready["udp"]
            inv = Invitation(Credentials(SIPURI(IP, user="alice")),
                             SIPURI(IP, user="carol", port=port), Route(IP, port))
            inv.set_offered_local_sdp(make_sdp())
            t0 = time.monotonic()
            with pytest.raises(aio.OperationFailed) as err:
                await aio.call(inv, timeout=15)
            assert time.monotonic() - t0 < 10
            assert err.value.notification.data.code == 486
            assert inv.state == "DISCONNECTED"

        # a MESSAGE nobody answers: the request's own timeout gives the 408 (no exception)
        import socket
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as hole:
            hole.bind((IP, 0))
            port = hole.getsockname()[1]
            code, _ = await aio.send_message(Credentials(SIPURI(IP, user="alice")),
                                             SIPURI(IP, user="x", port=port), "text/plain",
                                             "anyone?", Route(IP, port), timeout=0.5)
        assert code == 408

    asyncio.run(main())


def test_cancel_and_timeout_disconnect_the_receiver(engine):
    before = receivers()

    async def main():
        task = asyncio.ensure_future(aio.wait_for("SIPEngineGotMessage"))
        await asyncio.sleep(0.05)
        assert receivers() == before + 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert receivers() == before
        with pytest.raises(asyncio.TimeoutError):
            await aio.wait_for("SIPEngineGotMessage", timeout=0.1)
        assert receivers() == before
        async with aio.notifications("SIPEngineGotMessage") as stream:
            assert receivers() == before + 1
            with pytest.raises(asyncio.TimeoutError):
                await stream.next(timeout=0.1)
        assert receivers() == before
        with pytest.raises(ValueError, match="name"):
            await aio.wait_for("SIPEngineGotMesage")
        with pytest.raises(TypeError, match="obj"):
            await aio.state(object(), "CONFIRMED")

    asyncio.run(main())


def test_stream_in_order_and_poll_thread_never_waits_for_the_loop(peer):
    """While the loop's thread is busy (blocked for 1.5 s), the poll thread goes on delivering
    (a plain receiver sees the three MESSAGEs meanwhile); the loop then gets them all, in
    order."""
    me = Engine().local_udp_port
    on_poll: list[float] = []

    def plain(sender, **d):
        on_poll.append(time.monotonic())

    signals.SIPEngineGotMessage.connect(plain, weak=False)
    try:
        async def main():
            async with aio.notifications("SIPEngineGotMessage") as stream:
                for k in range(3):      # (three URIs: one MESSAGE pending per URI)
                    peer.send(f"sip:alice{k}@{IP}:{me}", f"m{k}", (IP, me, "udp"))
                blocked_until = time.monotonic() + 1.5
                time.sleep(1.5)                 # the loop's thread is busy
                bodies = [(await stream.next(timeout=10)).data.body for _ in range(3)]
            return blocked_until, bodies

        blocked_until, bodies = asyncio.run(main())
    finally:
        signals.SIPEngineGotMessage.disconnect(plain)
    assert bodies == [b"m0", b"m1", b"m2"]
    assert len(on_poll) == 3 and all(t < blocked_until for t in on_poll)


def test_presence_publish_subscribe_stream_of_notifies(kam, engine):
    """aio.publish/subscribe against kamailio's presence server; each NOTIFY body reaches the
    loop through a stream; unpublish/unsubscribe end in their idle states."""
    from sipcore import Publication, Subscription
    from test_presence import PIDF, creds
    route = Route(IP, kam.port)

    async def main():
        pub = Publication(creds("alice", "apw"), "presence", route, expires=60)
        n = await aio.publish(pub, "application/pidf+xml", PIDF.format(basic="open", note="one"),
                              timeout=15)
        assert (n.data.state, n.data.code) == ("published", 200)
        sub = Subscription(creds("bob", "bpw"), SIPURI(IP, user="alice"), "presence", route)
        async with aio.notifications("SIPSubscriptionGotNotify", sender=sub) as notifies:
            n = await aio.subscribe(sub, timeout=15)
            assert n.data.state in ("ACCEPTED", "PENDING", "ACTIVE")
            while b"one" not in (await notifies.next(timeout=15)).data.body:
                pass
            await aio.publish(pub, "application/pidf+xml",
                              PIDF.format(basic="open", note="two"), timeout=15)
            while b"two" not in (await notifies.next(timeout=15)).data.body:
                pass
        assert (await aio.unpublish(pub, timeout=15)).data.state == "unpublished"
        assert (await aio.unsubscribe(sub, timeout=15)).data.state == "TERMINATED"
        assert await aio.unsubscribe(sub) is None                   # ended already

    before = receivers()
    asyncio.run(main())
    assert receivers() == before
