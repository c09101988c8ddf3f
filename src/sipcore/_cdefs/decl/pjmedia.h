/* pjmedia and pjmedia-codec: the media endpoint, the codec manager, SDP.
 *
 * cdef-only: read by cffi's cdef, never by a C compiler (see pjlib.h).  The SDP structs are
 * partial and their arrays sized [...], so their layouts and the PJMEDIA_MAX_SDP_* sizes come
 * from the installed headers.  The bandwidth (b=) members are not declared: sipcore's SDP
 * classes have no field for them (the spec has none). */

typedef struct pjmedia_endpt pjmedia_endpt;
/* media (RTPTransport, AudioTransport): only passed between sc_* functions */
typedef struct pjmedia_port pjmedia_port;
typedef struct pjmedia_codec_mgr pjmedia_codec_mgr;
typedef struct pjmedia_codec_info {
    unsigned pt;
    pj_str_t encoding_name;
    unsigned clock_rate;
    unsigned channel_cnt;
    ...;
} pjmedia_codec_info;
#define PJMEDIA_CODEC_MGR_MAX_CODECS ...

pj_status_t pjmedia_endpt_create2(pj_pool_factory *pf, pj_ioqueue_t *ioqueue,
                                  unsigned worker_cnt, pjmedia_endpt **p_endpt);
pj_status_t pjmedia_endpt_destroy2(pjmedia_endpt *endpt);
pjmedia_codec_mgr *pjmedia_endpt_get_codec_mgr(pjmedia_endpt *endpt);
pj_status_t pjmedia_codec_mgr_enum_codecs(pjmedia_codec_mgr *mgr, unsigned *count,
                                          pjmedia_codec_info info[], unsigned *prio);
pj_status_t pjmedia_codec_mgr_set_codec_priority(pjmedia_codec_mgr *mgr,
                                                 const pj_str_t *codec_id, pj_uint8_t prio);

/* pjmedia-codec */
pj_status_t pjmedia_codec_register_audio_codecs(pjmedia_endpt *endpt, const void *c);

/* ---- SDP ------------------------------------------------------------------------------ */

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

/* The m= line member of pjmedia_sdp_media is an anonymous struct whose fmt[] array is sized
 * by PJMEDIA_MAX_SDP_FMT: cffi needs a C name for it to let the compiler fill in the size,
 * and sipcore.h gives it this one. */
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

typedef enum pjmedia_sdp_neg_state {
    PJMEDIA_SDP_NEG_STATE_REMOTE_OFFER, ...
} pjmedia_sdp_neg_state;

pj_status_t pjmedia_sdp_parse(pj_pool_t *pool, char *buf, pj_size_t len,
                              pjmedia_sdp_session **p_sdp);
int pjmedia_sdp_print(const pjmedia_sdp_session *sdp, char *buf, pj_size_t size);
pj_status_t pjmedia_sdp_validate2(const pjmedia_sdp_session *sdp, pj_bool_t strict);

/* ---- m-bridge: the audio bridge (glue_bridge.c) ---- */
typedef struct pjmedia_port pjmedia_port;
