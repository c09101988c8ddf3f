"""sipcore's own C code (glue.c): event queue, modules, wake-up socket, accessors.

The structs below are declared twice on purpose: once for cffi (TYPES) and once for the C
compiler (the start of CUSTOMIZATIONS); they are plain C with no pjproject layout in them
except through pj types.
"""
import os

INCLUDES = """
#include <pjsip_ua.h>
#include <pjsip_simple.h>
"""

_SHARED_TYPES = """
typedef struct sc_event {
    int kind;
    int level;
    int received;
    char src_ip[64];
    int src_port;
    char dst_ip[64];
    int dst_port;
    char *text;
    size_t len;
    struct sc_event *next;
} sc_event;

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

typedef struct sc_uri_info_t {
    pj_str_t display;
    int secure;
    pj_str_t user;
    pj_str_t passwd;
    pj_str_t host;
    int port;
    pj_str_t user_param;
    pj_str_t method_param;
    pj_str_t transport_param;
    int ttl_param;
    int lr_param;
    pj_str_t maddr_param;
    pjsip_param *other_param;
    pjsip_param *header_param;
} sc_uri_info_t;

typedef struct pjsip_contact_hdr pjsip_contact_hdr;

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

typedef struct sc_message_info_t {
    sc_uri_info_t from_uri;
    sc_uri_info_t to_uri;
    int from_ok;
    int to_ok;
    int has_body;
    pj_str_t content_type;
    pj_str_t content_subtype;
    const char *body;
    unsigned body_len;
} sc_message_info_t;

typedef struct sc_msg_s sc_msg_t;

typedef struct sc_tls_opts_t {
    const char *ca_file;
    const char *ca_path;
    const char *cert_file;
    const char *privkey_file;
    unsigned proto;
    int verify_server;
    int timeout_ms;
} sc_tls_opts_t;
"""

TYPES = _SHARED_TYPES + """
#define SC_EV_LOG ...
#define SC_EV_TRACE ...
#define SC_CLIENT_REGC ...
#define SC_CLIENT_PUBLISHC ...
#define SC_CLIENT_EVSUB_STATE ...
#define SC_CLIENT_EVSUB_NOTIFY ...
"""

FUNCTIONS = """
extern "Python+C" pj_bool_t sc_py_on_rx_request(pjsip_rx_data *rdata);
extern "Python+C" void sc_py_on_message_final(uintptr_t token, int code, const char *reason,
                                              int reason_len, pj_status_t transport_err);
extern "Python+C" void sc_py_on_message(pjsip_rx_data *rdata, const char *flat, int used,
                                         int to_len, int from_len, int ctype_len,
                                         int body_len);
extern "Python+C" void sc_py_on_timer(pj_timer_heap_t *heap, pj_timer_entry *entry);
extern "Python+C" void sc_py_on_client(uintptr_t token, int kind, sc_client_result_t *result);

extern volatile int sc_q_count;
sc_event *sc_event_pop(void);
void sc_event_free(sc_event *ev);
void sc_events_clear(void);
void sc_install_log_writer(void);
void sc_set_trace(int on);
void sc_set_user_agent(const char *ua);

pjsip_module *sc_app_module(void);
pj_status_t sc_modules_register(pjsip_endpoint *endpt);

pj_status_t sc_wake_init(pjsip_endpoint *endpt);
void sc_wake(void);
void sc_wake_ack(void);
void sc_poll(pjsip_endpoint *endpt, unsigned timeout_ms, unsigned spin_us, unsigned *count);
void sc_wake_destroy(pjsip_endpoint *endpt);

void sc_rdata_info(pjsip_rx_data *rdata, sc_rdata_info_t *out);
int sc_uri_info(pjsip_uri *uri, sc_uri_info_t *out);
void sc_message_info(pjsip_rx_data *rdata, sc_message_info_t *out);
pj_status_t sc_tdata_add_header(pjsip_tx_data *tdata, const char *name, const char *value);

pj_status_t sc_start_udp(pjsip_endpoint *endpt, const char *ip, int port, pjsip_transport **tp);
pj_status_t sc_start_tcp(pjsip_endpoint *endpt, const char *ip, int port, pjsip_tpfactory **f);
pj_status_t sc_start_tls(pjsip_endpoint *endpt, const char *ip, int port,
                         const sc_tls_opts_t *o, pjsip_tpfactory **f);
int sc_transport_port(pjsip_transport *tp);
int sc_factory_port(pjsip_tpfactory *f);
void sc_factory_destroy(pjsip_tpfactory *f);

pj_status_t sc_tdata_set_body(pjsip_tx_data *tdata, const char *type, const char *subtype,
                              const char *data, unsigned len);
void sc_timer_init(pj_timer_entry *entry, int id);
void sc_trim_heap(void);
const void *sc_pool_policy(void);
size_t sc_pool_trim(void);
size_t sc_pool_slabs(void);
int sc_ua_renew(pjsip_endpoint *endpt);
void sc_udp_stop(pjsip_transport *tp);
int sc_uri_flat(const sc_uri_info_t *u, char *buf, int size);
int sc_uri_pj_flat(pjsip_uri *uri, char *buf, int size);
size_t sc_pool_usage(size_t *live, size_t n);
pj_status_t sc_msg_send(pjsip_endpoint *endpt, uintptr_t token, pjsip_tpfactory *listener,
                        sc_msg_t **p_msg, const char *target, const char *from,
                        const char *to, const char *route, const char *headers,
                        const char *type, const char *subtype, const char *body,
                        unsigned body_len, const char *user, const char *password,
                        unsigned timeout_ms);
void sc_msg_cancel(sc_msg_t *m);

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
void sc_tdata_set_expires(pjsip_tx_data *tdata, unsigned expires);
pj_status_t sc_evsub_create(pjsip_endpoint *endpt, uintptr_t token, const char *from,
                            const char *contact, const char *to, const char *event,
                            const char *route, pjsip_tpfactory *listener, const char *user,
                            const char *password, pjsip_evsub **p_sub);
void sc_evsub_abandon(pjsip_evsub *sub);
pj_status_t sc_evsub_add_header(pjsip_endpoint *endpt, pjsip_evsub *sub, const char *name,
                                const char *value);
int sc_timer_id(pj_timer_entry *entry);
"""

with open(os.path.join(os.path.dirname(__file__), "glue.c")) as _fh:
    CUSTOMIZATIONS = (
        "#define SC_EV_LOG 1\n#define SC_EV_TRACE 2\n"
        "#define SC_CLIENT_REGC 1\n#define SC_CLIENT_PUBLISHC 2\n"
        "#define SC_CLIENT_EVSUB_STATE 3\n#define SC_CLIENT_EVSUB_NOTIFY 4\n"
        + _SHARED_TYPES
        + "pj_bool_t sc_py_on_rx_request(pjsip_rx_data *rdata);\n"
        + "void sc_py_on_message_final(uintptr_t token, int code, const char *reason,"
          " int reason_len, pj_status_t transport_err);\n"
        + "void sc_py_on_message(pjsip_rx_data *rdata, const char *flat, int used, int to_len,"
          " int from_len, int ctype_len, int body_len);\n"
        + "void sc_py_on_timer(pj_timer_heap_t *heap, pj_timer_entry *entry);\n"
        + "void sc_py_on_client(uintptr_t token, int kind, sc_client_result_t *result);\n"
        + _fh.read()
    )
for _name in ("glue_clients.c", "glue_pool.c"):
    with open(os.path.join(os.path.dirname(__file__), _name)) as _fh:
        CUSTOMIZATIONS += _fh.read()
