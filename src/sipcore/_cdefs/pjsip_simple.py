"""pjsip-simple: the event-subscription framework (event packages)."""

INCLUDES = """
#include <pjsip-simple/evsub.h>
"""

TYPES = ""

FUNCTIONS = """
pj_status_t pjsip_evsub_init_module(pjsip_endpoint *endpt);
pj_status_t pjsip_evsub_register_pkg(pjsip_module *pkg_mod, const pj_str_t *event_name,
                                     unsigned expires, unsigned accept_cnt,
                                     const pj_str_t accept[]);
"""

CUSTOMIZATIONS = ""
