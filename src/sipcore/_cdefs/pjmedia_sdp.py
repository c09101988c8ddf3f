"""pjmedia SDP: the session/media/connection/attribute structs, parser, printer, validator.

The structs are partial (``...;``) and the arrays sized ``[...]``, so their layouts and the
PJMEDIA_MAX_SDP_* sizes come from the installed headers.  The bandwidth (b=) members are not
declared: sipcore's SDP classes have no field for them (the spec has none).
"""

INCLUDES = """
#include <pjmedia/sdp.h>
"""

TYPES = """
#define PJMEDIA_MAX_SDP_FMT ...
#define PJMEDIA_MAX_SDP_ATTR ...
#define PJMEDIA_MAX_SDP_MEDIA ...

typedef struct pjmedia_sdp_attr {
    pj_str_t name;
    pj_str_t value;
} pjmedia_sdp_attr;

typedef struct pjmedia_sdp_conn {
    pj_str_t net_type;
    pj_str_t addr_type;
    pj_str_t addr;
} pjmedia_sdp_conn;

typedef struct {
    pj_str_t media;
    pj_uint16_t port;
    unsigned port_count;
    pj_str_t transport;
    unsigned fmt_count;
    pj_str_t fmt[...];
} sc_sdp_media_desc;

typedef struct pjmedia_sdp_media {
    sc_sdp_media_desc desc;
    pjmedia_sdp_conn *conn;
    unsigned attr_count;
    pjmedia_sdp_attr *attr[...];
    ...;
} pjmedia_sdp_media;

typedef struct pjmedia_sdp_session {
    struct {
        pj_str_t user;
        pj_uint32_t id;
        pj_uint32_t version;
        pj_str_t net_type;
        pj_str_t addr_type;
        pj_str_t addr;
    } origin;
    pj_str_t name;
    pjmedia_sdp_conn *conn;
    struct {
        pj_uint32_t start;
        pj_uint32_t stop;
    } time;
    unsigned attr_count;
    pjmedia_sdp_attr *attr[...];
    unsigned media_count;
    pjmedia_sdp_media *media[...];
    ...;
} pjmedia_sdp_session;
"""

FUNCTIONS = """
void *pj_pool_alloc(pj_pool_t *pool, pj_size_t size);
void *pj_pool_zalloc(pj_pool_t *pool, pj_size_t size);

pj_status_t pjmedia_sdp_parse(pj_pool_t *pool, char *buf, pj_size_t len,
                              pjmedia_sdp_session **p_sdp);
int pjmedia_sdp_print(const pjmedia_sdp_session *sdp, char *buf, pj_size_t size);
pj_status_t pjmedia_sdp_validate(const pjmedia_sdp_session *sdp);
pj_status_t pjmedia_sdp_validate2(const pjmedia_sdp_session *sdp, pj_bool_t strict);
"""

# The m= line member of pjmedia_sdp_media is an anonymous struct whose fmt[] array is sized
# by PJMEDIA_MAX_SDP_FMT; cffi needs a C name for it to let the compiler fill in the size.
CUSTOMIZATIONS = """
typedef __typeof__(((pjmedia_sdp_media *)0)->desc) sc_sdp_media_desc;
"""
