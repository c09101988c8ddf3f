/* glue_rtp.c -- the media worker thread and RTPTransport's pjmedia transports.
 *
 * The media worker
 *   RTP needs a thread that never waits for Python: the poll thread runs Python (notification
 *   receivers, application code), so RTP sockets are not on the SIP ioqueue.  The media
 *   endpoint that serves the codec manager and the streams stays on the SIP ioqueue with no
 *   worker (idle RSS: an ioqueue sized for PJ_IOQUEUE_MAX_HANDLES costs 1.9 MB); the first
 *   RTPTransport creates the "RTP endpoint": a second pjmedia endpoint with its own ioqueue,
 *   no codecs, a timer heap (ICE and STUN run timers), and one C thread polling both; and
 *   pjmedia's event manager (streams subscribe to their codec's events; it has a thread).  The
 *   transports' sockets live on that ioqueue, so every RTP/RTCP packet is received, decrypted
 *   (SRTP) and handed to its stream (jitter buffer, DTMF) on that thread.  It stops in the
 *   UA's teardown (sc_media_worker_stop), after every transport is closed.
 *
 * Transports (sc_rtp_t)
 *   A UDP pair (RTP on an even port, RTCP on the next) from the Engine's rtp_port_range, or
 *   an ICE transport with an optional STUN candidate, optionally wrapped in SRTP (SDES).
 *   Everything here runs on the poll thread, except the ICE callback (the worker thread),
 *   which only queues an event (sc_media_event).  The negotiation steps follow pjmedia's
 *   transport API: media_create + encode_sdp (set_LOCAL, or set_ESTABLISHED from INIT),
 *   media_start (set_ESTABLISHED), media_stop (set_INIT again).  The SDPs of one negotiation
 *   live in the transport's own pool (sc_rtp_pool), renewed by each set_INIT, because SRTP
 *   and ICE may keep pointers into them until media_stop.
 */
#include "glue.h"

#include <pjmedia/transport_ice.h>
#include <pjmedia/transport_srtp.h>

/* ---- the media worker -------------------------------------------------------------------- */

static pjmedia_endpt *worker_endpt;
static pj_timer_heap_t *worker_timers;
static pj_pool_t *worker_pool;
static pj_thread_t *worker_thread;
static volatile int worker_quit;
static pj_pool_factory *worker_pf;
static pj_pool_t *worker_ioq_pool;      /* the worker ioqueue's keys (see sc_media_worker_start) */
static pj_ioqueue_t *worker_ioq;
static pjmedia_event_mgr *event_mgr;    /* streams subscribe to codec events: one must exist */

static int worker_main(void *arg)
{
    pj_ioqueue_t *ioq = pjmedia_endpt_get_ioqueue(worker_endpt);
    (void) arg;
    while (!worker_quit) {
        pj_time_val timeout = {0, 10};
        pj_time_val next = {0, 0};
        pj_timer_heap_poll(worker_timers, &next);
        if (next.sec == 0 && next.msec < timeout.msec)
            timeout = next;
        pj_ioqueue_poll(ioq, &timeout);
    }
    return 0;
}

/* After the endpoint (it does not own the ioqueue). */
static void worker_ioq_free(void)
{
    pj_ioqueue_destroy(worker_ioq);
    worker_ioq = NULL;
    pj_pool_release(worker_ioq_pool);
    worker_ioq_pool = NULL;
}

pj_status_t sc_media_worker_start(pj_pool_factory *pf)
{
    pj_status_t status;
    if (worker_thread != NULL)
        return PJ_SUCCESS;
    worker_pf = pf;
    status = pjnath_init();     /* its error texts (STUN/ICE failures name them) */
    if (status != PJ_SUCCESS)
        return status;
    /* The ioqueue is made here, not by pjmedia_endpt_create2: in the endpoint's pool (512-byte
     * blocks) its PJ_IOQUEUE_MAX_HANDLES keys and their locks took one block each, and each
     * allocation scanned every block before it (pj_pool_allocate_find): 180 million
     * instructions, 0.1-0.2 s, in the first RTPTransport.  64 KiB blocks: 0.3 million. */
    worker_ioq_pool = pj_pool_create(pf, "sc-media-ioq", 64 * 1024, 64 * 1024, NULL);
    if (worker_ioq_pool == NULL)
        return PJ_ENOMEM;
    status = pj_ioqueue_create(worker_ioq_pool, PJ_IOQUEUE_MAX_HANDLES, &worker_ioq);
    if (status == PJ_SUCCESS)
        status = pjmedia_endpt_create2(pf, worker_ioq, 0, &worker_endpt);
    if (status != PJ_SUCCESS) {
        if (worker_ioq)
            pj_ioqueue_destroy(worker_ioq);
        worker_ioq = NULL;
        pj_pool_release(worker_ioq_pool);
        worker_ioq_pool = NULL;
        return status;
    }
    worker_pool = pj_pool_create(pf, "sc-media-worker", 1024, 1024, NULL);
    if (worker_pool == NULL) {
        status = PJ_ENOMEM;
        goto fail;
    }
    status = pj_timer_heap_create(worker_pool, 256, &worker_timers);
    if (status != PJ_SUCCESS)
        goto fail;
    status = pjmedia_event_mgr_create(worker_pool, 0, &event_mgr);
    if (status != PJ_SUCCESS)
        goto fail;
    worker_quit = 0;
    status = pj_thread_create(worker_pool, "sc-media", &worker_main, NULL, 0, 0, &worker_thread);
    if (status != PJ_SUCCESS)
        goto fail;
    return PJ_SUCCESS;
fail:
    worker_thread = NULL;
    if (event_mgr)
        pjmedia_event_mgr_destroy(event_mgr);
    event_mgr = NULL;
    if (worker_timers)
        pj_timer_heap_destroy(worker_timers);
    worker_timers = NULL;
    if (worker_pool)
        pj_pool_release(worker_pool);
    worker_pool = NULL;
    pjmedia_endpt_destroy2(worker_endpt);
    worker_endpt = NULL;
    worker_ioq_free();
    return status;
}

void sc_media_worker_stop(void)
{
    if (worker_thread == NULL)
        return;
    worker_quit = 1;
    pj_thread_join(worker_thread);
    pj_thread_destroy(worker_thread);
    worker_thread = NULL;
    pjmedia_event_mgr_destroy(event_mgr);
    event_mgr = NULL;
    pj_timer_heap_destroy(worker_timers);
    worker_timers = NULL;
    pjmedia_endpt_destroy2(worker_endpt);
    worker_endpt = NULL;
    worker_ioq_free();
    pj_pool_release(worker_pool);
    worker_pool = NULL;
}

int sc_media_worker_running(void)
{
    return worker_thread != NULL;
}

/* ---- transports ------------------------------------------------------------------------- */

struct sc_rtp_s {
    pjmedia_transport *tp;          /* the outermost transport (SRTP when used) */
    pj_pool_t *pool;                /* the SDPs of the current negotiation; NULL: none */
    uintptr_t token;
    int media_created;              /* media_create done, media_stop not yet */
};

/* The pairs ICE chose, one line per component (1 RTP, 2 RTCP):
 * "<comp> <local type> <local ip> <local port> <remote type> <remote ip> <remote port>\n".
 * On success these are the nominated pairs (pjnath completes only when every component has
 * one).  Called on the worker thread, from ICE's own callback. */
static void chosen_pairs(pjmedia_transport *tp, char *out, size_t size)
{
    pjmedia_transport_info info;
    unsigned i, c;
    size_t used = 0;
    out[0] = '\0';
    pjmedia_transport_info_init(&info);
    if (pjmedia_transport_get_info(tp, &info) != PJ_SUCCESS)
        return;
    for (i = 0; i < info.specific_info_cnt; i++) {
        pjmedia_ice_transport_info ice;      /* copied: the buffer is not aligned for it */
        if (info.spc_info[i].type != PJMEDIA_TRANSPORT_TYPE_ICE)
            continue;
        pj_memcpy(&ice, info.spc_info[i].buffer, sizeof(ice));
        for (c = 0; c < ice.comp_cnt && c < PJ_ARRAY_SIZE(ice.comp); c++) {
            char la[PJ_INET6_ADDRSTRLEN], ra[PJ_INET6_ADDRSTRLEN];
            int n;
            if (!pj_sockaddr_has_addr(&ice.comp[c].lcand_addr))
                continue;           /* no valid pair for this component */
            pj_sockaddr_print(&ice.comp[c].lcand_addr, la, sizeof(la), 0);
            pj_sockaddr_print(&ice.comp[c].rcand_addr, ra, sizeof(ra), 0);
            n = snprintf(out + used, size - used, "%u %s %s %u %s %s %u\n", c + 1,
                         pj_ice_get_cand_type_name(ice.comp[c].lcand_type), la,
                         pj_sockaddr_get_port(&ice.comp[c].lcand_addr),
                         pj_ice_get_cand_type_name(ice.comp[c].rcand_type), ra,
                         pj_sockaddr_get_port(&ice.comp[c].rcand_addr));
            if (n < 0 || (size_t) n >= size - used)
                return;
            used += (size_t) n;
        }
    }
}

static void on_ice_complete2(pjmedia_transport *tp, pj_ice_strans_op op, pj_status_t status,
                             void *user_data)
{
    /* the worker thread: no pjlib call on sc_rtp_t, no Python */
    if (op == PJ_ICE_STRANS_OP_INIT) {
        sc_media_event((uintptr_t) user_data, SC_MEDIA_ICE_INIT, 0, status, NULL);
    } else if (op == PJ_ICE_STRANS_OP_NEGOTIATION) {
        char pairs[256];
        chosen_pairs(tp, pairs, sizeof(pairs));
        sc_media_event((uintptr_t) user_data, SC_MEDIA_ICE_NEG, 0, status, pairs);
    }
}

static pj_status_t create_udp(const sc_rtp_opts_t *o, pjmedia_transport **tp, int *port)
{
    int p, first, count, span;
    pj_status_t status = PJ_EINVAL;
    pj_str_t addr = pj_str((char *) o->address);
    int af = strchr(o->address, ':') ? pj_AF_INET6() : pj_AF_INET();
    int lo = (o->port_min + 1) & ~1, hi = o->port_max;
    span = (hi - lo) / 2;           /* even ports p with p + 1 <= hi */
    if (span <= 0)
        return PJ_ETOOSMALL;
    first = (int) (pj_rand() % (unsigned) span);
    for (count = 0; count < span; count++) {
        p = lo + 2 * ((first + count) % span);
        status = pjmedia_transport_udp_create3(worker_endpt, af, "sc-rtp", &addr, p, 0, tp);
        if (status == PJ_SUCCESS) {
            *port = p;
            return PJ_SUCCESS;
        }
        /* busy: try the next pair; anything else is an error of its own */
        if (status != PJ_STATUS_FROM_OS(EADDRINUSE) && status != PJ_STATUS_FROM_OS(EACCES))
            return status;
    }
    return status;
}

static pj_status_t create_ice(const sc_rtp_opts_t *o, pjmedia_transport **tp)
{
    pj_ice_strans_cfg cfg;
    pjmedia_ice_cb cb;
    pj_status_t status;
    int af = strchr(o->address, ':') ? pj_AF_INET6() : pj_AF_INET();
    pj_ice_strans_cfg_default(&cfg);
    pj_stun_config_init(&cfg.stun_cfg, worker_pf, 0, pjmedia_endpt_get_ioqueue(worker_endpt),
                        worker_timers);
    cfg.af = af;
    cfg.stun_tp_cnt = 1;
    pj_ice_strans_stun_cfg_default(&cfg.stun_tp[0]);
    cfg.stun_tp[0].af = af;
    cfg.stun_tp[0].loop_addr = PJ_TRUE;  /* loopback host candidates too (bound to one) */
    pj_sockaddr_init(af, &cfg.stun_tp[0].cfg.bound_addr, NULL, 0);
    {
        pj_str_t addr = pj_str((char *) o->address);
        pj_sockaddr_set_str_addr(af, &cfg.stun_tp[0].cfg.bound_addr, &addr);
    }
    cfg.stun_tp[0].cfg.port_range = (pj_uint16_t) (o->port_max - o->port_min);
    pj_sockaddr_set_port(&cfg.stun_tp[0].cfg.bound_addr, (pj_uint16_t) o->port_min);
    if (o->stun_address != NULL && o->stun_address[0]) {
        cfg.stun_tp[0].server = pj_str((char *) o->stun_address);
        cfg.stun_tp[0].port = (pj_uint16_t) o->stun_port;
    }
    pj_bzero(&cb, sizeof(cb));
    status = pjmedia_ice_create3(worker_endpt, "sc-ice", 2, &cfg, &cb, 0, NULL, tp);
    if (status != PJ_SUCCESS)
        return status;
    /* pjmedia 2.12 reports the end of candidate gathering to the listeners added with
     * pjmedia_ice_add_ice_cb, not to create3's callback.  Gathering may end before the
     * listener is added (host candidates only: at once), so the state is checked after:
     * an event may then come twice, and RTPTransport takes the first. */
    cb.on_ice_complete2 = &on_ice_complete2;
    status = pjmedia_ice_add_ice_cb(*tp, &cb, (void *) o->token);
    if (status != PJ_SUCCESS) {
        pjmedia_transport_close(*tp);
        return status;
    }
    {
        pjmedia_transport_info info;
        unsigned i;
        pjmedia_transport_info_init(&info);
        if (pjmedia_transport_get_info(*tp, &info) == PJ_SUCCESS) {
            for (i = 0; i < info.specific_info_cnt; i++) {
                pjmedia_ice_transport_info ice;  /* copied: the buffer is not aligned */
                if (info.spc_info[i].type != PJMEDIA_TRANSPORT_TYPE_ICE)
                    continue;
                pj_memcpy(&ice, info.spc_info[i].buffer, sizeof(ice));
                if (ice.sess_state == PJ_ICE_STRANS_STATE_FAILED)
                    sc_media_event(o->token, SC_MEDIA_ICE_INIT, 0, PJNATH_ESTUNTIMEDOUT, NULL);
                else if (ice.sess_state >= PJ_ICE_STRANS_STATE_READY)
                    sc_media_event(o->token, SC_MEDIA_ICE_INIT, 0, PJ_SUCCESS, NULL);
            }
        }
    }
    return PJ_SUCCESS;
}

pj_status_t sc_rtp_create(const sc_rtp_opts_t *o, sc_rtp_t **out, int *port)
{
    pj_status_t status;
    pjmedia_transport *tp = NULL;
    sc_rtp_t *r;
    *port = 0;
    if (worker_endpt == NULL)
        return PJ_EINVALIDOP;
    r = (sc_rtp_t *) calloc(1, sizeof(*r));
    if (r == NULL)
        return PJ_ENOMEM;
    r->token = o->token;
    status = o->use_ice ? create_ice(o, &tp) : create_udp(o, &tp, port);
    if (status != PJ_SUCCESS) {
        free(r);
        return status;
    }
    if (o->use_srtp) {
        pjmedia_srtp_setting opt;
        pjmedia_transport *srtp;
        pjmedia_srtp_setting_default(&opt);
        opt.use = o->srtp_forced ? PJMEDIA_SRTP_MANDATORY : PJMEDIA_SRTP_OPTIONAL;
        opt.close_member_tp = PJ_TRUE;
        opt.keying_count = 1;
        opt.keying[0] = PJMEDIA_SRTP_KEYING_SDES;
        status = pjmedia_transport_srtp_create(worker_endpt, tp, &opt, &srtp);
        if (status != PJ_SUCCESS) {
            pjmedia_transport_close(tp);
            free(r);
            return status;
        }
        tp = srtp;
    }
    r->tp = tp;
    *out = r;
    return PJ_SUCCESS;
}

pj_pool_t *sc_rtp_pool(sc_rtp_t *r)
{
    if (r->pool == NULL)
        r->pool = pj_pool_create(worker_pf, "sc-rtp-sdp", 4096, 4096, NULL);
    return r->pool;
}

pjmedia_transport *sc_rtp_transport(sc_rtp_t *r)
{
    return r->tp;
}

static pj_status_t media_create(sc_rtp_t *r, const pjmedia_sdp_session *remote, unsigned idx)
{
    pj_status_t status = pjmedia_transport_media_create(r->tp, sc_rtp_pool(r), 0, remote, idx);
    if (status == PJ_SUCCESS)
        r->media_created = 1;
    return status;
}

void sc_rtp_reset(sc_rtp_t *r)
{
    if (r->media_created) {
        pjmedia_transport_media_stop(r->tp);
        r->media_created = 0;
    }
    if (r->pool != NULL) {
        pj_pool_release(r->pool);
        r->pool = NULL;
    }
}

pj_status_t sc_rtp_set_local(sc_rtp_t *r, pjmedia_sdp_session *local, unsigned idx)
{
    pj_status_t status;
    if (!r->media_created && (status = media_create(r, NULL, idx)) != PJ_SUCCESS)
        return status;
    status = pjmedia_transport_encode_sdp(r->tp, sc_rtp_pool(r), local, NULL, idx);
    if (status != PJ_SUCCESS)
        sc_rtp_reset(r);
    return status;
}

pj_status_t sc_rtp_set_established(sc_rtp_t *r, pjmedia_sdp_session *local,
                                   const pjmedia_sdp_session *remote, unsigned idx,
                                   int answering)
{
    pj_status_t status;
    if (answering) {
        if ((status = media_create(r, remote, idx)) != PJ_SUCCESS)
            goto fail;
        status = pjmedia_transport_encode_sdp(r->tp, sc_rtp_pool(r), local, remote, idx);
        if (status != PJ_SUCCESS)
            goto fail;
    } else if (!r->media_created) {
        return PJ_EINVALIDOP;   /* a failed start reset it: set_INIT and negotiate again */
    }
    status = pjmedia_transport_media_start(r->tp, sc_rtp_pool(r), local, remote, idx);
    if (status == PJ_SUCCESS)
        return PJ_SUCCESS;
fail:
    sc_rtp_reset(r);
    return status;
}

void sc_rtp_info(sc_rtp_t *r, sc_rtp_info_t *out)
{
    pjmedia_transport_info info;
    unsigned i;
    pj_bzero(out, sizeof(*out));
    pjmedia_transport_info_init(&info);
    if (pjmedia_transport_get_info(r->tp, &info) != PJ_SUCCESS)
        return;
    pj_sockaddr_print(&info.sock_info.rtp_addr_name, out->local_ip, sizeof(out->local_ip), 0);
    out->local_port = pj_sockaddr_get_port(&info.sock_info.rtp_addr_name);
    if (pj_sockaddr_has_addr(&info.src_rtp_name)) {
        pj_sockaddr_print(&info.src_rtp_name, out->rx_ip, sizeof(out->rx_ip), 0);
        out->rx_port = pj_sockaddr_get_port(&info.src_rtp_name);
    }
    /* The transports memcpy their info into spc_info[i].buffer, a char array that need not be
     * aligned for the struct (pjmedia_transport_specific_info holds only ints and chars): read
     * it back the same way (a cast was a misaligned access, found by UBSan: make asan). */
    for (i = 0; i < info.specific_info_cnt; i++) {
        if (info.spc_info[i].type == PJMEDIA_TRANSPORT_TYPE_SRTP) {
            pjmedia_srtp_info s;
            pj_memcpy(&s, info.spc_info[i].buffer, sizeof(s));
            out->srtp_active = s.active ? 1 : 0;
        } else if (info.spc_info[i].type == PJMEDIA_TRANSPORT_TYPE_ICE) {
            pjmedia_ice_transport_info ice;
            pj_memcpy(&ice, info.spc_info[i].buffer, sizeof(ice));
            /* pjmedia's "active" means ICE was started; it stays so when the checks fail */
            out->ice_active = ice.active && ice.sess_state == PJ_ICE_STRANS_STATE_RUNNING;
            out->ice_state = (int) ice.sess_state;
        }
    }
}

void sc_rtp_destroy(sc_rtp_t *r)
{
    if (r == NULL)
        return;
    sc_rtp_reset(r);
    pjmedia_transport_close(r->tp);   /* SRTP closes its member */
    free(r);
}
