"""Every row of every state machine (sipcore.primitives._states), without an Engine: each row
is reachable from the initial state and applied as written, a missing row raises a
TransitionError naming the primitive, the state and the event, every event is fired by its
primitive's code (and nothing else is), and the primitives move only through the rows."""
import re
from collections import deque
from pathlib import Path

import pytest

from sipcore.primitives import _states
from sipcore.primitives._states import (INVITATION, OTHER, PUBLICATION, REGISTRATION, STAY,
                                        SUBSCRIPTION, TransitionError)
from sipcore.primitives.invitation import Invitation
from sipcore.primitives.publication import Publication
from sipcore.primitives.registration import Registration
from sipcore.primitives.subscription import Subscription

SRC = Path(_states.__file__).parent
TABLES = {"Registration": REGISTRATION, "Publication": PUBLICATION,
          "Subscription": SUBSCRIPTION, "Invitation": INVITATION}
#: where each primitive's events are fired (Registration and Publication share the machine)
SOURCES = {"Registration": ["registration.py", "_refreshing.py"],
           "Publication": ["publication.py", "_refreshing.py"],
           "Subscription": ["subscription.py"], "Invitation": ["invitation.py"]}
#: a concrete state standing for OTHER (a server's own Subscription-State text)
TEXT = "probation"


def concrete(state):
    return TEXT if state == OTHER else state


def states_of(table):
    return {s for s, _ in table.rows} | {t for t in table.rows.values() if t != STAY} | {table.initial}


def events_of(table):
    return {e for _, e in table.rows}


@pytest.mark.parametrize("name", TABLES)
def test_every_row_is_reachable_from_the_initial_state(name):
    table = TABLES[name]
    seen, todo = {table.initial}, deque([table.initial])
    while todo:
        state = todo.popleft()
        for (s, _), t in table.rows.items():
            if s == state and t != STAY and t not in seen:
                seen.add(t)
                todo.append(t)
    unreachable = sorted({s for s, _ in table.rows} - seen)
    assert not unreachable, f"{name}: rows from unreachable states {unreachable}"


@pytest.mark.parametrize("name", TABLES)
def test_every_row_is_applied_as_written(name):
    table = TABLES[name]
    assert table.primitive == name
    for (state, event), target in table.rows.items():
        assert table.allows(concrete(state), event)
        assert table.next(concrete(state), event) == target, (state, event)


@pytest.mark.parametrize("name", TABLES)
def test_a_missing_row_raises_naming_primitive_state_and_event(name):
    table = TABLES[name]
    missing = [(s, e) for s in states_of(table) for e in events_of(table) | {"no_such_event"}
               if (s, e) not in table.rows]
    assert missing
    for state, event in missing:
        assert not table.allows(concrete(state), event)
        with pytest.raises(TransitionError) as err:
            table.next(concrete(state), event)
        msg = str(err.value)
        assert name in msg and repr(concrete(state)) in msg and repr(event) in msg, msg


@pytest.mark.parametrize("name", TABLES)
def test_every_event_is_fired_by_its_primitive_and_no_other(name):
    """Each event of the table occurs as a string in the primitive's code, and every event its
    code fires (``_fire("x"``, ``_request("x"``) has rows: no row is dead, no event unknown."""
    text = "".join((SRC / f).read_text() for f in SOURCES[name])
    quoted = set(re.findall(r'"([a-z_0-9]+)"', text))
    events = events_of(TABLES[name])
    assert events <= quoted, f"{name}: never fired: {sorted(events - quoted)}"
    fired = set(re.findall(r'_(?:fire|request|send)\("([a-z_0-9]+)"', text))
    assert fired and fired <= events, f"{name}: fired without rows: {sorted(fired - events)}"


def test_registration_and_publication_are_one_machine():
    """The same rows in their own state names (the spec: "very similar"; here identical)."""
    ren = dict(zip(("unpublished", "publishing", "published", "unpublishing"),
                   ("unregistered", "registering", "registered", "unregistering")))
    assert {(ren[s], e): ren[t] for (s, e), t in PUBLICATION.rows.items()} == REGISTRATION.rows
    assert Registration._table is REGISTRATION and Publication._table is PUBLICATION
    for cls, table in ((Registration, REGISTRATION), (Publication, PUBLICATION)):
        idle, sending, active, ending = cls._states
        assert table.initial == idle
        assert table.next(idle, "send") == sending and table.next(sending, "ok") == active
        assert table.next(active, "send_end") == ending and table.next(ending, "ok") == idle
        assert not table.allows(idle, "send_end") and not table.allows(idle, "refresh")


def test_subscription_other_text_is_a_state_of_its_own():
    """The server's own Subscription-State text is the state (OTHER in the rows), from any live
    state, and the named states are never taken for it."""
    for state in ("SENT", "ACCEPTED", "PENDING", "ACTIVE", TEXT, "another-text"):
        assert SUBSCRIPTION.next(state, "rx_notify_other") == OTHER
        assert SUBSCRIPTION.next(state, "ended") == "TERMINATED"
    assert SUBSCRIPTION.kind(TEXT) == OTHER
    for named in ("NULL", "SENT", "ACCEPTED", "PENDING", "ACTIVE", "TERMINATED"):
        assert SUBSCRIPTION.kind(named) == named
    with pytest.raises(TransitionError, match="Subscription.*'TERMINATED'.*'rx_notify_active'"):
        SUBSCRIPTION.next("TERMINATED", "rx_notify_active")


def bare(cls, state):
    obj = object.__new__(cls)
    obj._state = state
    return obj


def test_primitives_move_only_by_the_rows(recorder):
    """The primitives' _fire: a row moves and notifies; a missing row raises and changes
    nothing; a STAY row and a repeated Subscription state notify nothing."""
    sub = bare(Subscription, "ACTIVE")
    sub._fire("rx_notify_other", TEXT)
    sub._fire("rx_notify_other", TEXT)                  # repeated, no response: not again
    sub._fire("rx_notify_other", "other")
    sub._fire("rx_notify_active", "ACTIVE")
    assert [n.data.state for n in recorder.all("SIPSubscriptionChangedState")] == [
        TEXT, "other", "ACTIVE"]
    with pytest.raises(TransitionError, match="Subscription"):
        sub._fire("send_subscribe")
    assert sub.state == "ACTIVE"

    inv = bare(Invitation, "DISCONNECTING")
    inv._fire("ack")                                    # STAY: the late ACK
    with pytest.raises(TransitionError, match="Invitation: no transition from state "
                                              "'DISCONNECTING' on event 'send_reinvite'"):
        inv._fire("send_reinvite")
    inv._fire("ended", code=200, reason="OK")
    assert inv._state == "DISCONNECTED"
    assert [(n.data.prev_state, n.data.state) for n in
            recorder.all("SIPInvitationChangedState")] == [("DISCONNECTING", "DISCONNECTED")]

    reg = bare(Registration, "unregistered")
    with pytest.raises(TransitionError, match="Registration.*'unregistered'.*'send_end'"):
        reg._fire("send_end")
    reg._fire("send")
    assert reg.state == "registering"
    assert [n.data.state for n in recorder.all("SIPRegistrationChangedState")] == ["registering"]
