/* sipcore glue for SDP: the SDP flat form (sipcore.h) of a pjmedia_sdp_session, and a
 * pjmedia_sdp_session from it -- how SDP crosses between PJMEDIA and the Python values.
 */
#include "glue.h"

#include <stdlib.h>
#include <string.h>

/* ---------- pjmedia_sdp_session -> SDP flat form ---------------------------------------- */

static void sc_sdp_put_conn(sc_flat_wr *w, const pjmedia_sdp_conn *c)
{
    if (!c) {
        sc_flat_field(w, "", 0);
        return;
    }
    sc_flat_field(w, "c", 1);
    sc_flat_field(w, c->net_type.ptr, c->net_type.slen);
    sc_flat_field(w, c->addr_type.ptr, c->addr_type.slen);
    sc_flat_field(w, c->addr.ptr, c->addr.slen);
}

static void sc_sdp_put_attrs(sc_flat_wr *w, unsigned n, pjmedia_sdp_attr *const *attr)
{
    unsigned i;
    sc_flat_num(w, n);
    for (i = 0; i < n; i++) {
        sc_flat_field(w, attr[i]->name.ptr, attr[i]->name.slen);
        sc_flat_field(w, attr[i]->value.ptr, attr[i]->value.slen);
    }
}

int sc_sdp_flat(const pjmedia_sdp_session *s, char *buf, int size)
{
    sc_flat_wr w = { buf, size, 0 };
    unsigned i, j;
    sc_flat_field(&w, s->origin.user.ptr, s->origin.user.slen);
    sc_flat_num(&w, s->origin.id);
    sc_flat_num(&w, s->origin.version);
    sc_flat_field(&w, s->origin.net_type.ptr, s->origin.net_type.slen);
    sc_flat_field(&w, s->origin.addr_type.ptr, s->origin.addr_type.slen);
    sc_flat_field(&w, s->origin.addr.ptr, s->origin.addr.slen);
    sc_flat_field(&w, s->name.ptr, s->name.slen);
    sc_flat_field(&w, "", 0);                       /* i= text: PJMEDIA keeps none */
    sc_sdp_put_conn(&w, s->conn);
    sc_flat_num(&w, s->time.start);
    sc_flat_num(&w, s->time.stop);
    sc_sdp_put_attrs(&w, s->attr_count, s->attr);
    sc_flat_num(&w, s->media_count);
    for (i = 0; i < s->media_count; i++) {
        const pjmedia_sdp_media *m = s->media[i];
        sc_flat_field(&w, m->desc.media.ptr, m->desc.media.slen);
        sc_flat_num(&w, m->desc.port);
        sc_flat_num(&w, m->desc.port_count ? m->desc.port_count : 1);
        sc_flat_field(&w, m->desc.transport.ptr, m->desc.transport.slen);
        sc_flat_field(&w, "", 0);                   /* i= text */
        sc_flat_num(&w, m->desc.fmt_count);
        for (j = 0; j < m->desc.fmt_count; j++)
            sc_flat_field(&w, m->desc.fmt[j].ptr, m->desc.fmt[j].slen);
        sc_sdp_put_conn(&w, m->conn);
        sc_sdp_put_attrs(&w, m->attr_count, m->attr);
    }
    return w.pos;
}

/* ---------- SDP flat form -> pjmedia_sdp_session ---------------------------------------- */

static pjmedia_sdp_conn *sc_sdp_get_conn(pj_pool_t *pool, sc_flat_rd *r)
{
    pj_str_t flag = sc_flat_next(r);
    pjmedia_sdp_conn *c;
    if (!r->ok || flag.slen == 0) return NULL;
    c = PJ_POOL_ZALLOC_T(pool, pjmedia_sdp_conn);
    c->net_type = sc_flat_next(r);
    c->addr_type = sc_flat_next(r);
    c->addr = sc_flat_next(r);
    return c;
}

static void sc_sdp_get_attrs(pj_pool_t *pool, sc_flat_rd *r, unsigned *count,
                             pjmedia_sdp_attr **attr)
{
    unsigned i, n = (unsigned) sc_flat_next_num(r);
    if (n > PJMEDIA_MAX_SDP_ATTR) r->ok = 0;
    for (i = 0; r->ok && i < n; i++) {
        attr[i] = PJ_POOL_ZALLOC_T(pool, pjmedia_sdp_attr);
        attr[i]->name = sc_flat_next(r);
        attr[i]->value = sc_flat_next(r);
        if (!attr[i]->value.slen) attr[i]->value.ptr = NULL;
    }
    *count = r->ok ? n : 0;
}

/* One copy of the buffer in the pool holds every string.  NULL when the buffer does not
 * parse or exceeds PJMEDIA's maxima. */
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
    s->origin.user = sc_flat_next(&r);
    s->origin.id = (pj_uint32_t) sc_flat_next_num(&r);
    s->origin.version = (pj_uint32_t) sc_flat_next_num(&r);
    s->origin.net_type = sc_flat_next(&r);
    s->origin.addr_type = sc_flat_next(&r);
    s->origin.addr = sc_flat_next(&r);
    s->name = sc_flat_next(&r);
    (void) sc_flat_next(&r);                        /* i= text: no place in the struct */
    s->conn = sc_sdp_get_conn(pool, &r);
    s->time.start = (pj_uint32_t) sc_flat_next_num(&r);
    s->time.stop = (pj_uint32_t) sc_flat_next_num(&r);
    sc_sdp_get_attrs(pool, &r, &s->attr_count, s->attr);
    n = (unsigned) sc_flat_next_num(&r);
    if (n > PJMEDIA_MAX_SDP_MEDIA) r.ok = 0;
    for (i = 0; r.ok && i < n; i++) {
        pjmedia_sdp_media *m = PJ_POOL_ZALLOC_T(pool, pjmedia_sdp_media);
        unsigned nfmt;
        s->media[i] = m;
        m->desc.media = sc_flat_next(&r);
        m->desc.port = (pj_uint16_t) sc_flat_next_num(&r);
        m->desc.port_count = (unsigned) sc_flat_next_num(&r);
        m->desc.transport = sc_flat_next(&r);
        (void) sc_flat_next(&r);                    /* i= text */
        nfmt = (unsigned) sc_flat_next_num(&r);
        if (nfmt > PJMEDIA_MAX_SDP_FMT) r.ok = 0;
        for (j = 0; r.ok && j < nfmt; j++) m->desc.fmt[j] = sc_flat_next(&r);
        m->desc.fmt_count = r.ok ? nfmt : 0;
        m->conn = sc_sdp_get_conn(pool, &r);
        sc_sdp_get_attrs(pool, &r, &m->attr_count, m->attr);
    }
    s->media_count = r.ok ? n : 0;
    return r.ok && r.cur == r.end ? s : NULL;
}

/* ---------- validating an SDP flat form, from any thread --------------------------------- */

/* The blocks of sc_sdp_validate_flat's pool: malloc'd, through a factory that lives on the
 * caller's stack for the one call.  Nothing is shared with another thread (no caching pool,
 * no endpoint, no lock, nothing of pjlib's per-thread records), so an application thread
 * that pjlib does not know may call it while the poll thread runs. */
static void *sc_own_block_alloc(pj_pool_factory *f, pj_size_t size)
{
    PJ_UNUSED_ARG(f);
    return malloc(size);
}

static void sc_own_block_free(pj_pool_factory *f, void *mem, pj_size_t size)
{
    PJ_UNUSED_ARG(f);
    PJ_UNUSED_ARG(size);
    free(mem);
}

static void sc_own_no_memory(pj_pool_t *pool, pj_size_t size)
{
    PJ_UNUSED_ARG(pool);
    PJ_UNUSED_ARG(size);
}

pj_status_t sc_sdp_validate_flat(const char *flat, int len, int strict)
{
    pj_pool_factory f;
    pj_pool_t *pool;
    pjmedia_sdp_session *s;
    pj_status_t status;
    if (len <= 0) return PJ_EINVAL;
    pj_bzero(&f, sizeof f);
    f.policy.block_alloc = &sc_own_block_alloc;
    f.policy.block_free = &sc_own_block_free;
    f.policy.callback = &sc_own_no_memory;
    /* one block holds the usual SDP (the copy of the form, the session, a few media);
     * larger ones take more blocks */
    pool = pj_pool_create_int(&f, "sc-sdpv", (pj_size_t) len + 8192, 8192, &sc_own_no_memory);
    if (pool == NULL) return PJ_ENOMEM;
    s = sc_sdp_from_flat(pool, flat, len);
    status = s ? pjmedia_sdp_validate2(s, strict ? PJ_TRUE : PJ_FALSE) : PJ_EINVAL;
    pj_pool_destroy_int(pool);
    return status;
}
