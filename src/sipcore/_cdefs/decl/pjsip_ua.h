/* pjsip-ua: client registration (pjsip_regc) and INVITE sessions (pjsip_inv).
 *
 * cdef-only: read by cffi's cdef, never by a C compiler (see pjlib.h). */

typedef struct pjsip_regc pjsip_regc;
typedef struct pjsip_inv_session pjsip_inv_session;

/* whole: the states the Invitation mirrors */
typedef enum pjsip_inv_state {
    PJSIP_INV_STATE_NULL, PJSIP_INV_STATE_CALLING, PJSIP_INV_STATE_INCOMING,
    PJSIP_INV_STATE_EARLY, PJSIP_INV_STATE_CONNECTING, PJSIP_INV_STATE_CONFIRMED,
    PJSIP_INV_STATE_DISCONNECTED
} pjsip_inv_state;

#define PJSIP_ROLE_UAC ...
#define PJSIP_ROLE_UAS ...

pj_status_t pjsip_regc_destroy(pjsip_regc *regc);
pj_status_t pjsip_regc_register(pjsip_regc *regc, pj_bool_t autoreg, pjsip_tx_data **p_tdata);
pj_status_t pjsip_regc_unregister(pjsip_regc *regc, pjsip_tx_data **p_tdata);
pj_status_t pjsip_regc_update_expires(pjsip_regc *regc, pj_uint32_t expires);
pj_status_t pjsip_regc_send(pjsip_regc *regc, pjsip_tx_data *tdata);
