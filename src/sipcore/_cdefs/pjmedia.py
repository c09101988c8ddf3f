"""pjmedia and pjmedia-codec: the media endpoint and the codec manager."""

INCLUDES = """
#include <pjmedia.h>
#include <pjmedia-codec.h>
"""

TYPES = """
typedef struct pjmedia_endpt pjmedia_endpt;
typedef struct pjmedia_codec_mgr pjmedia_codec_mgr;
typedef struct pjmedia_codec_info {
    unsigned pt;
    pj_str_t encoding_name;
    unsigned clock_rate;
    unsigned channel_cnt;
    ...;
} pjmedia_codec_info;
#define PJMEDIA_CODEC_MGR_MAX_CODECS ...
"""

FUNCTIONS = """
pj_status_t pjmedia_endpt_create2(pj_pool_factory *pf, pj_ioqueue_t *ioqueue,
                                  unsigned worker_cnt, pjmedia_endpt **p_endpt);
pj_status_t pjmedia_endpt_destroy2(pjmedia_endpt *endpt);
pjmedia_codec_mgr *pjmedia_endpt_get_codec_mgr(pjmedia_endpt *endpt);
pj_status_t pjmedia_codec_register_audio_codecs(pjmedia_endpt *endpt, const void *c);
pj_status_t pjmedia_codec_mgr_enum_codecs(pjmedia_codec_mgr *mgr, unsigned *count,
                                          pjmedia_codec_info info[], unsigned *prio);
pj_status_t pjmedia_codec_mgr_set_codec_priority(pjmedia_codec_mgr *mgr,
                                                 const pj_str_t *codec_id, pj_uint8_t prio);
"""

CUSTOMIZATIONS = ""
