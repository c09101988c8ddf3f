/* pjsip-simple: event subscriptions (pjsip_evsub) and publication (pjsip_publishc).
 *
 * cdef-only: read by cffi's cdef, never by a C compiler (see pjlib.h). */

typedef struct pjsip_evsub pjsip_evsub;
typedef struct pjsip_publishc pjsip_publishc;

/* whole: the states the Subscription mirrors */
typedef enum pjsip_evsub_state {
    PJSIP_EVSUB_STATE_NULL, PJSIP_EVSUB_STATE_SENT, PJSIP_EVSUB_STATE_ACCEPTED,
    PJSIP_EVSUB_STATE_PENDING, PJSIP_EVSUB_STATE_ACTIVE, PJSIP_EVSUB_STATE_TERMINATED,
    PJSIP_EVSUB_STATE_UNKNOWN, ...
} pjsip_evsub_state;

pj_status_t pjsip_evsub_init_module(pjsip_endpoint *endpt);
pj_status_t pjsip_evsub_register_pkg(pjsip_module *pkg_mod, const pj_str_t *event_name,
                                     unsigned expires, unsigned accept_cnt,
                                     const pj_str_t accept[]);
pj_status_t pjsip_evsub_initiate(pjsip_evsub *sub, const pjsip_method *method,
                                 pj_int32_t expires, pjsip_tx_data **p_tdata);
pj_status_t pjsip_evsub_send_request(pjsip_evsub *sub, pjsip_tx_data *tdata);

pj_status_t pjsip_publishc_init_module(pjsip_endpoint *endpt);
pj_status_t pjsip_publishc_destroy(pjsip_publishc *pubc);
pj_status_t pjsip_publishc_publish(pjsip_publishc *pubc, pj_bool_t auto_refresh,
                                   pjsip_tx_data **p_tdata);
pj_status_t pjsip_publishc_unpublish(pjsip_publishc *pubc, pjsip_tx_data **p_tdata);
pj_status_t pjsip_publishc_update_expires(pjsip_publishc *pubc, pj_uint32_t expires);
pj_status_t pjsip_publishc_send(pjsip_publishc *pubc, pjsip_tx_data *tdata);
