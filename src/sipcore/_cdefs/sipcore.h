/* sipcore.h -- the one interface between sipcore's Python side and its C glue.
 *
 * Every sc_* type, enum and function the Python side may use is declared here, and nothing
 * else of the glue.  The file is read twice:
 *
 *   - by the C compiler: every glue .c file includes it (through glue.h), and so does the
 *     cffi module, which checks what cffi was told against it;
 *   - by cffi's cdef, as _ffi_build.cdef_text() leaves it: cffi does not preprocess, so that
 *     step drops the `#ifndef SIPCORE_CDEF` blocks (C only) and the include guard, and turns
 *     SC_PYTHON_CALLBACKS_BEGIN/END into cffi's `extern "Python+C" {` and `}`.
 *
 * Hence the rules for this file: plain declarations only (no macros, no inline code outside
 * the C-only block); enum values explicit; the pjproject types it names are declared for
 * cffi in decl/ (copies, one file per pjproject library) and for C by pjproject's headers.
 *
 * Threads: everything here runs on the poll thread unless its comment says otherwise.
 * Strings passed in are NUL-terminated and read during the call only, unless said otherwise.
 */
#ifndef SIPCORE_H
#define SIPCORE_H

#ifndef SIPCORE_CDEF            /* C only: cffi's cdef never sees this block */
#include <stddef.h>
#include <stdint.h>
#include <pjlib.h>
#include <pjlib-util.h>
#include <pjsip.h>
#include <pjsip_ua.h>
#include <pjsip_simple.h>
#include <pjmedia.h>
#include <pjmedia-codec.h>
#include <pjmedia/sdp_neg.h>
#include <pjnath.h>                 /* glue_nat.c: NAT type detection */

#define SC_PYTHON_CALLBACKS_BEGIN
#define SC_PYTHON_CALLBACKS_END

/* The m= line member of pjmedia_sdp_media is an anonymous struct; decl/pjmedia.h describes
 * it to cffi under this name. */
typedef __typeof__(((pjmedia_sdp_media *) 0)->desc) sc_sdp_media_desc;
#endif


/* ==== flat formats ==========================================================================
 *
 * Byte strings that cross the boundary in one piece instead of a cffi access per field.  Each
 * is written and read by one codec per side, named below.
 *
 * A "field" is its bytes followed by one NUL.  Inside a field the bytes 0x00 and 0x01 are
 * written as two bytes each, 0x01 '0' and 0x01 '1', so a field can hold any bytes and a NUL
 * always ends one; no other byte changes.  A number is a field of decimal digits.
 *
 * The C writers return the size of the whole form and write it only when that is at most the
 * size of the buffer they are given; otherwise the caller calls again, once, with a buffer
 * that big (the Python side: _flat.Buffer.read).  No form is ever cut short.
 *
 * URI flat form (written by sc_uri_pj_flat; read by uri.from_pj/uri._fields_of_flat; the
 * Python writer uri._flat_of serves the tests):
 *     display (the name PJSIP keeps, its quoted-pairs undone: the text of a quoted-string),
 *     user, host, port ("0": none), secure ("1" sips:, "0" sip:), N,
 *     then N parameters, each a name field and a value field, in this order: user, method,
 *     transport, maddr (each only when not empty), ttl (only when set), lr (only when set),
 *     then the other parameters as they appear in the URI; a parameter without a value (or
 *     with an empty one) has as value field the single byte 0x01 (which no field with its
 *     escapes can be: the "no value" mark);
 *     then the headers (?name=value) up to the end, each a name field and a value field.
 *   sc_uri_pj_flat returns -1 for a URI that is not sip:/sips: (or NULL).
 *
 * Incoming MESSAGE flat buffer (written by sc_message_flat; read by primitives.message.decode,
 * written there by encode for the tests):
 *     the To URI in URI flat form (to_len bytes), the From URI in URI flat form (from_len
 *     bytes), the content type "type/subtype" followed by its parameters as the header has
 *     them (";name=value" or ";name" each; ctype_len bytes), the body (body_len bytes: for a
 *     multipart body, its bytes as the packet carried them),
 *     one after the other, `used` bytes in all.  The content type and the body are bytes as
 *     they are, not fields (their lengths delimit them).
 *   A URI length of -1: not a sip:/sips: URI (no bytes).  ctype_len and body_len -1: the
 *   request has no body and no Content-Type.  The glue writes the buffer into the one the UA
 *   lends (sc_message_buffer) before sc_py_on_message; when it does not fit there, flat is
 *   NULL and the Python side calls sc_message_flat with a buffer of `used` bytes.
 *
 * SDP flat form (written by sdp._flat and sc_sdp_flat; read by sdp._from_flat and
 * sc_sdp_from_flat):
 *     origin: user, id, version, net type, address type, address; session name; session
 *     i= text (skipped by C, written empty by C: PJMEDIA keeps none); connection; start time,
 *     stop time; attributes; M, then M media, each: media type, port, port count (sc_sdp_flat
 *     writes 0 as 1), transport, i= text (as the session's), F, F format fields, connection,
 *     attributes.
 *   A connection is one empty field for none, or a non-empty field ("c") followed by net
 *   type, address type and address.  Attributes are a count A then A name/value field pairs
 *   (an empty value: an attribute without value).  The buffer ends right after the last
 *   field; sc_sdp_from_flat refuses (NULL) any other buffer and counts above
 *   PJMEDIA_MAX_SDP_FMT/_ATTR/_MEDIA.
 *
 * Headers list ("Name\0value\0...", both directions; read and written in Python by
 * _flat.headers_of/_flat.headers_list):
 *     each header a name field and a value field (the value without the blanks around it).
 *   sc_msg_headers writes every header of a received message so, in the message's order,
 *   as the packet carries it (folding undone, a compact name as its full name; a line
 *   without "Name:" left out; -1: no memory for a header's text).
 *   sc_msg_send reads its `headers` so up to a name field that is empty, i.e. one more NUL
 *   (a bytes object's own final NUL is that one).
 */


/* ==== types ============================================================================= */

/* The C event queue (any thread appends; the poll thread drains it into signals). */
enum sc_event_kind {
    SC_EV_LOG = 1,              /* a pjlib log line: level, text */
    SC_EV_TRACE = 2,            /* a SIP packet: received, addresses, text (the packet) */
    SC_EV_MEDIA = 3             /* a media event: token, what, value, status, text */
};

/* What an SC_EV_MEDIA event reports (sent from C threads: media worker, clock, sound, ICE).
 * The poll thread hands it to the object registered under the token (its on_media_event);
 * a token already released finds nothing and the event is dropped. */
enum sc_media_what {
    SC_MEDIA_WAVE_EOF = 1,      /* a WaveFile's player reached the end of the file */
    SC_MEDIA_DTMF = 2,          /* a stream received an RFC 4733 digit: value is the char */
    SC_MEDIA_ICE_INIT = 3,      /* ICE candidate gathering ended: status */
    SC_MEDIA_ICE_NEG = 4,       /* ICE negotiation ended: status; text: the chosen pairs */
    SC_MEDIA_STUN = 5,          /* a STUN binding response (or its failure): status */
    SC_MEDIA_NAT_TYPE = 6,      /* NAT type detection ended: value the type, text its name */
    SC_MEDIA_ERROR = 7          /* a media thread failed: status; text what it was doing */
};

typedef struct sc_event {
    int kind;                   /* enum sc_event_kind */
    int level;
    int received;
    char src_ip[64];
    int src_port;
    char dst_ip[64];
    int dst_port;
    char *text;                 /* len bytes and a NUL */
    size_t len;
    uintptr_t token;            /* SC_EV_MEDIA: the object's token */
    int what;                   /* SC_EV_MEDIA: enum sc_media_what */
    int value;
    pj_status_t status;
    double time;                /* when it was queued (CLOCK_REALTIME, seconds since the epoch):
                                   a trace, as the message went out or right after it was read */
    struct sc_event *next;
} sc_event;

/* A received message, its unions flattened (pointers into rdata: valid during the callback). */
typedef struct sc_rdata_info_t {
    int is_request;
    pj_str_t method;
    int method_id;
    pjsip_uri *request_uri;
    int status_code;
    pj_str_t reason;
    pjsip_uri *from_uri;
    pjsip_uri *to_uri;
    pj_str_t call_id;
    int has_body;
    pj_str_t content_type;
    pj_str_t content_subtype;
    const char *body;
    unsigned body_len;
    char *src_ip;
    int src_port;
} sc_rdata_info_t;

/* What sc_py_on_client reports. */
enum sc_client_kind {
    SC_CLIENT_REGC = 1,         /* a REGISTER transaction ended */
    SC_CLIENT_PUBLISHC = 2,     /* a PUBLISH transaction ended */
    SC_CLIENT_EVSUB_STATE = 3,  /* a subscription changed state */
    SC_CLIENT_EVSUB_NOTIFY = 4  /* a NOTIFY came in */
};

typedef struct sc_client_result_t {
    pj_status_t status;
    int code;
    pj_str_t reason;
    unsigned expiration;
    int contact_cnt;
    pjsip_contact_hdr **contacts;
    int is_unreg;
    pjsip_rx_data *rdata;
    pjsip_evsub *sub;
    int state;
    const char *state_name;
    pj_str_t termination_reason;
} sc_client_result_t;

/* Who a MESSAGE goes to and comes from, for sc_msg_send: the same for every request to one
 * destination from one sender, so the Python side makes one per destination and keeps it. */
typedef struct sc_msg_request_t {
    const char *target;         /* the Request-URI */
    const char *from_hdr;       /* the From name-addr */
    const char *to_hdr;         /* the To name-addr */
    const char *route_hdr;      /* a Route header value; "": none */
    const char *type;           /* the body's content type */
    const char *subtype;
    const char *user;           /* digest user name */
    int any_transport;          /* 1: the destination is a name without port or transport, so
                                 * resolving it (RFC 3263: NAPTR) chooses the transport */
} sc_msg_request_t;

typedef struct sc_msg_s sc_msg_t;   /* a MESSAGE in flight (opaque) */

typedef struct sc_tls_opts_t {
    const char *ca_file;
    const char *ca_path;
    const char *cert_file;
    const char *privkey_file;
    unsigned proto;
    int verify_server;
    int timeout_ms;
} sc_tls_opts_t;

/* What sc_py_inv_event reports. */
enum sc_inv_event_kind {
    SC_INV_EV_STATE = 1,        /* the pjsip_inv state changed */
    SC_INV_EV_MEDIA = 2,        /* an offer/answer completed (status) */
    SC_INV_EV_REINVITE = 3,     /* a re-INVITE came in (answered 100; the application answers) */
    SC_INV_EV_TSX = 4,          /* an INVITE transaction of the session got its final response */
    SC_INV_EV_OFFER = 5,        /* an offer outside a re-INVITE (UPDATE, a response): answer now */
    SC_INV_EV_CANCEL = 6        /* a CANCEL came in (before the 487 that ends the session) */
};

typedef struct sc_inv_event_t {
    int kind;                   /* enum sc_inv_event_kind */
    int state;
    pjsip_rx_data *rdata;
    int code;
    pj_str_t reason;
    pj_status_t status;
    int role;
} sc_inv_event_t;

typedef struct sc_inv_info_t {
    int state;
    int role;
    pj_str_t call_id;
    pjsip_uri *local_contact;
    pjsip_uri *remote_contact;
    int neg_state;              /* pjmedia_sdp_neg_state, -1: no negotiator */
    int has_invite_tsx;
    int cause;
    pj_str_t cause_text;
} sc_inv_info_t;


/* ---- media: RTP transports and audio streams (glue_rtp.c, glue_stream.c) ---------------- */

typedef struct sc_rtp_s sc_rtp_t;           /* an RTPTransport's pjmedia transport (opaque) */
typedef struct sc_stream_s sc_stream_t;     /* an AudioTransport's pjmedia_stream (opaque) */

typedef struct sc_rtp_opts_t {
    const char *address;        /* the local IP to bind (an IP literal) */
    int port_min;               /* the Engine's rtp_port_range */
    int port_max;
    int use_srtp;
    int srtp_forced;
    int use_ice;
    const char *stun_address;   /* ICE's STUN server; NULL or "": no STUN candidate */
    int stun_port;
    uintptr_t token;            /* ICE events (SC_MEDIA_ICE_INIT/ICE_NEG) name it */
} sc_rtp_opts_t;

typedef struct sc_rtp_info_t {
    char local_ip[64];
    int local_port;
    char rx_ip[64];             /* where RTP came from; "" none yet */
    int rx_port;
    int srtp_active;
    int ice_active;
    int ice_state;              /* pj_ice_strans_state */
} sc_rtp_info_t;

typedef struct sc_stream_info_t {
    char codec[32];             /* the negotiated codec's encoding name */
    int clock_rate;             /* its clock rate */
    int dir;                    /* pjmedia_dir from the SDP: 1 send, 2 receive, 3 both */
    int tx_event_pt;            /* telephone-event payload type to send, -1: none */
    int port_rate;              /* the stream port's clock rate and samples per frame */
    int port_spf;
} sc_stream_info_t;

typedef struct sc_stream_stat_t {       /* pjmedia_stream_get_stat, flattened */
    unsigned tx_packets;
    unsigned tx_bytes;
    unsigned rx_packets;
    unsigned rx_bytes;
    unsigned rx_lost;
    unsigned rx_discarded;
    unsigned rx_reordered;
    unsigned rx_duplicated;
    unsigned rx_jitter_last_us;
    unsigned rx_jitter_mean_us;
    unsigned rx_jitter_max_us;
    unsigned tx_lost;
    unsigned tx_jitter_last_us;
    unsigned rtt_last_us;
    unsigned rtt_mean_us;
    unsigned rtcp_rx_count;
    unsigned rtcp_tx_count;
} sc_stream_stat_t;

/* ==== functions =========================================================================== */

/* The pjproject version the module was compiled against (pkg-config's). */
extern const char *const SIPCORE_BUILT_AGAINST;

/* -- glue.c: event queue, modules, poll, transports, accessors -- */
extern volatile int sc_q_count;         /* events queued: read by Python without a call */
sc_event *sc_event_pop(void);
void sc_event_free(sc_event *ev);
void sc_events_clear(void);
void sc_install_log_writer(void);
void sc_set_trace(int on);
void sc_set_user_agent(const char *ua);
void sc_set_message_answer(int late);   /* 1: answer incoming MESSAGEs after sc_py_on_message */
void sc_message_answer_code(int code);  /* during sc_py_on_message: the code of that answer */

pjsip_module *sc_app_module(void);
pj_status_t sc_modules_register(pjsip_endpoint *endpt);

pj_status_t sc_wake_init(pjsip_endpoint *endpt);
void sc_wake(void);                     /* any thread */
void sc_wake_ack(void);
void sc_poll(pjsip_endpoint *endpt, unsigned timeout_ms, unsigned spin_us, unsigned *count);
int sc_wait_done(const int *flag, unsigned spin_us);   /* any thread, GIL released */
unsigned long sc_spin_shared_count(void);   /* spins that found their CPU shared (any thread) */
unsigned long sc_spin_moves_count(void);    /* ... and poll thread moves off it (any thread) */
void sc_wake_destroy(pjsip_endpoint *endpt);
int sc_ua_renew(pjsip_endpoint *endpt);

pj_status_t sc_start_udp(pjsip_endpoint *endpt, const char *ip, int port, pjsip_transport **tp);
pj_status_t sc_start_tcp(pjsip_endpoint *endpt, const char *ip, int port, pjsip_tpfactory **f);
pj_status_t sc_start_tls(pjsip_endpoint *endpt, const char *ip, int port,
                         const sc_tls_opts_t *o, pjsip_tpfactory **f);
int sc_transport_port(pjsip_transport *tp);
int sc_factory_port(pjsip_tpfactory *f);
void sc_factory_destroy(pjsip_tpfactory *f);
void sc_udp_stop(pjsip_transport *tp);

void sc_rdata_info(pjsip_rx_data *rdata, sc_rdata_info_t *out);
/* The buffer (the UA's, alive until it lends another or NULL) into which sc_on_rx_request
 * writes an incoming MESSAGE's flat buffer before sc_py_on_message. */
void sc_message_buffer(char *buf, int size);

pj_status_t sc_tdata_add_header(pjsip_tx_data *tdata, const char *name, const char *value);
pj_status_t sc_tdata_set_body(pjsip_tx_data *tdata, const char *type, const char *subtype,
                              const char *data, unsigned len);
void sc_timer_init(pj_timer_entry *entry, int id);
int sc_timer_id(pj_timer_entry *entry);

/* -- glue_clients.c: REGISTER, PUBLISH, SUBSCRIBE, MESSAGE -- */
pj_status_t sc_regc_create(pjsip_endpoint *endpt, uintptr_t token, const char *registrar,
                           const char *aor, const char *contact, unsigned expires,
                           const char *route, pjsip_tpfactory *listener, const char *user,
                           const char *password, pjsip_regc **p_regc);
int sc_contact_uri(pjsip_contact_hdr **contacts, int i, char *buf, int size);
pj_status_t sc_publishc_create(pjsip_endpoint *endpt, uintptr_t token, const char *event,
                               const char *aor, unsigned expires, const char *route,
                               pjsip_tpfactory *listener, const char *user,
                               const char *password, pjsip_publishc **p_pubc);
void sc_tdata_use_listener(pjsip_tx_data *tdata, pjsip_tpfactory *listener);
void sc_regc_use_udp(pjsip_regc *regc);
int sc_tdata_resolved(pjsip_tx_data *tdata);
void sc_tdata_set_expires(pjsip_tx_data *tdata, unsigned expires);
pj_status_t sc_evsub_create(pjsip_endpoint *endpt, uintptr_t token, const char *from,
                            const char *contact, const char *to, const char *event,
                            const char *route, pjsip_tpfactory *listener, const char *user,
                            const char *password, pjsip_evsub **p_sub);
pj_status_t sc_evsub_add_header(pjsip_endpoint *endpt, pjsip_evsub *sub, const char *name,
                                const char *value);
void sc_evsub_abandon(pjsip_evsub *sub);
/* body: body_len bytes; headers: a headers list (flat formats) or NULL; password: NULL for
 * no credentials; timeout_ms > 0: end with 408 after that long. */
pj_status_t sc_msg_send(pjsip_endpoint *endpt, uintptr_t token, pjsip_tpfactory *listener,
                        const sc_msg_request_t *req, const char *body, unsigned body_len,
                        const char *headers, const char *password, unsigned timeout_ms,
                        sc_msg_t **p_msg);
void sc_msg_cancel(sc_msg_t *m);

/* -- glue_inv.c: INVITE sessions -- */
pj_status_t sc_inv_init(pjsip_endpoint *endpt);
/* RFC 4028 session timers for new sessions: mode 0 off, 1 supported, 2 required, 3 always */
void sc_inv_set_timer(int mode, unsigned sess_expires, unsigned min_se);
pj_status_t sc_inv_create_uac(uintptr_t token, const char *from, const char *contact,
                              const char *to, const char *target, const char *route,
                              pjsip_tpfactory *listener, const char *user,
                              const char *password, const pjmedia_sdp_session *sdp,
                              pjsip_inv_session **p_inv);
void sc_inv_set_token(pjsip_inv_session *inv, uintptr_t token);
void sc_inv_set_wanted(int wanted);
void sc_inv_info(pjsip_inv_session *inv, sc_inv_info_t *out);
pj_status_t sc_inv_invite(pjsip_inv_session *inv, pjsip_tx_data **p_tdata);
pj_status_t sc_inv_answer(pjsip_inv_session *inv, int code, const pjmedia_sdp_session *sdp,
                          pjsip_tx_data **p_tdata);
pj_status_t sc_inv_end(pjsip_inv_session *inv, int code, pjsip_tx_data **p_tdata);
pj_status_t sc_inv_reinvite(pjsip_inv_session *inv, const pjmedia_sdp_session *sdp,
                            pjsip_tx_data **p_tdata);
pj_status_t sc_inv_send(pjsip_inv_session *inv, pjsip_tx_data *tdata);
pj_status_t sc_inv_set_answer(pjsip_inv_session *inv, const pjmedia_sdp_session *sdp);
pj_status_t sc_inv_terminate(pjsip_inv_session *inv, int code, int notify);
void sc_inv_abandon(pjsip_inv_session *inv);
const pjmedia_sdp_session *sc_inv_sdp(pjsip_inv_session *inv, int which);

/* -- glue_flat.c: the writers of the flat formats (each returns the form's size) -- */
int sc_uri_pj_flat(pjsip_uri *uri, char *buf, int size);
int sc_message_flat(pjsip_rx_data *rdata, char *buf, int size, int *lens);   /* lens[4] */
int sc_msg_headers(pjsip_rx_data *rdata, char *buf, int size);

/* -- glue_sdp.c: SDP -- */
int sc_sdp_flat(const pjmedia_sdp_session *sdp, char *buf, int size);
pjmedia_sdp_session *sc_sdp_from_flat(pj_pool_t *pool, const char *flat, int len);
/* pjmedia_sdp_validate2(strict) of the SDP built from a flat form (PJ_EINVAL: a form
 * sc_sdp_from_flat refuses), in a pool of its own: safe from any thread, also one pjlib does
 * not know (Invitation.set_offered_local_sdp checks in the calling thread). */
pj_status_t sc_sdp_validate_flat(const char *flat, int len, int strict);

/* -- glue_nat.c: NAT type detection (Engine.detect_nat_type) -- */
/* Start detecting the NAT type with the STUN server ip (an IPv4 or IPv6 literal) and port,
 * on endpt's ioqueue and timer heap (pf: the pools).  When it returns PJ_SUCCESS, exactly
 * one SC_MEDIA_NAT_TYPE event for token follows (on the poll thread, inside sc_poll):
 * value the pj_stun_nat_type, status PJ_SUCCESS or the error, text the type's name (success)
 * or the error's text.  Any other return: nothing was started, no event comes. */
pj_status_t sc_nat_detect(pjsip_endpoint *endpt, pj_pool_factory *pf, uintptr_t token,
                          const char *ip, int port);

/* -- glue_dns.c: names, RFC 3263 (NAPTR, SRV, A) with PJSIP's resolver -- */
/* Resolve names through the count (1..8) name servers ips[i] (IP literals), ports[i], on
 * endpt's ioqueue and timer heap: a query is sent again after retransmit_ms, retransmits
 * times, then fails.  Installs sipcore's NAPTR step in front of PJSIP's SRV/A resolution. */
pj_status_t sc_dns_init(pjsip_endpoint *endpt, pj_pool_factory *pf, unsigned count,
                        const char *const *ips, const int *ports, unsigned retransmit_ms,
                        unsigned retransmits);
/* Which transports NAPTR/SRV records may choose: bit 0 UDP, 1 TCP, 2 TLS (the running ones);
 * bit 3: they are IPv6 (AAAA records then, else A); tls: the TLS listener (NULL: none). */
void sc_dns_set_transports(unsigned mask, pjsip_tpfactory *tls);
/* Before pjsip_endpt_destroy: the resolver goes (pending queries end without callbacks). */
void sc_dns_shutdown(pjsip_endpoint *endpt);
/* RFC 3263 4.3 failover: give req (a new request, not sent yet) the addresses old (sent and
 * failed with 503 or a timeout) was resolved to, pointing at the one after old's; 0 (req
 * unchanged) when old was not resolved to several addresses or none is left. */
int sc_tdata_failover(pjsip_tx_data *old, pjsip_tx_data *req);
/* 1 when a request was resolved to an address after the one it went to last. */
int sc_tdata_can_failover(const pjsip_tx_data *tdata);

/* -- glue_pool.c: pool blocks (any thread) -- */
const pj_pool_factory_policy *sc_pool_policy(void);
size_t sc_pool_trim(void);
size_t sc_pool_slabs(void);
size_t sc_pool_usage(size_t *live, size_t n);
void sc_trim_heap(void);


/* -- glue_bridge.c: the audio bridge, sound devices, wave file ports (m-bridge) --
 * The bridge: a conference clocked by a sound device or by a C null clock (see the file's
 * top comment); slots are ints.  sc_bridge_slot: 1 the silence source, 2 the DTMF tones. */
typedef struct sc_bridge sc_bridge;
typedef struct sc_fileport sc_fileport;
pj_status_t sc_bridge_create(pj_pool_factory *pf, unsigned clock_rate, sc_bridge **p_bridge);
pj_status_t sc_bridge_set_device(sc_bridge *b, int use_device, int rec_id, int play_id,
                                 unsigned ec_tail_ms);
int sc_bridge_has_device(sc_bridge *b);
void sc_bridge_destroy(sc_bridge *b);
int sc_bridge_slot(sc_bridge *b, int which);
pj_status_t sc_bridge_add(sc_bridge *b, pjmedia_port *port, int *slot);
pj_status_t sc_bridge_remove(sc_bridge *b, int slot);
pj_status_t sc_bridge_connect(sc_bridge *b, int src, int dst, int connect);
pj_status_t sc_bridge_rx_level(sc_bridge *b, int slot, int adj);
pj_status_t sc_bridge_mute_tx(sc_bridge *b, int slot, int mute);
pj_status_t sc_bridge_play_dtmf(sc_bridge *b, char digit);
int sc_aud_dev_count(void);
int sc_aud_dev_info(int id, char *name, int size, int *inputs, int *outputs);
/* A WaveFile's player (is_player: reports SC_MEDIA_WAVE_EOF under token on the clock thread)
 * or a RecordingWaveFile's 16-bit PCM mono writer at clock_rate. */
pj_status_t sc_fileport_create(pj_pool_factory *pf, const char *path, int is_player,
                               unsigned clock_rate, uintptr_t token, sc_fileport **p_fp);
pjmedia_port *sc_fileport_port(sc_fileport *fp);
void sc_fileport_rewind(sc_fileport *fp);
void sc_fileport_destroy(sc_fileport *fp);

/* -- glue_rtp.c: the media worker thread (started with the first RTPTransport, stopped in the
 *    UA's teardown after every transport is closed), RTPTransport's transports -- */
pj_status_t sc_media_worker_start(pj_pool_factory *pf);
void sc_media_worker_stop(void);
int sc_media_worker_running(void);
/* port: the RTP port bound (0 for ICE: see sc_rtp_info) */
pj_status_t sc_rtp_create(const sc_rtp_opts_t *o, sc_rtp_t **out, int *port);
pj_pool_t *sc_rtp_pool(sc_rtp_t *r);    /* where the SDPs of this negotiation go */
pj_status_t sc_rtp_set_local(sc_rtp_t *r, pjmedia_sdp_session *local, unsigned idx);
pj_status_t sc_rtp_set_established(sc_rtp_t *r, pjmedia_sdp_session *local,
                                   const pjmedia_sdp_session *remote, unsigned idx,
                                   int answering);
void sc_rtp_reset(sc_rtp_t *r);         /* media_stop; a new pool for the next negotiation */
void sc_rtp_info(sc_rtp_t *r, sc_rtp_info_t *out);
void sc_rtp_destroy(sc_rtp_t *r);

/* -- glue_stream.c: audio streams, the local audio m= line, one-media negotiation -- */
/* direction: sendrecv/sendonly/recvonly/inactive; proto: the m= line's profile, or NULL */
pj_status_t sc_audio_local_media(pjmedia_endpt *endpt, pj_pool_t *pool, sc_rtp_t *rtp,
                                 const char *direction, const char *proto,
                                 pjmedia_sdp_session **p_sdp);
/* media line local_idx of local with remote_idx of remote, alone, negotiated (pjmedia's
 * negotiator), then the stream created on rtp from the active SDPs; local NULL: answer with
 * our own line (sc_audio_local_media with proto); *stage: the step that failed (enum below) */
enum sc_audio_stage {
    SC_AUDIO_LOCAL_MEDIA = 1, SC_AUDIO_NEGOTIATE = 2, SC_AUDIO_PORT_0 = 3, SC_AUDIO_STREAM = 4
};
pj_status_t sc_audio_stream_start(pjmedia_endpt *endpt, pj_pool_t *pool, sc_rtp_t *rtp,
                                  uintptr_t token, const pjmedia_sdp_session *local,
                                  unsigned local_idx, const pjmedia_sdp_session *remote,
                                  unsigned remote_idx, const char *proto, int vad,
                                  int *stage, const pjmedia_sdp_session **active_local,
                                  sc_stream_t **out, sc_stream_info_t *about);
pjmedia_port *sc_stream_port(sc_stream_t *s);
pj_status_t sc_stream_set_dir(sc_stream_t *s, int send, int receive);
pj_status_t sc_stream_dtmf(sc_stream_t *s, const char *digits);
void sc_stream_stat(sc_stream_t *s, sc_stream_stat_t *out);
void sc_stream_destroy(sc_stream_t *s);

/* ==== callbacks into Python ===============================================================
 *
 * Defined by the cffi module (extern "Python+C"), by the trampolines the Python side
 * registers with @ffi.def_extern; called by the glue on the poll thread.  A token is the
 * integer the Python object was registered under (its registry ignores unknown ones). */
SC_PYTHON_CALLBACKS_BEGIN
/* The one report of an sc_msg_send request: final response, timeout (408) or transport
 * error (transport_err != 0); reason is reason_len bytes, not NUL-terminated. */
void sc_py_on_message_final(uintptr_t token, int code, const char *reason, int reason_len,
                            pj_status_t transport_err);
/* An incoming MESSAGE, answered 200 already: flat is the incoming MESSAGE flat buffer, or
 * NULL when it did not fit the lent buffer (see flat formats). */
void sc_py_on_message(pjsip_rx_data *rdata, const char *flat, int used, int to_len,
                      int from_len, int ctype_len, int body_len);
/* A timer of sc_timer_init fired. */
void sc_py_on_timer(pj_timer_heap_t *heap, pj_timer_entry *entry);
/* A REGISTER, PUBLISH or SUBSCRIBE client event (kind: enum sc_client_kind). */
void sc_py_on_client(uintptr_t token, int kind, sc_client_result_t *result);
/* An INVITE session event (ev->kind: enum sc_inv_event_kind). */
void sc_py_inv_event(uintptr_t token, pjsip_inv_session *inv, sc_inv_event_t *ev);
/* A new incoming INVITE, answered 100 already; transport is "udp", "tcp" or "tls".  Return
 * non-zero when Python took it (and gave it a token), 0 to have it answered 480. */
int sc_py_inv_incoming(pjsip_inv_session *inv, pjsip_rx_data *rdata, const char *transport);
SC_PYTHON_CALLBACKS_END

#endif /* SIPCORE_H */
