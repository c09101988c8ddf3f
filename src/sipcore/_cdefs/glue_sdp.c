/* sipcore glue for SDP: a pjmedia_sdp_session from the SDP flat form (sipcore.h), and the
 * check that pjmedia_sdp_print's text of a session gives every field back.
 */
#include "glue.h"

#include <string.h>

/* Whether the text pjmedia_sdp_print writes of sdp gives every field back (sdp's
 * _from_printed): no NUL in any field (the printer stops there), no blank in the fields that
 * are one word of a line, no line end anywhere, no ':' in an attribute name.  PJMEDIA's parser
 * lets a few such fields through from a peer's odd SDP; those sessions are read from the
 * struct instead. */
static int sc_sdp_str_ok(const pj_str_t *s, const char *bad)
{
    pj_ssize_t i;
    for (i = 0; i < s->slen; i++) {
        char c = s->ptr[i];
        if (c == '\0' || c == '\r' || c == '\n' || (bad && strchr(bad, c))) return 0;
    }
    return 1;
}

static int sc_sdp_attrs_ok(unsigned n, pjmedia_sdp_attr *const *attr)
{
    unsigned i;
    for (i = 0; i < n; i++)
        if (!sc_sdp_str_ok(&attr[i]->name, " \t:") || !sc_sdp_str_ok(&attr[i]->value, NULL))
            return 0;
    return 1;
}

static int sc_sdp_conn_ok(const pjmedia_sdp_conn *c)
{
    return !c || (sc_sdp_str_ok(&c->net_type, " \t") && sc_sdp_str_ok(&c->addr_type, " \t") &&
                  sc_sdp_str_ok(&c->addr, " \t"));
}

int sc_sdp_plain(const pjmedia_sdp_session *s)
{
    unsigned i, j;
    const char *w = " \t";
    if (!sc_sdp_str_ok(&s->origin.user, w) || !sc_sdp_str_ok(&s->origin.net_type, w) ||
        !sc_sdp_str_ok(&s->origin.addr_type, w) || !sc_sdp_str_ok(&s->origin.addr, w) ||
        !sc_sdp_str_ok(&s->name, NULL) || !sc_sdp_conn_ok(s->conn) ||
        !sc_sdp_attrs_ok(s->attr_count, s->attr))
        return 0;
    for (i = 0; i < s->media_count; i++) {
        const pjmedia_sdp_media *m = s->media[i];
        if (!sc_sdp_str_ok(&m->desc.media, w) || !sc_sdp_str_ok(&m->desc.transport, w) ||
            !sc_sdp_conn_ok(m->conn) || !sc_sdp_attrs_ok(m->attr_count, m->attr))
            return 0;
        for (j = 0; j < m->desc.fmt_count; j++)
            if (!sc_sdp_str_ok(&m->desc.fmt[j], w)) return 0;
    }
    return 1;
}

/* A pjmedia_sdp_session in pool from a buffer in the SDP flat form (sipcore.h; written by
 * sdp._flat).  One copy of the buffer in the pool holds every
 * string.  NULL when the buffer does not parse or exceeds PJMEDIA's maxima. */
typedef struct { char *cur, *end; int ok; } sc_flat_rd;

static pj_str_t sc_flat_str(sc_flat_rd *r)
{
    pj_str_t s = { NULL, 0 };
    char *nul;
    if (!r->ok || r->cur >= r->end || !(nul = memchr(r->cur, 0, (size_t) (r->end - r->cur)))) {
        r->ok = 0;
        return s;
    }
    s.ptr = r->cur;
    s.slen = nul - r->cur;
    r->cur = nul + 1;
    return s;
}

static unsigned long sc_flat_num(sc_flat_rd *r)
{
    pj_str_t s = sc_flat_str(r);
    return r->ok ? pj_strtoul(&s) : 0;
}

static pjmedia_sdp_conn *sc_flat_conn(pj_pool_t *pool, sc_flat_rd *r)
{
    pj_str_t flag = sc_flat_str(r);
    pjmedia_sdp_conn *c;
    if (!r->ok || flag.slen == 0) return NULL;
    c = PJ_POOL_ZALLOC_T(pool, pjmedia_sdp_conn);
    c->net_type = sc_flat_str(r);
    c->addr_type = sc_flat_str(r);
    c->addr = sc_flat_str(r);
    return c;
}

static void sc_flat_attrs(pj_pool_t *pool, sc_flat_rd *r, unsigned *count, pjmedia_sdp_attr **attr)
{
    unsigned i, n = (unsigned) sc_flat_num(r);
    if (n > PJMEDIA_MAX_SDP_ATTR) r->ok = 0;
    for (i = 0; r->ok && i < n; i++) {
        attr[i] = PJ_POOL_ZALLOC_T(pool, pjmedia_sdp_attr);
        attr[i]->name = sc_flat_str(r);
        attr[i]->value = sc_flat_str(r);
        if (!attr[i]->value.slen) attr[i]->value.ptr = NULL;
    }
    *count = r->ok ? n : 0;
}

pjmedia_sdp_session *sc_sdp_from_flat(pj_pool_t *pool, const char *flat, int len)
{
    pjmedia_sdp_session *s;
    sc_flat_rd r;
    unsigned i, j, n;
    if (len <= 0 || flat[len - 1] != '\0') return NULL;
    r.cur = (char *) pj_pool_alloc(pool, (pj_size_t) len);
    memcpy(r.cur, flat, (size_t) len);
    r.end = r.cur + len;
    r.ok = 1;
    s = PJ_POOL_ZALLOC_T(pool, pjmedia_sdp_session);
    s->origin.user = sc_flat_str(&r);
    s->origin.id = (pj_uint32_t) sc_flat_num(&r);
    s->origin.version = (pj_uint32_t) sc_flat_num(&r);
    s->origin.net_type = sc_flat_str(&r);
    s->origin.addr_type = sc_flat_str(&r);
    s->origin.addr = sc_flat_str(&r);
    s->name = sc_flat_str(&r);
    (void) sc_flat_str(&r);                         /* i= text: no place in the struct */
    s->conn = sc_flat_conn(pool, &r);
    s->time.start = (pj_uint32_t) sc_flat_num(&r);
    s->time.stop = (pj_uint32_t) sc_flat_num(&r);
    sc_flat_attrs(pool, &r, &s->attr_count, s->attr);
    n = (unsigned) sc_flat_num(&r);
    if (n > PJMEDIA_MAX_SDP_MEDIA) r.ok = 0;
    for (i = 0; r.ok && i < n; i++) {
        pjmedia_sdp_media *m = PJ_POOL_ZALLOC_T(pool, pjmedia_sdp_media);
        unsigned nfmt;
        s->media[i] = m;
        m->desc.media = sc_flat_str(&r);
        m->desc.port = (pj_uint16_t) sc_flat_num(&r);
        m->desc.port_count = (unsigned) sc_flat_num(&r);
        m->desc.transport = sc_flat_str(&r);
        (void) sc_flat_str(&r);                     /* i= text */
        nfmt = (unsigned) sc_flat_num(&r);
        if (nfmt > PJMEDIA_MAX_SDP_FMT) r.ok = 0;
        for (j = 0; r.ok && j < nfmt; j++) m->desc.fmt[j] = sc_flat_str(&r);
        m->desc.fmt_count = r.ok ? nfmt : 0;
        m->conn = sc_flat_conn(pool, &r);
        sc_flat_attrs(pool, &r, &m->attr_count, m->attr);
    }
    s->media_count = r.ok ? n : 0;
    return r.ok && r.cur == r.end ? s : NULL;
}
