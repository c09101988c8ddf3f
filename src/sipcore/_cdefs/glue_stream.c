/* glue_stream.c -- AudioTransport's pjmedia_stream, the local audio m= line and SDP negotiation
 * of one media line.  The audio bridge (glue_bridge.c) clocks the stream's port.
 *
 * Threads: everything here runs on the poll thread, except the stream's DTMF callback (the
 * media worker, glue_rtp.c), which only queues an event (sc_media_event).
 */
#include "glue.h"

struct sc_stream_s {
    pjmedia_stream *stream;
    pj_pool_t *pool;
    uintptr_t token;
};

/* A session holding the local audio m= line for an RTP transport (its address in o= and c=),
 * with the codecs the codec manager has enabled now (the caller sets their priorities around
 * the call).  As AudioTransport.get_local_media gives it: every direction attribute of the
 * line replaced by one `direction` at its end; `proto` (unless NULL) as its transport. */
pj_status_t sc_audio_local_media(pjmedia_endpt *endpt, pj_pool_t *pool, sc_rtp_t *rtp,
                                 const char *direction, const char *proto,
                                 pjmedia_sdp_session **p_sdp)
{
    static const char *const dirs[] = { "sendrecv", "sendonly", "recvonly", "inactive" };
    pjmedia_transport_info info;
    pjmedia_sdp_media *m;
    pjmedia_sdp_attr *attr;
    pj_status_t status;
    unsigned i;
    pjmedia_transport_info_init(&info);
    status = pjmedia_transport_get_info(sc_rtp_transport(rtp), &info);
    if (status == PJ_SUCCESS)
        status = pjmedia_endpt_create_base_sdp(endpt, pool, NULL,
                                               &info.sock_info.rtp_addr_name, p_sdp);
    if (status == PJ_SUCCESS)
        status = pjmedia_endpt_create_audio_sdp(endpt, pool, &info.sock_info, NULL, &m);
    if (status != PJ_SUCCESS)
        return status;
    for (i = 0; i < PJ_ARRAY_SIZE(dirs); i++)
        pjmedia_sdp_media_remove_all_attr(m, dirs[i]);
    if (m->attr_count >= PJMEDIA_MAX_SDP_ATTR)    /* (add_attr would assert) */
        return PJ_ETOOMANY;
    attr = pjmedia_sdp_attr_create(pool, direction, NULL);
    if (attr == NULL)
        return PJ_ENOMEM;
    m->attr[m->attr_count++] = attr;
    if (proto != NULL)
        pj_strdup2(pool, &m->desc.transport, proto);
    (*p_sdp)->media[(*p_sdp)->media_count++] = m;
    return PJ_SUCCESS;
}

/* Media line `idx` of `s` alone (a shallow copy in `pool`; the negotiator clones what it
 * keeps): the other lines are not this stream's. */
static const pjmedia_sdp_session *one_media(pj_pool_t *pool, const pjmedia_sdp_session *s,
                                            unsigned idx)
{
    pjmedia_sdp_session *one;
    if (idx >= s->media_count)
        return NULL;
    if (s->media_count == 1)
        return s;
    one = PJ_POOL_ALLOC_T(pool, pjmedia_sdp_session);
    pj_memcpy(one, s, sizeof(*one));
    one->media[0] = s->media[idx];
    one->media_count = 1;
    return one;
}

/* Offer/answer of media line local_idx of `local` with line remote_idx of `remote`, alone,
 * through pjmedia's negotiator: the active SDPs, one media line each (local_is_offer: local
 * is the offer and remote the answer; else remote is the offer and local our capabilities,
 * from which the answer is made). */
static pj_status_t sc_sdp_negotiate(pj_pool_t *pool, const pjmedia_sdp_session *local,
                                    unsigned local_idx, const pjmedia_sdp_session *remote,
                                    unsigned remote_idx, int local_is_offer,
                                    const pjmedia_sdp_session **active_local,
                                    const pjmedia_sdp_session **active_remote)
{
    pjmedia_sdp_neg *neg;
    pj_status_t status;
    local = one_media(pool, local, local_idx);
    remote = one_media(pool, remote, remote_idx);
    if (local == NULL || remote == NULL)
        return PJ_EINVAL;
    if (local_is_offer) {
        status = pjmedia_sdp_neg_create_w_local_offer(pool, local, &neg);
        if (status == PJ_SUCCESS)
            status = pjmedia_sdp_neg_set_remote_answer(pool, neg, remote);
    } else {
        status = pjmedia_sdp_neg_create_w_remote_offer(pool, local, remote, &neg);
    }
    if (status == PJ_SUCCESS)
        status = pjmedia_sdp_neg_negotiate(pool, neg, 0);
    if (status == PJ_SUCCESS)
        status = pjmedia_sdp_neg_get_active_local(neg, active_local);
    if (status == PJ_SUCCESS)
        status = pjmedia_sdp_neg_get_active_remote(neg, active_remote);
    return status;
}

static void on_dtmf(pjmedia_stream *stream, void *user_data, int digit)
{
    /* the media worker: queue it, nothing else */
    (void) stream;
    sc_media_event((uintptr_t) user_data, SC_MEDIA_DTMF, digit, PJ_SUCCESS, NULL);
}

pjmedia_port *sc_stream_port(sc_stream_t *s)
{
    pjmedia_port *port = NULL;
    if (pjmedia_stream_get_port(s->stream, &port) != PJ_SUCCESS)
        return NULL;
    return port;
}

static pj_status_t sc_stream_create(pjmedia_endpt *endpt, sc_rtp_t *rtp, uintptr_t token,
                                    const pjmedia_sdp_session *local,
                                    const pjmedia_sdp_session *remote, int vad,
                                    sc_stream_t **out, sc_stream_info_t *about)
{
    pjmedia_stream_info si;
    pj_status_t status;
    sc_stream_t *s = (sc_stream_t *) calloc(1, sizeof(*s));
    if (s == NULL)
        return PJ_ENOMEM;
    s->token = token;
    s->pool = pjmedia_endpt_create_pool(endpt, "sc-stream", 4096, 4096);
    if (s->pool == NULL) {
        free(s);
        return PJ_ENOMEM;
    }
    status = pjmedia_stream_info_from_sdp(&si, s->pool, endpt, local, remote, 0);
    if (status != PJ_SUCCESS)
        goto fail;
    if (si.param != NULL)
        si.param->setting.vad = vad ? 1 : 0;
    status = pjmedia_stream_create(endpt, s->pool, &si, sc_rtp_transport(rtp), NULL, &s->stream);
    if (status != PJ_SUCCESS)
        goto fail;
    pjmedia_stream_set_dtmf_callback(s->stream, &on_dtmf, (void *) token);
    status = pjmedia_stream_start(s->stream);
    if (status != PJ_SUCCESS) {
        pjmedia_stream_destroy(s->stream);
        goto fail;
    }
    pj_bzero(about, sizeof(*about));
    pj_ansi_snprintf(about->codec, sizeof(about->codec), "%.*s",
                     (int) si.fmt.encoding_name.slen, si.fmt.encoding_name.ptr);
    about->clock_rate = (int) si.fmt.clock_rate;
    about->dir = (int) si.dir;
    about->tx_event_pt = si.tx_event_pt;
    {
        pjmedia_port *port = sc_stream_port(s);
        if (port != NULL) {
            const pjmedia_audio_format_detail *afd =
                pjmedia_format_get_audio_format_detail(&port->info.fmt, PJ_TRUE);
            about->port_rate = (int) afd->clock_rate;
            about->port_spf = (int) PJMEDIA_AFD_SPF(afd);
        }
    }
    *out = s;
    return PJ_SUCCESS;
fail:
    pj_pool_release(s->pool);
    free(s);
    return status;
}


/* AudioTransport's negotiation and stream in one crossing (its offerer's start() and its
 * answerer's constructor): line local_idx of `local` (our offer; NULL: we answer, and our
 * capabilities are sc_audio_local_media's line with `proto`) negotiated with line remote_idx
 * of `remote` (sc_sdp_negotiate), then the stream created on `rtp` (sc_stream_create).
 * *stage says what failed: SC_AUDIO_LOCAL_MEDIA, SC_AUDIO_NEGOTIATE, SC_AUDIO_PORT_0 (a
 * rejected line in either active SDP; the status is then PJMEDIA_SDPNEG_EINVANSMEDIA),
 * SC_AUDIO_STREAM.  *active_local: the active local SDP (in `pool`: the answer's line). */
pj_status_t sc_audio_stream_start(pjmedia_endpt *endpt, pj_pool_t *pool, sc_rtp_t *rtp,
                                  uintptr_t token, const pjmedia_sdp_session *local,
                                  unsigned local_idx, const pjmedia_sdp_session *remote,
                                  unsigned remote_idx, const char *proto, int vad,
                                  int *stage, const pjmedia_sdp_session **active_local,
                                  sc_stream_t **out, sc_stream_info_t *about)
{
    const pjmedia_sdp_session *active_remote;
    pj_status_t status;
    int offering = local != NULL;
    *stage = SC_AUDIO_LOCAL_MEDIA;
    if (!offering) {
        pjmedia_sdp_session *ours;
        status = sc_audio_local_media(endpt, pool, rtp, "sendrecv", proto, &ours);
        if (status != PJ_SUCCESS)
            return status;
        local = ours;
        local_idx = 0;
    }
    *stage = SC_AUDIO_NEGOTIATE;
    status = sc_sdp_negotiate(pool, local, local_idx, remote, remote_idx, offering,
                              active_local, &active_remote);
    if (status != PJ_SUCCESS)
        return status;
    if ((*active_local)->media[0]->desc.port == 0 || active_remote->media[0]->desc.port == 0) {
        *stage = SC_AUDIO_PORT_0;
        return PJMEDIA_SDPNEG_EINVANSMEDIA;
    }
    *stage = SC_AUDIO_STREAM;
    return sc_stream_create(endpt, rtp, token, *active_local, active_remote, vad, out, about);
}

pj_status_t sc_stream_set_dir(sc_stream_t *s, int send, int receive)
{
    pj_status_t status;
    status = send ? pjmedia_stream_resume(s->stream, PJMEDIA_DIR_ENCODING)
                  : pjmedia_stream_pause(s->stream, PJMEDIA_DIR_ENCODING);
    if (status != PJ_SUCCESS)
        return status;
    return receive ? pjmedia_stream_resume(s->stream, PJMEDIA_DIR_DECODING)
                   : pjmedia_stream_pause(s->stream, PJMEDIA_DIR_DECODING);
}

pj_status_t sc_stream_dtmf(sc_stream_t *s, const char *digits)
{
    pj_str_t d = pj_str((char *) digits);
    return pjmedia_stream_dial_dtmf(s->stream, &d);
}

void sc_stream_stat(sc_stream_t *s, sc_stream_stat_t *out)
{
    pjmedia_rtcp_stat st;
    pj_bzero(out, sizeof(*out));
    if (pjmedia_stream_get_stat(s->stream, &st) != PJ_SUCCESS)
        return;
    out->tx_packets = st.tx.pkt;
    out->tx_bytes = st.tx.bytes;
    out->rx_packets = st.rx.pkt;
    out->rx_bytes = st.rx.bytes;
    out->rx_lost = st.rx.loss;
    out->rx_discarded = st.rx.discard;
    out->rx_reordered = st.rx.reorder;
    out->rx_duplicated = st.rx.dup;
    out->rx_jitter_last_us = st.rx.jitter.n ? st.rx.jitter.last : 0;
    out->rx_jitter_mean_us = st.rx.jitter.n ? st.rx.jitter.mean : 0;
    out->rx_jitter_max_us = st.rx.jitter.n ? st.rx.jitter.max : 0;
    out->tx_lost = st.tx.loss;          /* as the remote's RTCP reports say */
    out->tx_jitter_last_us = st.tx.jitter.n ? st.tx.jitter.last : 0;
    out->rtt_last_us = st.rtt.n ? st.rtt.last : 0;
    out->rtt_mean_us = st.rtt.n ? st.rtt.mean : 0;
    out->rtcp_rx_count = st.rx.update_cnt;
    out->rtcp_tx_count = st.tx.update_cnt;
}

void sc_stream_destroy(sc_stream_t *s)
{
    if (s == NULL)
        return;
    pjmedia_stream_destroy(s->stream);  /* detaches from its transport: no callback after */
    pj_pool_release(s->pool);
    free(s);
}
