/* pjnath: its initialisation (error texts) and what Python reads of NAT type detection
 * (nat_detect.h).  The detection itself is
 * started by glue_nat.c (sc_nat_detect, in sipcore.h).
 *
 * cdef-only: read by cffi's cdef, never by a C compiler (see pjlib.h); the values come from
 * the installed headers. */

typedef enum pj_stun_nat_type {
    PJ_STUN_NAT_TYPE_UNKNOWN,
    PJ_STUN_NAT_TYPE_ERR_UNKNOWN,
    PJ_STUN_NAT_TYPE_OPEN,
    PJ_STUN_NAT_TYPE_BLOCKED,
    PJ_STUN_NAT_TYPE_SYMMETRIC_UDP,
    PJ_STUN_NAT_TYPE_FULL_CONE,
    PJ_STUN_NAT_TYPE_SYMMETRIC,
    PJ_STUN_NAT_TYPE_RESTRICTED,
    PJ_STUN_NAT_TYPE_PORT_RESTRICTED,
    ...
} pj_stun_nat_type;

/* registers pjnath's error texts with pjlib: once after each pj_init() */
pj_status_t pjnath_init(void);
