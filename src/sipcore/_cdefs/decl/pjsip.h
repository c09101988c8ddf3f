/* pjsip (the core library): endpoint, modules, transports, messages, URIs.
 *
 * cdef-only: read by cffi's cdef, never by a C compiler (see pjlib.h). */

typedef struct pjsip_endpoint pjsip_endpoint;
typedef struct pjsip_module pjsip_module;
typedef struct pjsip_transport pjsip_transport;
typedef struct pjsip_tpfactory pjsip_tpfactory;
typedef struct pjsip_tx_data pjsip_tx_data;
typedef struct pjsip_rx_data pjsip_rx_data;
typedef struct pjsip_uri pjsip_uri;
typedef struct pjsip_method pjsip_method;
typedef struct pjsip_contact_hdr pjsip_contact_hdr;

typedef struct pjsip_param {
    struct pjsip_param *prev;
    struct pjsip_param *next;
    pj_str_t name;
    pj_str_t value;
} pjsip_param;

#define PJSIP_PARSE_URI_AS_NAMEADDR ...

pj_status_t pjsip_endpt_create(pj_pool_factory *pf, const char *name, pjsip_endpoint **endpt);
void pjsip_endpt_destroy(pjsip_endpoint *endpt);
pj_pool_t *pjsip_endpt_create_pool(pjsip_endpoint *endpt, const char *pool_name,
                                   pj_size_t initial, pj_size_t increment);
void pjsip_endpt_release_pool(pjsip_endpoint *endpt, pj_pool_t *pool);
pj_ioqueue_t *pjsip_endpt_get_ioqueue(pjsip_endpoint *endpt);
pj_status_t pjsip_endpt_schedule_timer(pjsip_endpoint *endpt, pj_timer_entry *entry,
                                       const pj_time_val *delay);
void pjsip_endpt_cancel_timer(pjsip_endpoint *endpt, pj_timer_entry *entry);

pj_status_t pjsip_tsx_layer_init_module(pjsip_endpoint *endpt);
pj_status_t pjsip_ua_init_module(pjsip_endpoint *endpt, const void *prm);

void pjsip_tx_data_add_ref(pjsip_tx_data *tdata);
pj_status_t pjsip_tx_data_dec_ref(pjsip_tx_data *tdata);

pjsip_uri *pjsip_parse_uri(pj_pool_t *pool, char *buf, pj_size_t size, unsigned options);
