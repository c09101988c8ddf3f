/* sipcore glue for the client primitives: REGISTER (pjsip_regc), PUBLISH (pjsip_publishc)
 * and SUBSCRIBE (pjsip_evsub over a UAC dialog).
 *
 * Each PJSIP callback is flattened into an sc_client_result_t and handed to one
 * extern "Python" trampoline with the object's token (an integer, see _pj.Handles).
 * Everything here runs on the poll thread.
 */

/* ---------- REGISTER ------------------------------------------------------------------ */

static void sc_regc_cb(struct pjsip_regc_cbparam *p)
{
    sc_client_result_t r;
    pj_bzero(&r, sizeof(r));
    r.status = p->status;
    r.code = p->code;
    r.reason = p->reason;
    r.expiration = p->expiration;
    r.contact_cnt = p->contact_cnt;
    r.contacts = p->contact;
    r.is_unreg = p->is_unreg;
    r.rdata = p->rdata;
    sc_py_on_client(p->token, SC_CLIENT_REGC, &r);
}

pj_status_t sc_regc_create(pjsip_endpoint *endpt, void *token, const char *registrar,
                           const char *aor, const char *contact, unsigned expires,
                           const char *route, pjsip_tpfactory *listener, const char *user,
                           const char *password, pjsip_regc **p_regc)
{
    pjsip_regc *regc;
    pj_pool_t *pool;
    pj_str_t srv, from, cont;
    pjsip_route_hdr rs;
    pj_status_t st = pjsip_regc_create(endpt, token, &sc_regc_cb, &regc);
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
    pj_bzero(&r, sizeof(r));
    r.status = p->status;
    r.code = p->code;
    r.reason = p->reason;
    r.expiration = p->expiration;
    r.rdata = p->rdata;
    sc_py_on_client(p->token, SC_CLIENT_PUBLISHC, &r);
}

pj_status_t sc_publishc_create(pjsip_endpoint *endpt, void *token, const char *event,
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
    st = pjsip_publishc_create(endpt, &opt, token, &sc_publishc_cb, &pubc);
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

/* Make a request leave through this listener (TCP/TLS). */
void sc_tdata_use_listener(pjsip_tx_data *tdata, pjsip_tpfactory *listener)
{
    pjsip_tpselector sel;
    if (!listener) return;
    sc_listener_sel(&sel, listener);
    pjsip_tx_data_set_transport(tdata, &sel);
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
    sc_py_on_client(token, SC_CLIENT_EVSUB_STATE, &r);
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
    sc_py_on_client(token, SC_CLIENT_EVSUB_NOTIFY, &r);
}

static pjsip_evsub_user sc_evsub_cb = {
    &sc_evsub_on_state, NULL, NULL, &sc_evsub_on_rx_notify, NULL, NULL
};

pj_status_t sc_evsub_create(pjsip_endpoint *endpt, void *token, const char *from,
                            const char *contact, const char *to, const char *event,
                            const char *route, pjsip_tpfactory *listener, const char *user,
                            const char *password, pjsip_evsub **p_sub)
{
    pjsip_dialog *dlg;
    pjsip_evsub *sub;
    pj_str_t lfrom, lcontact, lto, lev;
    pjsip_route_hdr rs;
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
    pjsip_evsub_set_mod_data(sub, (unsigned) sc_mod_app.id, token);
    st = sc_route_set(dlg->pool, route, &rs);
    if (st == PJ_SUCCESS && !pj_list_empty(&rs)) st = pjsip_dlg_set_route_set(dlg, &rs);
    if (st == PJ_SUCCESS && password) {
        pjsip_cred_info cred;
        sc_cred(dlg->pool, &cred, user, password);
        st = pjsip_auth_clt_set_credentials(&dlg->auth_sess, 1, &cred);
    }
    if (st == PJ_SUCCESS && listener) {
        pjsip_tpselector sel;
        sc_listener_sel(&sel, listener);
        st = pjsip_dlg_set_transport(dlg, &sel);
    }
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

/* Forget the token and end the subscription without telling anyone (Engine stop). */
void sc_evsub_abandon(pjsip_evsub *sub)
{
    pjsip_evsub_set_mod_data(sub, (unsigned) sc_mod_app.id, NULL);
    pjsip_evsub_terminate(sub, PJ_FALSE);
}
