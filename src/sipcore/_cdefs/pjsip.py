"""pjsip: endpoint, modules, transports, transactions, messages, URIs, client auth."""

INCLUDES = """
#include <pjsip.h>
"""

TYPES = """
typedef struct pjsip_endpoint pjsip_endpoint;
typedef struct pjsip_module pjsip_module;
typedef struct pjsip_transport pjsip_transport;
typedef struct pjsip_tpfactory pjsip_tpfactory;
typedef struct pjsip_transaction pjsip_transaction;
typedef struct pjsip_tx_data pjsip_tx_data;
typedef struct pjsip_rx_data pjsip_rx_data;
typedef struct pjsip_event pjsip_event;
typedef struct pjsip_msg pjsip_msg;
typedef struct pjsip_msg_body pjsip_msg_body;
typedef struct pjsip_hdr pjsip_hdr;
typedef struct pjsip_uri pjsip_uri;
typedef struct pjsip_auth_clt_sess pjsip_auth_clt_sess;

typedef struct pjsip_param {
    struct pjsip_param *prev;
    struct pjsip_param *next;
    pj_str_t name;
    pj_str_t value;
} pjsip_param;

typedef enum pjsip_method_e {
    PJSIP_INVITE_METHOD, PJSIP_CANCEL_METHOD, PJSIP_ACK_METHOD, PJSIP_BYE_METHOD,
    PJSIP_REGISTER_METHOD, PJSIP_OPTIONS_METHOD, PJSIP_OTHER_METHOD
} pjsip_method_e;

typedef struct pjsip_method { pjsip_method_e id; pj_str_t name; } pjsip_method;

typedef enum pjsip_tsx_state_e {
    PJSIP_TSX_STATE_NULL, PJSIP_TSX_STATE_CALLING, PJSIP_TSX_STATE_TRYING,
    PJSIP_TSX_STATE_PROCEEDING, PJSIP_TSX_STATE_COMPLETED, PJSIP_TSX_STATE_CONFIRMED,
    PJSIP_TSX_STATE_TERMINATED, PJSIP_TSX_STATE_DESTROYED, PJSIP_TSX_STATE_MAX
} pjsip_tsx_state_e;

typedef enum pjsip_uri_context_e {
    PJSIP_URI_IN_REQ_URI, PJSIP_URI_IN_FROMTO_HDR, PJSIP_URI_IN_CONTACT_HDR,
    PJSIP_URI_IN_ROUTING_HDR, PJSIP_URI_IN_OTHER
} pjsip_uri_context_e;

#define PJSIP_PARSE_URI_AS_NAMEADDR ...
#define PJSIP_PARSE_URI_IN_FROM_TO_HDR ...
#define PJSIP_SC_OK ...
#define PJSIP_SC_REQUEST_TIMEOUT ...
#define PJSIP_MAX_MODULE ...
"""

FUNCTIONS = """
pj_status_t pjsip_endpt_create(pj_pool_factory *pf, const char *name, pjsip_endpoint **endpt);
void pjsip_endpt_destroy(pjsip_endpoint *endpt);
pj_status_t pjsip_endpt_handle_events2(pjsip_endpoint *endpt, const pj_time_val *max_timeout,
                                       unsigned *count);
pj_pool_t *pjsip_endpt_create_pool(pjsip_endpoint *endpt, const char *pool_name,
                                   pj_size_t initial, pj_size_t increment);
void pjsip_endpt_release_pool(pjsip_endpoint *endpt, pj_pool_t *pool);
pj_ioqueue_t *pjsip_endpt_get_ioqueue(pjsip_endpoint *endpt);
pj_status_t pjsip_endpt_schedule_timer(pjsip_endpoint *endpt, pj_timer_entry *entry,
                                       const pj_time_val *delay);
void pjsip_endpt_cancel_timer(pjsip_endpoint *endpt, pj_timer_entry *entry);

pj_status_t pjsip_tsx_layer_init_module(pjsip_endpoint *endpt);
pj_status_t pjsip_ua_init_module(pjsip_endpoint *endpt, const void *prm);

pj_status_t pjsip_transport_shutdown(pjsip_transport *tp);

pj_status_t pjsip_endpt_create_request(pjsip_endpoint *endpt, const pjsip_method *method,
    const pj_str_t *target, const pj_str_t *from, const pj_str_t *to, const pj_str_t *contact,
    const pj_str_t *call_id, int cseq, const pj_str_t *text, pjsip_tx_data **p_tdata);
pj_status_t pjsip_tsx_create_uac(pjsip_module *tsx_user, pjsip_tx_data *tdata,
                                 pjsip_transaction **p_tsx);
pj_status_t pjsip_tsx_send_msg(pjsip_transaction *tsx, pjsip_tx_data *tdata);
pj_status_t pjsip_tsx_terminate(pjsip_transaction *tsx, int code);
void pjsip_tx_data_add_ref(pjsip_tx_data *tdata);
pj_status_t pjsip_tx_data_dec_ref(pjsip_tx_data *tdata);
pj_status_t pjsip_endpt_respond(pjsip_endpoint *endpt, pjsip_module *tsx_user,
    pjsip_rx_data *rdata, int st_code, const pj_str_t *st_text, const pjsip_hdr *hdr_list,
    const pjsip_msg_body *body, pjsip_transaction **p_tsx);
pj_status_t pjsip_endpt_respond_stateless(pjsip_endpoint *endpt, pjsip_rx_data *rdata,
    int st_code, const pj_str_t *st_text, const pjsip_hdr *hdr_list, const pjsip_msg_body *body);

pj_status_t pjsip_auth_clt_reinit_req(pjsip_auth_clt_sess *sess, const pjsip_rx_data *rdata,
    pjsip_tx_data *old_request, pjsip_tx_data **new_request);

pjsip_uri *pjsip_parse_uri(pj_pool_t *pool, char *buf, pj_size_t size, unsigned options);
int pjsip_uri_print(pjsip_uri_context_e context, const void *uri, char *buf, pj_size_t size);
void *pjsip_uri_get_uri(const void *uri);
"""

CUSTOMIZATIONS = ""
