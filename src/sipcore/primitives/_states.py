"""Every state machine of the primitives, as data: ``(state, event) -> next state``.

Model: h11's ``_state.py``.  All the tables are here, side by side, so one file answers "how can
a Registration / Publication / Subscription / Invitation move?", and a test walks every row
without an Engine (tests/unit/test_state_tables.py).  A primitive changes state only through
``Table.next(state, event)``; a pair with no row raises :class:`TransitionError` naming the
primitive, the state and the event (a bug in sipcore, never a peer's doing: what a peer may
send is a row).  The primitives decide *which event happened* (a method was called, PJSIP
reported something); the rows decide *where that leads*.

Events are named after what happened: ``send_*`` a method sent something, ``rx_*`` something
was received, ``engine_stop`` the Engine stopped with the object alive.  Each row's comment is
the spec's trigger (sip-core-api.txt; Invitation numbers its 16 triggers).
"""
from __future__ import annotations

from ..errors import SIPCoreError

__all__ = ["TransitionError", "Table", "REGISTRATION", "PUBLICATION", "SUBSCRIPTION",
           "INVITATION", "RTP_TRANSPORT", "STAY", "OTHER"]

#: a row's target meaning "the event happened and changes nothing: nothing is notified"
#: (Invitation: PJSIP reports its own state changes, some of which the spec's machine hides)
STAY = "(stay)"
#: Subscription: the server's own Subscription-State text (any string but the named states)
OTHER = "(other text)"


class TransitionError(SIPCoreError):
    """A state machine was given an event its current state has no row for (a sipcore bug)."""


class Table:
    """The rows of one primitive's machine; ``kind`` maps a state to the name its rows use."""

    def __init__(self, primitive: str, initial: str, rows: dict[tuple[str, str], str],
                 named: tuple[str, ...] | None = None) -> None:
        self.primitive = primitive
        self.initial = initial
        self.rows = rows
        self.named = named          # Subscription: any other state is the server's text

    def kind(self, state: str) -> str:
        return state if self.named is None or state in self.named else OTHER

    def allows(self, state: str, event: str) -> bool:
        return (self.kind(state), event) in self.rows

    def next(self, state: str, event: str) -> str:
        try:
            return self.rows[(self.kind(state), event)]
        except KeyError:
            raise TransitionError(f"{self.primitive}: no transition from state {state!r} on "
                                  f"event {event!r} (a bug in sipcore)") from None

    def pairs(self) -> set[tuple[str, str]]:
        """Every (previous state, new state) a row makes (rows to STAY are no change)."""
        return {(s, t) for (s, _), t in self.rows.items() if t != STAY}


# ---- Registration and Publication: one queued, refreshing machine ---------------------------
#
# Triggers (the spec, both objects): 1 the initial state, 2 the user's requests
# (register()/publish(): "send"; unregister()/unpublish(): "send_end"), 3 a final response
# ("ok": 2xx; "fail": any other, or the request could not be sent), 4 the refresh timer.

def refreshing(primitive: str, idle: str, sending: str, active: str, ending: str) -> Table:
    """The machine of Registration and Publication, in their state names."""
    return Table(primitive, idle, {
        (idle, "send"): sending,          # 2 register() / publish()
        (active, "send"): sending,        # 2 again while active (re-register, new content)
        (active, "refresh"): sending,     # 4 the refresh timer
        (active, "send_end"): ending,     # 2 unregister() / unpublish()
        (sending, "ok"): active,          # 3 a 2xx
        (sending, "fail"): idle,          # 3 a failure (a failed refresh too)
        (ending, "ok"): idle,             # 3 the removal done
        (ending, "fail"): idle,           # 3 the removal failed: nothing is held either way
        (sending, "engine_stop"): idle,   # Engine.stop(): PJSIP's object is dropped
        (active, "engine_stop"): idle,
        (ending, "engine_stop"): idle,
    })


REGISTRATION = refreshing("Registration", "unregistered", "registering", "registered",
                          "unregistering")
PUBLICATION = refreshing("Publication", "unpublished", "publishing", "published",
                         "unpublishing")


# ---- Subscription: a mirror of pjsip_evsub ------------------------------------------------
#
# The events are PJSIP's evsub reports (sc_evsub_on_state): the spec makes the state "a direct
# mirror of the state machine of the underlying pjsip_evsub".  A NOTIFY may carry any
# Subscription-State in any live state (RFC 6665 4.1.3), so every live state has the three
# NOTIFY rows.  A state with no response code that repeats itself is not notified again (see
# Subscription._fire).

_SUB_NAMED = ("NULL", "SENT", "ACCEPTED", "PENDING", "ACTIVE", "TERMINATED")
_SUB_LIVE = ("SENT", "ACCEPTED", "PENDING", "ACTIVE", OTHER)

SUBSCRIPTION = Table("Subscription", "TERMINATED", {
    ("TERMINATED", "send_subscribe"): "SENT",  # subscribe(): the evsub reports SENT
    ("SENT", "send_subscribe"): "SENT",        # subscribe() after that report: no change
    ("SENT", "rx_2xx"): "ACCEPTED",            # the 2xx to the SUBSCRIBE (before any NOTIFY)
    **{(s, "rx_notify_pending"): "PENDING" for s in _SUB_LIVE},   # Subscription-State: pending
    **{(s, "rx_notify_active"): "ACTIVE" for s in _SUB_LIVE},     # Subscription-State: active
    # Subscription-State: any other text: the state is that text (OTHER stands for it)
    **{(s, "rx_notify_other"): OTHER for s in _SUB_LIVE},
    # terminated: a NOTIFY saying so, a failed (re-)SUBSCRIBE, the un-SUBSCRIBE done, a timeout
    **{(s, "ended"): "TERMINATED" for s in _SUB_LIVE},
    **{(s, "engine_stop"): "TERMINATED" for s in _SUB_LIVE},
}, named=_SUB_NAMED)


# ---- Invitation: the spec's diagram over pjsip_inv ----------------------------------------
#
# The spec numbers 16 triggers; each row names its own.  PJSIP reports its own states (sending
# the INVITE, a 1xx, a 2xx, the ACK); for an outgoing session a 1xx or 2xx is received
# ("rx_"), for an incoming one sent ("send_").  The methods fire the same events when PJSIP has
# not reported them while sending.  A report the spec's machine hides is a row to STAY.

_INV_LIVE = ("CALLING", "INCOMING", "EARLY", "CONNECTING", "CONFIRMED", "REINVITING", "REINVITED")
#: the events PJSIP's own state reports become (Invitation._on_pj_state)
PJ_REPORTS = ("send_invite", "rx_1xx", "send_1xx", "rx_2xx", "send_2xx", "ack")

INVITATION = Table("Invitation", "NULL", {
    ("NULL", "send_invite"): "CALLING",          # 2  send_invite() sent the INVITE
    ("NULL", "rx_invite"): "INCOMING",           # 3  a new incoming INVITE
    ("CALLING", "rx_1xx"): "EARLY",              # 4  a 1xx received
    ("INCOMING", "send_1xx"): "EARLY",           # 5  respond_to_invite_provisionally()
    ("EARLY", "rx_1xx"): "EARLY",                # 4  another 1xx received (the state "may
    ("EARLY", "send_1xx"): "EARLY",              # 5  be the same"), or sent
    ("CALLING", "rx_2xx"): "CONNECTING",         # 6  a 2xx received
    ("EARLY", "rx_2xx"): "CONNECTING",           # 6, 8  a 2xx received after a 1xx
    ("INCOMING", "send_2xx"): "CONNECTING",      # 7  accept_invite()
    ("EARLY", "send_2xx"): "CONNECTING",         # 7, 8  accept_invite() after a 1xx
    ("CONNECTING", "ack"): "CONFIRMED",          # 9  the ACK sent or received
    ("CONFIRMED", "send_reinvite"): "REINVITING",           # 10 send_reinvite()
    ("REINVITING", "rx_reinvite_final"): "CONFIRMED",       # 11 the final response to it
    ("REINVITING", "send_failed"): "CONFIRMED",             # 11 (sending it failed)
    ("CONFIRMED", "rx_reinvite"): "REINVITED",              # 12 a re-INVITE received
    ("REINVITED", "respond_reinvite_final"): "CONFIRMED",   # 13 respond_to_reinvite(final)
    ("REINVITED", "reinvite_tsx_ended"): "CONFIRMED",       # 13 PJSIP answered it (487 to a CANCEL)
    **{(s, "disconnect"): "DISCONNECTING" for s in _INV_LIVE},  # 14 disconnect()
    ("NULL", "disconnect"): "DISCONNECTED",      # 14 before send_invite(): nothing is sent
    ("DISCONNECTING", "ended"): "DISCONNECTED",  # 15 the answer to the CANCEL/BYE/response
    ("DISCONNECTING", "timeout"): "DISCONNECTED",   # 15 disconnect()'s timeout: no answer
    # 16 the remote party ended it (BYE, CANCEL, a negative final response), or an error
    **{(s, "ended"): "DISCONNECTED" for s in _INV_LIVE},
    ("NULL", "ended"): "DISCONNECTED",           # sending the INVITE failed at once
    ("NULL", "send_failed"): "DISCONNECTED",     # send_invite() failed: 503
    ("CALLING", "send_failed"): "DISCONNECTED",
    **{(s, "engine_stop"): "DISCONNECTED"        # Engine.stop(): 503
       for s in ("NULL", "DISCONNECTING") + _INV_LIVE},
    # PJSIP's reports the spec's machine hides: during the states only the spec has (PJSIP is
    # CONFIRMED or ending while we are REINVITING, REINVITED, DISCONNECTING: e.g. the late ACK
    # of a 2xx while DISCONNECTING), a state repeated, a 1xx after the 2xx
    **{(s, e): STAY for s in ("REINVITING", "REINVITED", "DISCONNECTING") for e in PJ_REPORTS},
    ("CALLING", "send_invite"): STAY,            # reported again (an INVITE with credentials)
    ("CONNECTING", "rx_2xx"): STAY,              # a retransmitted 2xx
    ("CONNECTING", "send_2xx"): STAY,
    ("CONFIRMED", "ack"): STAY,
    **{(s, e): STAY for s in ("NULL", "CONNECTING", "CONFIRMED") for e in ("rx_1xx", "send_1xx")},
})


# ---- RTPTransport: the spec's diagram (media; m-stream) ------------------------------------
#
# The spec numbers 8 triggers.  The sockets are opened by __init__, which leaves the object in
# INIT, or in WAIT_STUN while ICE gathers its STUN candidate (the spec's __init__ text); then
# set_INIT() in INIT is trigger 1 (RTPTransportDidInitialize is sent) and in WAIT_STUN trigger
# 2 (nothing changes: the notification waits for the STUN answer).

_RTP_LIVE = ("WAIT_STUN", "INIT", "LOCAL", "ESTABLISHED", "STUN_FAILED")

RTP_TRANSPORT = Table("RTPTransport", "INIT", {
    ("INIT", "set_INIT"): "INIT",                   # 1  set_INIT() without ICE+STUN
    ("WAIT_STUN", "set_INIT"): STAY,                # 2  set_INIT() while STUN is asked
    ("WAIT_STUN", "stun_ok"): "INIT",               # 3  the STUN server answered
    ("INIT", "set_LOCAL"): "LOCAL",                 # 4  set_LOCAL() (offerer)
    ("LOCAL", "set_ESTABLISHED"): "ESTABLISHED",    # 5  set_ESTABLISHED() (offerer)
    ("INIT", "set_ESTABLISHED"): "ESTABLISHED",     # 5  set_ESTABLISHED() (answerer)
    ("LOCAL", "set_INIT"): "INIT",                  # 6  reset for re-use
    ("ESTABLISHED", "set_INIT"): "INIT",            # 6
    **{(s, "engine_stop"): "INVALID" for s in _RTP_LIVE},   # 7  the Engine stopped
    ("WAIT_STUN", "stun_fail"): "STUN_FAILED",      # 8  no STUN answer, or an error
})
