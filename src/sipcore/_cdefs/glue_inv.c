/* sipcore glue for the Invitation: pjsip-ua INVITE sessions (pjsip_inv).
 *
 * The pjsip_inv callbacks, a module "mod-sipcore-inv" that turns new out-of-dialog INVITEs
 * into INVITE sessions, and a few guarded wrappers.  Every callback is flattened into an
 * sc_inv_event_t and handed to one extern "Python" trampoline (sc_py_inv_event) with the
 * Invitation's token (an integer kept in the session's mod_data slot of mod-sipcore-inv, see
 * _pj.Handles).  The wrappers check the preconditions PJSIP only asserts (pjproject is built
 * with assertions on, and a failed pj_assert aborts the process).  Everything here runs on
 * the poll thread.
 */
#include "glue.h"

#include <string.h>

static pj_bool_t sc_inv_on_rx_request(pjsip_rx_data *rdata);

static pjsip_module sc_inv_mod = {
    NULL, NULL, { "mod-sipcore-inv", 15 }, -1, PJSIP_MOD_PRIORITY_APPLICATION - 1,
    NULL, NULL, NULL, NULL,
    &sc_inv_on_rx_request, NULL, NULL, NULL, NULL
};
static pjsip_endpoint *sc_inv_endpt = NULL;

/* RFC 4028 session timers (the Engine options session_timer, session_expires, session_min_se;
 * sc_inv_set_timer): the pjsip_inv options every new session gets, and its timer setting. */
static unsigned sc_inv_timer_opts = PJSIP_INV_SUPPORT_TIMER;
static pjsip_timer_setting sc_inv_timer_setting = { .min_se = 90, .sess_expires = 1800 };

/* mode: 0 off, 1 supported, 2 required, 3 always; Python checked 90 <= min_se <= se
 * (pjsip asserts both, and a failed assertion aborts). */
void sc_inv_set_timer(int mode, unsigned sess_expires, unsigned min_se)
{
    static const unsigned opts[] = {
        0, PJSIP_INV_SUPPORT_TIMER, PJSIP_INV_SUPPORT_TIMER | PJSIP_INV_REQUIRE_TIMER,
        PJSIP_INV_SUPPORT_TIMER | PJSIP_INV_ALWAYS_USE_TIMER };
    sc_inv_timer_opts = (mode >= 0 && mode < 4) ? opts[mode] : 0;
    pjsip_timer_setting_default(&sc_inv_timer_setting);
    if (min_se >= 90) sc_inv_timer_setting.min_se = min_se;
    if (sess_expires >= sc_inv_timer_setting.min_se) sc_inv_timer_setting.sess_expires = sess_expires;
}

static void *sc_inv_token(pjsip_inv_session *inv)
{
    return sc_inv_mod.id >= 0 ? inv->mod_data[sc_inv_mod.id] : NULL;
}

void sc_inv_set_token(pjsip_inv_session *inv, uintptr_t token)
{
    if (sc_inv_mod.id >= 0) inv->mod_data[sc_inv_mod.id] = (void*) token;
}

static pjsip_rx_data *sc_inv_event_rdata(pjsip_event *e)
{
    if (!e) return NULL;
    if (e->type == PJSIP_EVENT_TSX_STATE && e->body.tsx_state.type == PJSIP_EVENT_RX_MSG)
        return e->body.tsx_state.src.rdata;
    if (e->type == PJSIP_EVENT_RX_MSG) return e->body.rx_msg.rdata;
    return NULL;
}

/* ---------- pjsip_inv callbacks --------------------------------------------------------- */

/* The event a callback reports: its kind and the session's state, the rest zero. */
static void sc_inv_event_init(sc_inv_event_t *ev, int kind, pjsip_inv_session *inv)
{
    pj_bzero(ev, sizeof(*ev));
    ev->kind = kind;
    ev->state = inv->state;
}

static void sc_inv_on_state_changed(pjsip_inv_session *inv, pjsip_event *e)
{
    sc_inv_event_t ev;
    void *token = sc_inv_token(inv);
    if (!token) return;
    sc_inv_event_init(&ev, SC_INV_EV_STATE, inv);
    ev.rdata = sc_inv_event_rdata(e);
    ev.role = inv->role;
    if (inv->state == PJSIP_INV_STATE_DISCONNECTED) {
        ev.code = inv->cause;
        ev.reason = inv->cause_text;
        /* the session goes away after this: nothing more for this token */
        inv->mod_data[sc_inv_mod.id] = NULL;
    } else if (e && e->type == PJSIP_EVENT_TSX_STATE && e->body.tsx_state.tsx) {
        ev.code = e->body.tsx_state.tsx->status_code;
        ev.reason = e->body.tsx_state.tsx->status_text;
    }
    sc_py_inv_event((uintptr_t) token, inv, &ev);
}

static void sc_inv_on_new_session(pjsip_inv_session *inv, pjsip_event *e)
{
    PJ_UNUSED_ARG(inv); PJ_UNUSED_ARG(e);
}

/* Final responses of the session's INVITE transactions (reported once per transaction; a
 * 401/407 that PJSIP answered with a new, authenticated INVITE is not reported), and
 * incoming CANCELs. */
static void sc_inv_on_tsx_state_changed(pjsip_inv_session *inv, pjsip_transaction *tsx,
                                        pjsip_event *e)
{
    sc_inv_event_t ev;
    void *token = sc_inv_token(inv);
    if (!token || sc_inv_mod.id < 0) return;
    sc_inv_event_init(&ev, SC_INV_EV_TSX, inv);
    ev.role = tsx->role;
    if (tsx->method.id == PJSIP_CANCEL_METHOD && tsx->role == PJSIP_ROLE_UAS &&
        e->type == PJSIP_EVENT_TSX_STATE && e->body.tsx_state.type == PJSIP_EVENT_RX_MSG) {
        ev.kind = SC_INV_EV_CANCEL;
        ev.rdata = e->body.tsx_state.src.rdata;
        sc_py_inv_event((uintptr_t) token, inv, &ev);
        return;
    }
    if (tsx->method.id != PJSIP_INVITE_METHOD || tsx->status_code < 200 ||
        tsx->state < PJSIP_TSX_STATE_COMPLETED || tsx->mod_data[sc_inv_mod.id] != NULL)
        return;
    if (tsx->role == PJSIP_ROLE_UAC &&
        (tsx->status_code == 401 || tsx->status_code == 407) &&
        inv->invite_tsx != NULL && inv->invite_tsx != tsx)
        return;                                  /* retried with credentials */
    tsx->mod_data[sc_inv_mod.id] = (void*) 1;    /* reported once */
    ev.code = tsx->status_code;
    ev.reason = tsx->status_text;
    ev.rdata = sc_inv_event_rdata(e);
    sc_py_inv_event((uintptr_t) token, inv, &ev);
}

/* An offer.  In a re-INVITE the application answers (on_rx_reinvite); otherwise (UPDATE, an
 * offer in a response) Python sets the answer at once. */
static void sc_inv_on_rx_offer2(pjsip_inv_session *inv, struct pjsip_inv_on_rx_offer_cb_param *p)
{
    sc_inv_event_t ev;
    void *token = sc_inv_token(inv);
    pjsip_msg *msg = p->rdata ? p->rdata->msg_info.msg : NULL;
    if (!token) return;
    if (msg && msg->type == PJSIP_REQUEST_MSG && msg->line.req.method.id == PJSIP_INVITE_METHOD)
        return;
    sc_inv_event_init(&ev, SC_INV_EV_OFFER, inv);
    ev.rdata = (pjsip_rx_data*) p->rdata;
    sc_py_inv_event((uintptr_t) token, inv, &ev);
}

static pj_status_t sc_inv_on_rx_reinvite(pjsip_inv_session *inv, const pjmedia_sdp_session *offer,
                                         pjsip_rx_data *rdata)
{
    sc_inv_event_t ev;
    pjsip_tx_data *tdata = NULL;
    void *token = sc_inv_token(inv);
    PJ_UNUSED_ARG(offer);
    if (!token) return PJ_EINVALIDOP;            /* PJSIP answers by itself */
    /* pjsip_inv_answer() needs a first answer made from the request */
    if (pjsip_inv_initial_answer(inv, rdata, 100, NULL, NULL, &tdata) != PJ_SUCCESS)
        return PJ_EINVALIDOP;
    if (pjsip_inv_send_msg(inv, tdata) != PJ_SUCCESS) return PJ_EINVALIDOP;
    sc_inv_event_init(&ev, SC_INV_EV_REINVITE, inv);
    ev.rdata = rdata;
    sc_py_inv_event((uintptr_t) token, inv, &ev);
    return PJ_SUCCESS;
}

static void sc_inv_on_media_update(pjsip_inv_session *inv, pj_status_t status)
{
    sc_inv_event_t ev;
    void *token = sc_inv_token(inv);
    if (!token) return;
    sc_inv_event_init(&ev, SC_INV_EV_MEDIA, inv);
    ev.status = status;
    sc_py_inv_event((uintptr_t) token, inv, &ev);
}

/* ---------- new incoming INVITEs -------------------------------------------------------- */

static void sc_tp_name(pjsip_transport *tp, char *out, size_t cap)
{
    const char *n = tp && tp->type_name ? tp->type_name : "udp";
    size_t i = 0;
    for (; n[i] && n[i] != '6' && i + 1 < cap; i++)
        out[i] = (char) ((n[i] >= 'A' && n[i] <= 'Z') ? n[i] + 32 : n[i]);
    out[i] = 0;
}

/* Whether an application listens to the Invitation's notifications (sc_inv_set_wanted, kept
 * by invitation.py as receivers connect and disconnect).  1 until Python says otherwise: a
 * new INVITE then takes the full path and Python decides (and answers 480 through the
 * session when nobody listens). */
static volatile int sc_inv_wanted = 1;

void sc_inv_set_wanted(int wanted)
{
    sc_inv_wanted = wanted;
}

static pj_bool_t sc_inv_on_rx_request(pjsip_rx_data *rdata)
{
    pjsip_msg *msg = rdata->msg_info.msg;
    /* timers are offered to verify_request always (as PJSUA does): with session_timer "off"
     * a peer that requires them still gets them, one that only supports them does not */
    unsigned options = PJSIP_INV_SUPPORT_100REL | PJSIP_INV_SUPPORT_TIMER |
                       (sc_inv_timer_opts & (PJSIP_INV_REQUIRE_TIMER | PJSIP_INV_ALWAYS_USE_TIMER));
    pjsip_tx_data *tdata = NULL;
    pjsip_dialog *dlg = NULL;
    pjsip_inv_session *inv = NULL;
    pjsip_transport *tp = rdata->tp_info.transport;
    char contact_buf[512], user[128], host[80], tpname[16];
    pj_str_t contact;
    pj_status_t st;
    pjsip_uri *ruri;

    if (msg->line.req.method.id != PJSIP_INVITE_METHOD) return PJ_FALSE;
    if (pjsip_rdata_get_dlg(rdata) != NULL || pjsip_rdata_get_tsx(rdata) != NULL) return PJ_FALSE;
    if (!sc_inv_endpt) return PJ_FALSE;
    if (!sc_inv_wanted) {
        /* Nobody would take it: refused statelessly (RFC 3261 §8.2.7), with no 100, no
         * dialog, no transaction and no Python.  A retransmission of the INVITE gets the same
         * 480 (the To tag is its Via branch) and the ACK is absorbed.  A stateful refusal held
         * a dialog and a transaction per INVITE until Timer H (32 s) and retransmitted the
         * 480 meanwhile: an INVITE flood then held 14 KB per INVITE (benchmarks/flood.py). */
        pjsip_endpt_respond_stateless(sc_inv_endpt, rdata, 480, NULL, NULL, NULL);
        return PJ_TRUE;
    }

    st = pjsip_inv_verify_request(rdata, &options, NULL, NULL, sc_inv_endpt, &tdata);
    if (st != PJ_SUCCESS) {
        if (tdata) {
            if (pjsip_endpt_send_response2(sc_inv_endpt, rdata, tdata, NULL, NULL) != PJ_SUCCESS)
                pjsip_tx_data_dec_ref(tdata);
        } else {
            pjsip_endpt_respond_stateless(sc_inv_endpt, rdata, 500, NULL, NULL, NULL);
        }
        return PJ_TRUE;
    }

    if (sc_inv_timer_opts == 0 && !(options & PJSIP_INV_REQUIRE_TIMER))
        options &= ~(unsigned) PJSIP_INV_SUPPORT_TIMER;

    /* Contact: the address the request came in on, with the Request-URI's user */
    user[0] = 0;
    ruri = (pjsip_uri*) pjsip_uri_get_uri(msg->line.req.uri);
    if (ruri && (PJSIP_URI_SCHEME_IS_SIP(ruri) || PJSIP_URI_SCHEME_IS_SIPS(ruri))) {
        /* PJSIP holds the user part unescaped ("sip:a@b" for sip%3Aa%40b): escaped again
         * (RFC 3261 §19.1.2), as a URI carries it */
        pjsip_sip_uri *su = (pjsip_sip_uri*) ruri;
        pj_ssize_t n = su->user.slen > 0 ? pj_strncpy2_escape(
            user, &su->user, (pj_ssize_t) sizeof(user) - 2,
            &pjsip_parser_const()->pjsip_USER_SPEC_ESC) : -1;
        if (n > 0) {
            user[n] = '@';
            user[n + 1] = 0;
        } else {
            user[0] = 0;
        }
    }
    host[0] = 0;
    if (tp) {
        pj_ssize_t n = tp->local_name.host.slen;
        if (n > (pj_ssize_t) sizeof(host) - 3) n = (pj_ssize_t) sizeof(host) - 3;
        if (n < 0) n = 0;
        if (memchr(tp->local_name.host.ptr, ':', (size_t) n)) {
            host[0] = '[';
            memcpy(host + 1, tp->local_name.host.ptr, (size_t) n);
            host[n + 1] = ']';
            host[n + 2] = 0;
        } else {
            memcpy(host, tp->local_name.host.ptr, (size_t) n);
            host[n] = 0;
        }
    }
    sc_tp_name(tp, tpname, sizeof(tpname));
    pj_ansi_snprintf(contact_buf, sizeof(contact_buf), "<sip:%s%s:%d;transport=%s>", user, host,
                     tp ? tp->local_name.port : 5060, tpname);
    contact = pj_str(contact_buf);

    st = pjsip_dlg_create_uas_and_inc_lock(pjsip_ua_instance(), rdata, &contact, &dlg);
    if (st != PJ_SUCCESS) {
        pjsip_endpt_respond_stateless(sc_inv_endpt, rdata, 500, NULL, NULL, NULL);
        return PJ_TRUE;
    }
    st = pjsip_inv_create_uas(dlg, rdata, NULL, options, &inv);
    if (st == PJ_SUCCESS) st = pjsip_timer_init_session(inv, &sc_inv_timer_setting);
    if (st != PJ_SUCCESS) {
        if (inv) {
            pjsip_inv_terminate(inv, 500, PJ_FALSE);
        } else {
            pjsip_dlg_respond(dlg, rdata, 500, NULL, NULL, NULL);
        }
        pjsip_dlg_dec_lock(dlg);
        return PJ_TRUE;
    }
    tdata = NULL;
    st = pjsip_inv_initial_answer(inv, rdata, 100, NULL, NULL, &tdata);
    if (st != PJ_SUCCESS && tdata) {
        /* the session timer refused the request (422 Session Interval Too Small, with our
         * Min-SE): answered, and the session ends without Python hearing of it */
        pjsip_inv_send_msg(inv, tdata);
        pjsip_dlg_dec_lock(dlg);
        return PJ_TRUE;
    }
    if (st == PJ_SUCCESS) st = pjsip_inv_send_msg(inv, tdata);
    if (st != PJ_SUCCESS) {
        pjsip_inv_terminate(inv, 500, PJ_FALSE);
        pjsip_dlg_dec_lock(dlg);
        return PJ_TRUE;
    }
    if (!sc_py_inv_incoming(inv, rdata, tpname) && inv->state != PJSIP_INV_STATE_DISCONNECTED) {
        /* nobody took it (no Engine, no receivers, an error) */
        inv->mod_data[sc_inv_mod.id] = NULL;
        tdata = NULL;
        if (pjsip_inv_end_session(inv, 480, NULL, &tdata) == PJ_SUCCESS && tdata)
            pjsip_inv_send_msg(inv, tdata);
    }
    pjsip_dlg_dec_lock(dlg);
    return PJ_TRUE;
}

/* ---------- set-up ---------------------------------------------------------------------- */

pj_status_t sc_inv_init(pjsip_endpoint *endpt)
{
    pjsip_inv_callback cb;
    pj_status_t st;
    pj_bzero(&cb, sizeof(cb));
    cb.on_state_changed = &sc_inv_on_state_changed;
    cb.on_new_session = &sc_inv_on_new_session;
    cb.on_tsx_state_changed = &sc_inv_on_tsx_state_changed;
    cb.on_rx_offer2 = &sc_inv_on_rx_offer2;
    cb.on_rx_reinvite = &sc_inv_on_rx_reinvite;
    cb.on_media_update = &sc_inv_on_media_update;
    sc_inv_endpt = endpt;
    if (pjsip_inv_usage_instance()->id == -1) {
        st = pjsip_inv_usage_init(endpt, &cb);
        if (st != PJ_SUCCESS) return st;
    }
    st = pjsip_100rel_init_module(endpt);
    if (st != PJ_SUCCESS) return st;
    st = pjsip_timer_init_module(endpt);
    if (st != PJ_SUCCESS) return st;
    if (sc_inv_mod.id == -1) {
        st = pjsip_endpt_register_module(endpt, &sc_inv_mod);
        if (st != PJ_SUCCESS) return st;
    }
    return PJ_SUCCESS;
}

/* ---------- outgoing sessions ----------------------------------------------------------- */

pj_status_t sc_inv_create_uac(uintptr_t token, const char *from, const char *contact,
                              const char *to, const char *target, const char *route,
                              pjsip_tpfactory *listener, const char *user,
                              const char *password, const pjmedia_sdp_session *sdp,
                              pjsip_inv_session **p_inv)
{
    pjsip_dialog *dlg;
    pjsip_inv_session *inv = NULL;
    pj_str_t lfrom = pj_str((char*) from), lcontact = pj_str((char*) contact);
    pj_str_t lto = pj_str((char*) to), ltarget = pj_str((char*) target);
    pj_status_t st;
    st = pjsip_dlg_create_uac(pjsip_ua_instance(), &lfrom, &lcontact, &lto, &ltarget, &dlg);
    if (st != PJ_SUCCESS) return st;
    pjsip_dlg_inc_lock(dlg);
    st = pjsip_inv_create_uac(dlg, sdp, PJSIP_INV_SUPPORT_100REL | sc_inv_timer_opts, &inv);
    if (st == PJ_SUCCESS) st = pjsip_timer_init_session(inv, &sc_inv_timer_setting);
    if (st == PJ_SUCCESS) st = sc_dlg_setup(dlg, route, listener, user, password);
    if (st != PJ_SUCCESS) {
        if (inv) pjsip_inv_terminate(inv, 500, PJ_FALSE);
        pjsip_dlg_dec_lock(dlg);
        return st;
    }
    sc_inv_set_token(inv, token);
    pjsip_dlg_dec_lock(dlg);
    *p_inv = inv;
    return PJ_SUCCESS;
}

/* ---------- guarded operations ---------------------------------------------------------- */

void sc_inv_info(pjsip_inv_session *inv, sc_inv_info_t *out)
{
    pj_bzero(out, sizeof(*out));
    out->state = inv->state;
    out->role = inv->role;
    if (inv->dlg) {
        if (inv->dlg->call_id) out->call_id = inv->dlg->call_id->id;
        if (inv->dlg->local.contact) out->local_contact = inv->dlg->local.contact->uri;
        if (inv->dlg->remote.contact) out->remote_contact = inv->dlg->remote.contact->uri;
    }
    out->neg_state = inv->neg ? (int) pjmedia_sdp_neg_get_state(inv->neg) : -1;
    out->has_invite_tsx = inv->invite_tsx != NULL;
    out->cause = inv->cause;
    out->cause_text = inv->cause_text;
}

pj_status_t sc_inv_invite(pjsip_inv_session *inv, pjsip_tx_data **p_tdata)
{
    if (inv->state != PJSIP_INV_STATE_NULL || inv->role != PJSIP_ROLE_UAC) return PJ_EINVALIDOP;
    return pjsip_inv_invite(inv, p_tdata);
}

/* A response to the pending incoming INVITE (initial or re-INVITE).  sdp: the answer, or for
 * a re-INVITE without an offer, the offer; ignored where the negotiation takes none. */
pj_status_t sc_inv_answer(pjsip_inv_session *inv, int code, const pjmedia_sdp_session *sdp,
                          pjsip_tx_data **p_tdata)
{
    pjmedia_sdp_neg_state ns;
    pj_status_t st;
    if (!inv->invite_tsx || !inv->last_answer || inv->invite_tsx->role != PJSIP_ROLE_UAS ||
        inv->invite_tsx->state >= PJSIP_TSX_STATE_COMPLETED || inv->invite_tsx->status_code >= 200)
        return PJ_EINVALIDOP;
    if (code < 100 || code > 699) return PJ_EINVAL;
    if (code >= 300 || code < 200) sdp = NULL;
    ns = inv->neg ? pjmedia_sdp_neg_get_state(inv->neg) : PJMEDIA_SDP_NEG_STATE_NULL;
    if (sdp) {
        if (!inv->neg || ns == PJMEDIA_SDP_NEG_STATE_REMOTE_OFFER) {
            /* answer (or initial offer in a 200 to an INVITE without one) */
        } else if (ns == PJMEDIA_SDP_NEG_STATE_DONE && inv->state == PJSIP_INV_STATE_CONFIRMED) {
            /* re-INVITE without an offer: our offer goes in the 200 */
            st = pjsip_inv_set_local_sdp(inv, sdp);
            if (st != PJ_SUCCESS) return st;
            sdp = NULL;
        } else {
            sdp = NULL;
        }
    } else if (code >= 200 && code < 300 && (!inv->neg || ns == PJMEDIA_SDP_NEG_STATE_REMOTE_OFFER)) {
        return PJ_EINVALIDOP;      /* a 2xx needs an answer (or an offer) */
    }
    return pjsip_inv_answer(inv, code, NULL, sdp, p_tdata);
}

/* CANCEL, BYE or a final response, depending on the state.  *p_tdata is NULL when PJSIP sends
 * the CANCEL later (no provisional response yet). */
pj_status_t sc_inv_end(pjsip_inv_session *inv, int code, pjsip_tx_data **p_tdata)
{
    *p_tdata = NULL;
    switch (inv->state) {
    case PJSIP_INV_STATE_NULL:
    case PJSIP_INV_STATE_CALLING:
    case PJSIP_INV_STATE_INCOMING:
    case PJSIP_INV_STATE_EARLY:
        if (!inv->invite_tsx) return PJ_EINVALIDOP;
        if (inv->role == PJSIP_ROLE_UAS) {
            if (!inv->last_answer && !inv->invite_tsx->last_tx) return PJ_EINVALIDOP;
            if (inv->invite_tsx->state >= PJSIP_TSX_STATE_COMPLETED) return PJ_EINVALIDOP;
        } else if (inv->invite_tsx->status_code >= 100 && !inv->invite_tsx->last_tx) {
            return PJ_EINVALIDOP;
        }
        break;
    case PJSIP_INV_STATE_CONNECTING:
    case PJSIP_INV_STATE_CONFIRMED:
        break;
    default:
        return PJSIP_ESESSIONTERMINATED;
    }
    return pjsip_inv_end_session(inv, code, NULL, p_tdata);
}

pj_status_t sc_inv_reinvite(pjsip_inv_session *inv, const pjmedia_sdp_session *sdp,
                            pjsip_tx_data **p_tdata)
{
    if (inv->state != PJSIP_INV_STATE_CONFIRMED || inv->invite_tsx != NULL || !inv->neg ||
        pjmedia_sdp_neg_get_state(inv->neg) != PJMEDIA_SDP_NEG_STATE_DONE)
        return PJ_EINVALIDOP;
    return pjsip_inv_reinvite(inv, NULL, sdp, p_tdata);
}

pj_status_t sc_inv_send(pjsip_inv_session *inv, pjsip_tx_data *tdata)
{
    return pjsip_inv_send_msg(inv, tdata);
}

pj_status_t sc_inv_set_answer(pjsip_inv_session *inv, const pjmedia_sdp_session *sdp)
{
    if (!inv->neg || !sdp ||
        pjmedia_sdp_neg_get_state(inv->neg) != PJMEDIA_SDP_NEG_STATE_REMOTE_OFFER)
        return PJ_EINVALIDOP;
    return pjsip_inv_set_sdp_answer(inv, sdp);
}

pj_status_t sc_inv_terminate(pjsip_inv_session *inv, int code, int notify)
{
    if (inv->state == PJSIP_INV_STATE_DISCONNECTED) return PJSIP_ESESSIONTERMINATED;
    return pjsip_inv_terminate(inv, code, notify ? PJ_TRUE : PJ_FALSE);
}

/* Engine stop: forget the token, say goodbye once (CANCEL, BYE or 480), end the session. */
void sc_inv_abandon(pjsip_inv_session *inv)
{
    pjsip_tx_data *tdata = NULL;
    sc_inv_set_token(inv, 0);
    if (inv->state == PJSIP_INV_STATE_DISCONNECTED) return;
    pjsip_dlg_inc_lock(inv->dlg);
    if (sc_inv_end(inv, 480, &tdata) == PJ_SUCCESS && tdata)
        pjsip_inv_send_msg(inv, tdata);
    if (inv->state != PJSIP_INV_STATE_DISCONNECTED)
        pjsip_inv_terminate(inv, 480, PJ_FALSE);
    pjsip_dlg_dec_lock(inv->dlg);
}

/* 0: active local, 1: active remote, 2: offered (pending) local, 3: offered remote */
const pjmedia_sdp_session *sc_inv_sdp(pjsip_inv_session *inv, int which)
{
    const pjmedia_sdp_session *s = NULL;
    pjmedia_sdp_neg_state ns;
    pj_status_t st = -1;
    if (!inv->neg) return NULL;
    ns = pjmedia_sdp_neg_get_state(inv->neg);
    switch (which) {
    case 0: st = pjmedia_sdp_neg_get_active_local(inv->neg, &s); break;
    case 1: st = pjmedia_sdp_neg_get_active_remote(inv->neg, &s); break;
    case 2:
        if (ns == PJMEDIA_SDP_NEG_STATE_LOCAL_OFFER ||
            (ns == PJMEDIA_SDP_NEG_STATE_WAIT_NEGO && pjmedia_sdp_neg_has_local_answer(inv->neg)))
            st = pjmedia_sdp_neg_get_neg_local(inv->neg, &s);
        break;
    case 3:
        if (ns == PJMEDIA_SDP_NEG_STATE_REMOTE_OFFER ||
            (ns == PJMEDIA_SDP_NEG_STATE_WAIT_NEGO && pjmedia_sdp_neg_has_local_answer(inv->neg)))
            st = pjmedia_sdp_neg_get_neg_remote(inv->neg, &s);
        break;
    }
    return st == PJ_SUCCESS ? s : NULL;
}
