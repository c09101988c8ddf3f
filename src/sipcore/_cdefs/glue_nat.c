/* glue_nat.c -- NAT type detection (Engine.detect_nat_type) with PJNATH's
 * pj_stun_detect_nat_type2 (RFC 3489 tests I, II, III and IB against one STUN server).
 *
 * The detection runs on the SIP endpoint's ioqueue and timer heap, which only the poll
 * thread polls: its callback runs on the poll thread, inside sc_poll.  It still reports
 * through the C event queue (sc_media_event, SC_MEDIA_NAT_TYPE), the one way media results
 * reach Python; the poll thread drains the queue right after sc_poll, so the result is
 * delivered in the same turn.
 *
 * PJNATH ends every started detection with exactly one callback (a result, a STUN timeout
 * or an I/O error), then frees the session itself.  It has no way to cancel one: a
 * detection still running when the endpoint is destroyed (Engine.stop()) just never ends;
 * its memory goes with the caching pool, its UDP socket stays open (see docs/media.md).
 */
#include "glue.h"

#include <string.h>

/* pj_stun_session keeps a pointer to the pj_stun_config it was created with (for its
 * retransmission timers), so the configuration must outlive every detection: one static
 * copy, filled again at each start with the same endpoint's values (poll thread only). */
static pj_stun_config sc_nat_cfg;

static void sc_nat_on_result(void *user_data, const pj_stun_nat_detect_result *res)
{
    const char *text = res->status == PJ_SUCCESS ? res->nat_type_name : res->status_text;
    /* dropped only when the queue is full or memory is out: the Engine's stop then reports
     * the detection as failed (Python keeps it pending until a result or the stop) */
    sc_media_event((uintptr_t) user_data, SC_MEDIA_NAT_TYPE, (int) res->nat_type, res->status,
                   text ? text : "");
}

pj_status_t sc_nat_detect(pjsip_endpoint *endpt, pj_pool_factory *pf, uintptr_t token,
                          const char *ip, int port)
{
    pj_sockaddr server;
    pj_str_t host;
    pj_status_t status;

    if (!endpt || !pf || !ip || port <= 0 || port > 65535)
        return PJ_EINVAL;
    host = pj_str((char *) ip);
    status = pj_sockaddr_init(strchr(ip, ':') ? pj_AF_INET6() : pj_AF_INET(), &server,
                              &host, (pj_uint16_t) port);
    if (status != PJ_SUCCESS)
        return status;
    pj_stun_config_init(&sc_nat_cfg, pf, 0, pjsip_endpt_get_ioqueue(endpt),
                        pjsip_endpt_get_timer_heap(endpt));
    return pj_stun_detect_nat_type2(&server, &sc_nat_cfg, (void *) token, &sc_nat_on_result);
}
