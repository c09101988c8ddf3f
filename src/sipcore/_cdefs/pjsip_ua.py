"""pjsip-ua: client registration (pjsip_regc)."""

INCLUDES = """
#include <pjsip_ua.h>
"""

TYPES = """
typedef struct pjsip_regc pjsip_regc;
"""

FUNCTIONS = """
pj_status_t pjsip_regc_destroy(pjsip_regc *regc);
pj_status_t pjsip_regc_register(pjsip_regc *regc, pj_bool_t autoreg, pjsip_tx_data **p_tdata);
pj_status_t pjsip_regc_unregister(pjsip_regc *regc, pjsip_tx_data **p_tdata);
pj_status_t pjsip_regc_update_expires(pjsip_regc *regc, pj_uint32_t expires);
pj_status_t pjsip_regc_send(pjsip_regc *regc, pjsip_tx_data *tdata);
"""

CUSTOMIZATIONS = ""
