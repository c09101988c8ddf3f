/* glue.h -- what the glue's .c files share among themselves.  C only: cffi and the Python
 * side never see it (their interface is sipcore.h, included here).  Everything not declared
 * here or in sipcore.h is static to its file. */
#ifndef SIPCORE_GLUE_H
#define SIPCORE_GLUE_H

#include "sipcore.h"

/* ---- glue.c ---- */

/* mod-sipcore: its on_rx_request takes MESSAGE and hands other requests to Python; its id
 * keys the mod_data slot of sipcore's MESSAGE transactions and subscriptions. */
extern pjsip_module sc_mod_app;

/* Queue a media event (SC_EV_MEDIA) and wake the poll thread; any thread, no pjlib call.
 * text may be NULL.  Returns 0, or -1 when it was dropped (out of memory, queue full). */
int sc_media_event(uintptr_t token, int what, int value, pj_status_t status, const char *text);

/* The UDP transport started last (NULL: none); see glue.c. */
extern pjsip_transport *sc_udp_current;

/* Parse a Route header value into a one-element route set (a list head in pool). */
pj_status_t sc_route_set(pj_pool_t *pool, const char *route, pjsip_route_hdr *head);
/* Digest credentials for any realm, copied into pool. */
void sc_cred(pj_pool_t *pool, pjsip_cred_info *cred, const char *user, const char *password);
/* A transport selector for one listener (TCP/TLS factory). */
void sc_listener_sel(pjsip_tpselector *sel, pjsip_tpfactory *listener);
/* A new UAC dialog's route set, credentials and listener (INVITE, SUBSCRIBE). */
pj_status_t sc_dlg_setup(pjsip_dialog *dlg, const char *route, pjsip_tpfactory *listener,
                         const char *user, const char *password);

/* ---- glue_clients.c ---- */

/* mod-sipcore's on_tsx_state: a MESSAGE transaction (tsx->mod_data of sc_mod_app) got its
 * final response; rdata is that response when one was received. */
void sc_msg_on_final(sc_msg_t *m, pjsip_transaction *tsx, pjsip_rx_data *rdata);

/* ---- glue_rtp.c ---- */

/* The pjmedia transport of an RTPTransport (its streams are created on it). */
pjmedia_transport *sc_rtp_transport(sc_rtp_t *r);

#endif /* SIPCORE_GLUE_H */
