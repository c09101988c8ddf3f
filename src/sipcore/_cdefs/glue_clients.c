/* sipcore glue for the client primitives: REGISTER (pjsip_regc), PUBLISH (pjsip_publishc),
 * SUBSCRIBE (pjsip_evsub over a UAC dialog) and MESSAGE (a client transaction of our own).
 *
 * Each PJSIP callback is flattened into an sc_client_result_t and handed to one
 * extern "Python" trampoline with the object's token (an integer, see _pj.Handles).
 * Everything here runs on the poll thread.
 */
#include "glue.h"

#include <stdlib.h>
#include <string.h>

/* ---------- REGISTER ------------------------------------------------------------------ */

/* What every REGISTER/PUBLISH transaction reports; the rest of r zeroed. */
static void sc_result_init(sc_client_result_t *r, pj_status_t status, int code,
                           const pj_str_t *reason, unsigned expiration, pjsip_rx_data *rdata)
{
    pj_bzero(r, sizeof(*r));
    r->status = status;
    r->code = code;
    r->reason = *reason;
    r->expiration = expiration;
    r->rdata = rdata;
}

static void sc_regc_cb(struct pjsip_regc_cbparam *p)
{
    sc_client_result_t r;
    sc_result_init(&r, p->status, p->code, &p->reason, p->expiration, p->rdata);
    r.contact_cnt = p->contact_cnt;
    r.contacts = p->contact;
    r.is_unreg = p->is_unreg;
    sc_py_on_client((uintptr_t) p->token, SC_CLIENT_REGC, &r);
}

pj_status_t sc_regc_create(pjsip_endpoint *endpt, uintptr_t token, const char *registrar,
                           const char *aor, const char *contact, unsigned expires,
                           const char *route, pjsip_tpfactory *listener, const char *user,
                           const char *password, pjsip_regc **p_regc)
{
    pjsip_regc *regc;
    pj_pool_t *pool;
    pj_str_t srv, from, cont;
    pjsip_route_hdr rs;
    pj_status_t st = pjsip_regc_create(endpt, (void*) token, &sc_regc_cb, &regc);
    if (st != PJ_SUCCESS) return st;
    pool = pjsip_regc_get_pool(regc);
    pj_strdup2_with_null(pool, &srv, registrar);
    pj_strdup2_with_null(pool, &from, aor);
    pj_strdup2_with_null(pool, &cont, contact);
    st = pjsip_regc_init(regc, &srv, &from, &from, 1, &cont, expires);
    if (st == PJ_SUCCESS) st = sc_route_set(pool, route, &rs);
    if (st == PJ_SUCCESS && !pj_list_empty(&rs)) st = pjsip_regc_set_route_set(regc, &rs);
    if (st == PJ_SUCCESS && password) {
        pjsip_cred_info cred;
        sc_cred(pool, &cred, user, password);
        st = pjsip_regc_set_credentials(regc, 1, &cred);
    }
    if (st == PJ_SUCCESS && listener) {
        pjsip_tpselector sel;
        sc_listener_sel(&sel, listener);
        st = pjsip_regc_set_transport(regc, &sel);
    }
    if (st != PJ_SUCCESS) { pjsip_regc_destroy(regc); return st; }
    *p_regc = regc;
    return PJ_SUCCESS;
}

/* The URI of one Contact of a REGISTER response, printed. */
int sc_contact_uri(pjsip_contact_hdr **contacts, int i, char *buf, int size)
{
    pjsip_contact_hdr *h = contacts[i];
    int n;
    if (!h || !h->uri) return 0;
    n = pjsip_uri_print(PJSIP_URI_IN_CONTACT_HDR, h->uri, buf, (pj_size_t) size - 1);
    if (n < 0) n = 0;
    buf[n] = 0;
    return n;
}

/* ---------- PUBLISH ------------------------------------------------------------------- */

static void sc_publishc_cb(struct pjsip_publishc_cbparam *p)
{
    sc_client_result_t r;
    sc_result_init(&r, p->status, p->code, &p->reason, p->expiration, p->rdata);
    /* PJSIP reads the 2xx's Expires only with its own auto-refresh, which sipcore does not
       use (it refreshes by itself): read the granted expiry here (RFC 3903 section 4.1) */
    if (p->expiration == PJSIP_PUBC_EXPIRATION_NOT_SPECIFIED && p->rdata && p->code / 100 == 2) {
        pjsip_expires_hdr *h = (pjsip_expires_hdr*)
            pjsip_msg_find_hdr(p->rdata->msg_info.msg, PJSIP_H_EXPIRES, NULL);
        if (h) r.expiration = h->ivalue;
    }
    sc_py_on_client((uintptr_t) p->token, SC_CLIENT_PUBLISHC, &r);
}

pj_status_t sc_publishc_create(pjsip_endpoint *endpt, uintptr_t token, const char *event,
                               const char *aor, unsigned expires, const char *route,
                               pjsip_tpfactory *listener, const char *user,
                               const char *password, pjsip_publishc **p_pubc)
{
    pjsip_publishc *pubc;
    pjsip_publishc_opt opt;
    pj_pool_t *pool;
    pj_str_t ev, uri;
    pjsip_route_hdr rs;
    pj_status_t st;
    pjsip_publishc_opt_default(&opt);
    opt.queue_request = PJ_FALSE;   /* sipcore queues by itself */
    st = pjsip_publishc_create(endpt, &opt, (void*) token, &sc_publishc_cb, &pubc);
    if (st != PJ_SUCCESS) return st;
    pool = pjsip_publishc_get_pool(pubc);
    pj_strdup2_with_null(pool, &ev, event);
    pj_strdup2_with_null(pool, &uri, aor);
    st = pjsip_publishc_init(pubc, &ev, &uri, &uri, &uri, expires);
    if (st == PJ_SUCCESS) st = sc_route_set(pool, route, &rs);
    if (st == PJ_SUCCESS && !pj_list_empty(&rs)) st = pjsip_publishc_set_route_set(pubc, &rs);
    if (st == PJ_SUCCESS && password) {
        pjsip_cred_info cred;
        sc_cred(pool, &cred, user, password);
        st = pjsip_publishc_set_credentials(pubc, 1, &cred);
    }
    (void) listener;   /* publishc has no transport selector in 2.12: see sc_tdata_use_listener */
    if (st != PJ_SUCCESS) { pjsip_publishc_destroy(pubc); return st; }
    *p_pubc = pubc;
    return PJ_SUCCESS;
}

/* Give a request "Expires: expires", replacing one it has.  pjsip_regc leaves the header
   out of a REGISTER whose expiry equals the last one granted, and a registrar then applies
   its own default (RFC 3261 10.3 step 7) instead of the expiry asked for. */
void sc_tdata_set_expires(pjsip_tx_data *tdata, unsigned expires)
{
    pjsip_expires_hdr *h = (pjsip_expires_hdr*)
        pjsip_msg_find_hdr(tdata->msg, PJSIP_H_EXPIRES, NULL);
    if (h) {
        h->ivalue = expires;
    } else {
        h = pjsip_expires_hdr_create(tdata->pool, expires);
        pjsip_msg_add_hdr(tdata->msg, (pjsip_hdr*) h);
    }
}

/* Make a request leave through this listener (TCP/TLS), or without one through the current
 * UDP transport (sc_udp_current: see glue.c). */
void sc_tdata_use_listener(pjsip_tx_data *tdata, pjsip_tpfactory *listener)
{
    pjsip_tpselector sel;
    if (listener) sc_listener_sel(&sel, listener);
    else if (!sc_udp_sel(&sel)) return;
    pjsip_tx_data_set_transport(tdata, &sel);
}

/* Whether the request went to (or is going to) an address: its destination was resolved.
 * 0 while a host name is still being resolved, or when it could not be: then nothing of it
 * reached a server. */
int sc_tdata_resolved(pjsip_tx_data *tdata)
{
    return tdata->dest_info.addr.count > 0;
}

/* A registration without a listener: its next requests leave through the current UDP
 * transport (called before each request is made; regc copies its selector into it). */
void sc_regc_use_udp(pjsip_regc *regc)
{
    pjsip_tpselector sel;
    if (sc_udp_sel(&sel)) pjsip_regc_set_transport(regc, &sel);
}

/* ---------- SUBSCRIBE ----------------------------------------------------------------- */

static void *sc_evsub_token(pjsip_evsub *sub)
{
    return sc_mod_app.id >= 0 ? pjsip_evsub_get_mod_data(sub, (unsigned) sc_mod_app.id) : NULL;
}

static void sc_evsub_on_state(pjsip_evsub *sub, pjsip_event *e)
{
    sc_client_result_t r;
    void *token = sc_evsub_token(sub);
    if (!token) return;
    pj_bzero(&r, sizeof(r));
    r.sub = sub;
    r.state_name = pjsip_evsub_get_state_name(sub);
    r.state = (int) pjsip_evsub_get_state(sub);
    if (e && e->type == PJSIP_EVENT_TSX_STATE && e->body.tsx_state.tsx) {
        pjsip_transaction *tsx = e->body.tsx_state.tsx;
        if (tsx->role == PJSIP_ROLE_UAC && tsx->status_code >= 200) {
            r.code = tsx->status_code;
            r.reason = tsx->status_text;
        }
        if (e->body.tsx_state.type == PJSIP_EVENT_RX_MSG)
            r.rdata = e->body.tsx_state.src.rdata;
    }
    if (r.state == PJSIP_EVSUB_STATE_TERMINATED) {
        const pj_str_t *why = pjsip_evsub_get_termination_reason(sub);
        if (why) r.termination_reason = *why;
        /* the evsub and its dialog go away after this: nothing more for this token */
        pjsip_evsub_set_mod_data(sub, (unsigned) sc_mod_app.id, NULL);
    }
    sc_py_on_client((uintptr_t) token, SC_CLIENT_EVSUB_STATE, &r);
}

static void sc_evsub_on_rx_notify(pjsip_evsub *sub, pjsip_rx_data *rdata, int *p_st_code,
                                  pj_str_t **p_st_text, pjsip_hdr *res_hdr,
                                  pjsip_msg_body **p_body)
{
    sc_client_result_t r;
    void *token = sc_evsub_token(sub);
    PJ_UNUSED_ARG(p_st_code); PJ_UNUSED_ARG(p_st_text); PJ_UNUSED_ARG(res_hdr);
    PJ_UNUSED_ARG(p_body);
    if (!token) return;
    pj_bzero(&r, sizeof(r));
    r.sub = sub;
    r.rdata = rdata;
    r.state_name = pjsip_evsub_get_state_name(sub);
    sc_py_on_client((uintptr_t) token, SC_CLIENT_EVSUB_NOTIFY, &r);
}

static pjsip_evsub_user sc_evsub_cb = {
    &sc_evsub_on_state, NULL, NULL, &sc_evsub_on_rx_notify, NULL, NULL
};

pj_status_t sc_evsub_create(pjsip_endpoint *endpt, uintptr_t token, const char *from,
                            const char *contact, const char *to, const char *event,
                            const char *route, pjsip_tpfactory *listener, const char *user,
                            const char *password, pjsip_evsub **p_sub)
{
    pjsip_dialog *dlg;
    pjsip_evsub *sub;
    pj_str_t lfrom, lcontact, lto, lev;
    pj_status_t st;
    PJ_UNUSED_ARG(endpt);
    lfrom = pj_str((char*) from);
    lcontact = pj_str((char*) contact);
    lto = pj_str((char*) to);
    st = pjsip_dlg_create_uac(pjsip_ua_instance(), &lfrom, &lcontact, &lto, NULL, &dlg);
    if (st != PJ_SUCCESS) return st;
    pjsip_dlg_inc_lock(dlg);
    pj_strdup2_with_null(dlg->pool, &lev, event);
    /* no ";id=" on the Event header: RFC 6665 uses it only for several subscriptions in one
     * dialog, and servers (kamailio) treat an unknown parameter as another event */
    st = pjsip_evsub_create_uac(dlg, &sc_evsub_cb, &lev, PJSIP_EVSUB_NO_EVENT_ID, &sub);
    if (st != PJ_SUCCESS) {
        pjsip_dlg_dec_lock(dlg);
        return st;
    }
    pjsip_evsub_set_mod_data(sub, (unsigned) sc_mod_app.id, (void*) token);
    st = sc_dlg_setup(dlg, route, listener, user, password);
    if (st != PJ_SUCCESS) {
        pjsip_evsub_set_mod_data(sub, (unsigned) sc_mod_app.id, NULL);
        pjsip_evsub_terminate(sub, PJ_FALSE);
        pjsip_dlg_dec_lock(dlg);
        return st;
    }
    pjsip_dlg_dec_lock(dlg);
    *p_sub = sub;
    return PJ_SUCCESS;
}

/* Give the subscription a header that PJSIP adds to every SUBSCRIBE it makes for it:
 * the initial one, the refreshes it sends on its own timer and the unsubscribe (the spec's
 * extra_headers: "added to any outgoing SUBSCRIBE request").  Parsed like
 * sc_tdata_add_header (typed headers come out typed) in a scratch pool; PJSIP keeps a
 * copy in the subscription's pool. */
pj_status_t sc_evsub_add_header(pjsip_endpoint *endpt, pjsip_evsub *sub, const char *name,
                                const char *value)
{
    pj_pool_t *pool;
    pj_str_t hname, hvalue;
    pjsip_hdr list, *parsed;
    pj_status_t st;
    pool = pjsip_endpt_create_pool(endpt, "schdr%p", 512, 512);
    if (!pool) return PJ_ENOMEM;
    pj_strdup2_with_null(pool, &hname, name);
    pj_strdup2_with_null(pool, &hvalue, value);
    parsed = (pjsip_hdr*) pjsip_parse_hdr(pool, &hname, hvalue.ptr, (pj_size_t) hvalue.slen,
                                          NULL);
    if (!parsed) {
        st = PJSIP_EINVALIDHDR;
    } else {
        /* pjsip_parse_hdr gives a ring of headers without a list head: give it one */
        pj_list_init(&list);
        pj_list_insert_nodes_before(&list, parsed);
        st = pjsip_evsub_add_header(sub, &list);
    }
    pjsip_endpt_release_pool(endpt, pool);
    return st;
}

/* Forget the token and end the subscription without telling anyone (Engine stop). */
void sc_evsub_abandon(pjsip_evsub *sub)
{
    pjsip_evsub_set_mod_data(sub, (unsigned) sc_mod_app.id, NULL);
    pjsip_evsub_terminate(sub, PJ_FALSE);
}

/* ---------- MESSAGE ------------------------------------------------------------------- */

/* One outgoing MESSAGE from sc_msg_send() to its single report (sc_py_on_message_final):
 * the request (kept for the re-send with credentials), the digest session, the current
 * transaction and the optional timeout.  The whole life of a MESSAGE is here, so Python is
 * called once per request, with the outcome; malloc'd, freed just before that report or by
 * sc_msg_cancel(). */
struct sc_msg_s {
    uintptr_t token;
    pjsip_endpoint *endpt;
    pjsip_tx_data *tdata;          /* our reference to the request */
    pjsip_transaction *tsx;        /* the current transaction (NULL once it is final) */
    pjsip_tpfactory *listener;     /* TCP/TLS listener to send through, or NULL */
    int any_transport;             /* no transport selector: resolving the name chooses it */
    int failovers;                 /* re-sends to the next resolved address so far */
    pj_pool_t *pool;               /* for the digest session, only with a password */
    pjsip_auth_clt_sess auth;
    int tries;                     /* re-sends with credentials so far (at most 2) */
    int sending;                   /* inside pjsip_tsx_send_msg: a final state is only noted */
    int noted_code;                /* ... here (a transport error found while sending) */
    pj_status_t noted_err;
    char noted_reason[96];
    int timer_on;
    pj_timer_entry timer;          /* the optional timeout */
};

static void sc_msg_free(sc_msg_t *m)
{
    if (m->timer_on) {
        m->timer_on = 0;
        pjsip_endpt_cancel_timer(m->endpt, &m->timer);
    }
    if (m->tsx) {                  /* still running: end it without a report */
        pjsip_transaction *tsx = m->tsx;
        m->tsx = NULL;
        tsx->mod_data[sc_mod_app.id] = NULL;
        pjsip_tsx_terminate(tsx, PJSIP_SC_REQUEST_TIMEOUT);
    }
    if (m->tdata) pjsip_tx_data_dec_ref(m->tdata);
    if (m->pool) pjsip_endpt_release_pool(m->endpt, m->pool);
    free(m);
}

/* Free the MESSAGE, then tell Python (which may send the next one to the same URI). */
static void sc_msg_report(sc_msg_t *m, int code, const char *reason, pj_ssize_t len,
                          pj_status_t err)
{
    char buf[128];
    uintptr_t token = m->token;
    if (len < 0) len = 0;
    if (len > (pj_ssize_t) sizeof(buf)) len = sizeof(buf);
    memcpy(buf, reason, (size_t) len);
    sc_msg_free(m);
    sc_py_on_message_final(token, code, buf, (int) len, err);
}

static void sc_msg_report_noted(sc_msg_t *m)
{
    sc_msg_report(m, m->noted_code, m->noted_reason, (pj_ssize_t) strlen(m->noted_reason),
                  m->noted_err);
}

static pj_status_t sc_msg_tsx_send(sc_msg_t *m)
{
    pjsip_transaction *tsx;
    pj_status_t st = pjsip_tsx_create_uac(&sc_mod_app, m->tdata, &tsx);
    if (st != PJ_SUCCESS) return st;
    m->tsx = tsx;
    tsx->mod_data[sc_mod_app.id] = m;
    if (m->listener) {
        pjsip_tpselector sel;
        sc_listener_sel(&sel, m->listener);
        pjsip_tsx_set_transport(tsx, &sel);
    } else if (!m->any_transport) {            /* UDP: the current one (see glue.c) */
        pjsip_tpselector sel;
        if (sc_udp_sel(&sel)) pjsip_tsx_set_transport(tsx, &sel);
    }
    pjsip_tx_data_add_ref(m->tdata);           /* consumed by a successful send */
    m->sending = 1;
    st = pjsip_tsx_send_msg(tsx, NULL);
    m->sending = 0;
    if (st != PJ_SUCCESS) {
        pjsip_tx_data_dec_ref(m->tdata);
        if (m->tsx) {                          /* failed without reaching a final state */
            m->tsx = NULL;
            tsx->mod_data[sc_mod_app.id] = NULL;
            pjsip_tsx_terminate(tsx, PJSIP_SC_SERVICE_UNAVAILABLE);
        }
    }
    return st;
}

/* Point the request at the next address its destination resolved to; 0 when none is left. */
static int sc_msg_next_address(sc_msg_t *m)
{
    pjsip_tx_data *tdata = m->tdata;
    pjsip_via_hdr *via;
    if (tdata->dest_info.addr.count == 0 ||
        tdata->dest_info.cur_addr + 1 >= tdata->dest_info.addr.count ||
        m->failovers >= (int) PJSIP_MAX_RESOLVED_ADDRESSES)
        return 0;
    tdata->dest_info.cur_addr++;
    m->failovers++;
    via = (pjsip_via_hdr *) pjsip_msg_find_hdr(tdata->msg, PJSIP_H_VIA, NULL);
    if (via) via->branch_param.slen = 0;      /* a new transaction: a new branch */
    pjsip_tx_data_invalidate_msg(tdata);
    return 1;
}

void sc_msg_on_final(sc_msg_t *m, pjsip_transaction *tsx, pjsip_rx_data *rdata)
{
    pjsip_tx_data *tdata;
    pj_status_t st;
    int code = tsx->status_code;
    m->tsx = NULL;
    /* A non-INVITE client transaction never sends its request again once it has a final
     * response: in Completed it only absorbs retransmitted responses until Timer K (5 s on
     * UDP, RFC 3261 17.1.2.2).  PJSIP keeps the request until then all the same (pjsip's
     * comment: "for authorization" -- we keep our own reference for that), so a burst of
     * MESSAGEs held three fresh pages per request for 5 s.  Let it go now; its memory is
     * used again by the next request at once. */
    if (tsx->state == PJSIP_TSX_STATE_COMPLETED && tsx->last_tx) {
        pjsip_tx_data_dec_ref(tsx->last_tx);
        tsx->last_tx = NULL;
    }
    if (m->sending) {                          /* sc_msg_tsx_send() reports it */
        pj_ssize_t n = tsx->status_text.slen;
        if (n >= (pj_ssize_t) sizeof(m->noted_reason)) n = sizeof(m->noted_reason) - 1;
        if (n < 0) n = 0;
        memcpy(m->noted_reason, tsx->status_text.ptr, (size_t) n);
        m->noted_reason[n] = 0;
        m->noted_code = code;
        m->noted_err = tsx->transport_err;
        return;
    }
    if ((code == 401 || code == 407) && m->pool && m->tries < 2 && rdata &&
        pjsip_auth_clt_reinit_req(&m->auth, rdata, m->tdata, &tdata) == PJ_SUCCESS) {
        m->tries++;
        pjsip_tx_data_dec_ref(m->tdata);
        m->tdata = tdata;
        st = sc_msg_tsx_send(m);
        if (m->noted_code) sc_msg_report_noted(m);
        else if (st != PJ_SUCCESS) sc_msg_report(m, 503, "Service Unavailable", 19, st);
        return;
    }
    /* RFC 3263 4.3: a 503 or a timeout (408 from the transaction: Timer F; a transport
     * error is a 503 here) moves on to the next address the name resolved to.  PJSIP only
     * does that by itself for a transport error while sending.  The same request goes again
     * in a new transaction (a new branch), to dest_info's next address. */
    if ((code == 503 || code == 408) && sc_msg_next_address(m)) {
        st = sc_msg_tsx_send(m);
        if (m->noted_code) sc_msg_report_noted(m);
        else if (st != PJ_SUCCESS) sc_msg_report(m, 503, "Service Unavailable", 19, st);
        return;
    }
    sc_msg_report(m, code, tsx->status_text.ptr, tsx->status_text.slen, tsx->transport_err);
}

static void sc_msg_on_timeout(pj_timer_heap_t *heap, pj_timer_entry *e)
{
    static const char reason[] = "Request Timeout (no final response within the timeout)";
    sc_msg_t *m = (sc_msg_t*) e->user_data;
    PJ_UNUSED_ARG(heap);
    m->timer_on = 0;
    sc_msg_report(m, 408, reason, sizeof(reason) - 1, PJ_SUCCESS);
}

/* Build a MESSAGE from req (its destination and sender, sipcore.h: sc_msg_request_t) and
 * the request's own parts, and send it in a client transaction, through listener if given.
 * headers: a headers list (sipcore.h, flat formats) or NULL.  With a password, a 401/407 is
 * answered with digest credentials (twice at most: a stale nonce).  timeout_ms > 0 ends it
 * with 408 after that time.  On PJ_SUCCESS exactly one sc_py_on_message_final(token, ...)
 * follows (possibly before this returns: a transport error found while sending) and *p_msg
 * is the handle for sc_msg_cancel(), or NULL when that report was already made.  On an error
 * nothing is reported and nothing is left behind. */
pj_status_t sc_msg_send(pjsip_endpoint *endpt, uintptr_t token, pjsip_tpfactory *listener,
                        const sc_msg_request_t *req, const char *body, unsigned body_len,
                        const char *headers, const char *password, unsigned timeout_ms,
                        sc_msg_t **p_msg)
{
    static const pj_str_t method_name = { "MESSAGE", 7 };
    pjsip_method method;
    pj_str_t t, f, o;
    pj_status_t st;
    sc_msg_t *m = (sc_msg_t*) calloc(1, sizeof(*m));
    *p_msg = NULL;
    if (!m) return PJ_ENOMEM;
    m->token = token;
    m->endpt = endpt;
    m->listener = listener;
    m->any_transport = req->any_transport;
    pjsip_method_init_np(&method, (pj_str_t*) &method_name);
    t = pj_str((char*) req->target);
    f = pj_str((char*) req->from_hdr);
    o = pj_str((char*) req->to_hdr);
    st = pjsip_endpt_create_request(endpt, &method, &t, &f, &o, NULL, NULL, -1, NULL, &m->tdata);
    if (st == PJ_SUCCESS && req->route_hdr && *req->route_hdr)
        st = sc_tdata_add_header(m->tdata, "Route", req->route_hdr);
    if (st == PJ_SUCCESS && headers)
        st = sc_tdata_add_headers(m->tdata, headers);
    if (st == PJ_SUCCESS)
        st = sc_tdata_set_body(m->tdata, req->type, req->subtype, body, body_len);
    if (st == PJ_SUCCESS && password) {
        pjsip_cred_info cred;
        m->pool = pjsip_endpt_create_pool(endpt, "message", 512, 512);
        st = m->pool ? pjsip_auth_clt_init(&m->auth, endpt, m->pool, 0) : PJ_ENOMEM;
        if (st == PJ_SUCCESS) {
            sc_cred(m->pool, &cred, req->user, password);
            st = pjsip_auth_clt_set_credentials(&m->auth, 1, &cred);
        }
    }
    if (st == PJ_SUCCESS && timeout_ms) {
        pj_time_val delay;
        delay.sec = (long) (timeout_ms / 1000);
        delay.msec = (long) (timeout_ms % 1000);
        pj_timer_entry_init(&m->timer, 0, m, &sc_msg_on_timeout);
        st = pjsip_endpt_schedule_timer(endpt, &m->timer, &delay);
        m->timer_on = st == PJ_SUCCESS;
    }
    if (st == PJ_SUCCESS) st = sc_msg_tsx_send(m);
    if (m->noted_code) {
        sc_msg_report_noted(m);
        return PJ_SUCCESS;
    }
    if (st != PJ_SUCCESS) {
        sc_msg_free(m);
        return st;
    }
    *p_msg = m;
    return PJ_SUCCESS;
}

/* End a MESSAGE without a report (the Engine is stopping; Python tells the application). */
void sc_msg_cancel(sc_msg_t *m)
{
    if (m) sc_msg_free(m);
}
