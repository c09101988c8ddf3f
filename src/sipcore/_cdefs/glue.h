/* glue.h -- what the glue's .c files share among themselves.  C only: cffi and the Python
 * side never see it (their interface is sipcore.h, included here).  Everything not declared
 * here or in sipcore.h is static to its file. */
#ifndef SIPCORE_GLUE_H
#define SIPCORE_GLUE_H

#include "sipcore.h"

/* ---- glue.c ---- */

/* mod-sipcore: its on_rx_request takes MESSAGE and answers other requests (glue_uas.c); its id
 * keys the mod_data slot of sipcore's MESSAGE transactions and subscriptions. */
extern pjsip_module sc_mod_app;

/* Queue a media event (SC_EV_MEDIA) and wake the poll thread; any thread, no pjlib call.
 * text may be NULL.  Returns 0, or -1 when it was dropped (out of memory, queue full). */
int sc_media_event(uintptr_t token, int what, int value, pj_status_t status, const char *text);

/* The UDP transport started last (NULL: none); see glue.c.  sc_udp_sel: a selector for it
 * (0: there is none). */
extern pjsip_transport *sc_udp_current;
int sc_udp_sel(pjsip_tpselector *sel);

/* Add header name: value to a request; both strings in its pool, value NUL-terminated.
 * Typed headers (Route, Contact ...) come out typed, others generic. */
pj_status_t sc_tdata_add_hdr(pjsip_tx_data *tdata, const pj_str_t *name, pj_str_t *value);
/* Parse a Route header value into a one-element route set (a list head in pool). */
pj_status_t sc_route_set(pj_pool_t *pool, const char *route, pjsip_route_hdr *head);
/* Digest credentials for any realm, copied into pool. */
void sc_cred(pj_pool_t *pool, pjsip_cred_info *cred, const char *user, const char *password);
/* A transport selector for one listener (TCP/TLS factory). */
void sc_listener_sel(pjsip_tpselector *sel, pjsip_tpfactory *listener);
/* A new UAC dialog's route set, credentials and listener (INVITE, SUBSCRIBE). */
pj_status_t sc_dlg_setup(pjsip_dialog *dlg, const char *route, pjsip_tpfactory *listener,
                         const char *user, const char *password);

/* ---- glue_flat.c: the flat formats (sipcore.h) ---- */

/* Writing one: bytes go into buf while they fit and pos counts them all, so that one pass
 * writes and measures (pos > size: call again with a buffer of pos bytes). */
typedef struct sc_flat_wr { char *buf; int size; int pos; } sc_flat_wr;
void sc_flat_raw(sc_flat_wr *w, const char *p, pj_ssize_t len);      /* bytes as they are */
void sc_flat_field(sc_flat_wr *w, const char *p, pj_ssize_t len);    /* a field */
void sc_flat_num(sc_flat_wr *w, unsigned long v);                    /* a number field */
/* Reading one, in place (escapes undone): ok is cleared at the end or at a malformed field. */
typedef struct sc_flat_rd { char *cur, *end; int ok; } sc_flat_rd;
pj_str_t sc_flat_next(sc_flat_rd *r);
unsigned long sc_flat_next_num(sc_flat_rd *r);
/* A URI in the URI flat form; 0 (nothing written) when it is not a sip:/sips: URI. */
int sc_uri_write(pjsip_uri *uri, sc_flat_wr *w);
/* The headers of a headers list (sc_msg_send's headers) added to a request. */
pj_status_t sc_tdata_add_headers(pjsip_tx_data *tdata, const char *list);

/* ---- glue_uas.c ---- */

/* mod-sipcore-check and the endpoint's Allow/Accept capabilities; after sc_mod_app. */
pj_status_t sc_uas_init(pjsip_endpoint *endpt);
/* Answer a request outside dialogs that nobody took (OPTIONS 200, 481, 405, 501); PJ_TRUE. */
pj_bool_t sc_uas_unhandled(pjsip_rx_data *rdata);
/* The body of a received message as its packet carries it (Content-Length bounds it): for
 * bodies PJSIP parsed into a structure (multipart).  0 (data "", len 0): no body. */
int sc_rdata_raw_body(pjsip_rx_data *rdata, const char **data, unsigned *len);

/* ---- glue_clients.c ---- */

/* mod-sipcore's on_tsx_state: a MESSAGE transaction (tsx->mod_data of sc_mod_app) got its
 * final response; rdata is that response when one was received. */
void sc_msg_on_final(sc_msg_t *m, pjsip_transaction *tsx, pjsip_rx_data *rdata);

/* ---- glue_rtp.c ---- */

/* The pjmedia transport of an RTPTransport (its streams are created on it). */
pjmedia_transport *sc_rtp_transport(sc_rtp_t *r);

#endif /* SIPCORE_GLUE_H */
