/* sipcore glue: the flat formats of sipcore.h ("flat formats") -- writing and reading fields,
 * and the writers of the URI flat form, the incoming MESSAGE flat buffer and the headers list
 * (the SDP flat form is in glue_sdp.c).
 *
 * Every writer here measures while it writes (sc_flat_wr): it returns the size of the whole
 * form, and the bytes are in the buffer only when that size is at most the buffer's; the
 * caller then calls again with a buffer that big.  So no form is ever cut short and there is
 * no second way of reading what does not fit.
 */
#include "glue.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------- fields -------------------------------------------------------------------- */

void sc_flat_raw(sc_flat_wr *w, const char *p, pj_ssize_t len)
{
    if (len <= 0) return;
    if (len > (pj_ssize_t) (INT_MAX - w->pos)) {   /* (saturates: never fits) */
        w->pos = INT_MAX;
        return;
    }
    if (w->pos + len <= w->size) memcpy(w->buf + w->pos, p, (size_t) len);
    w->pos += (int) len;
}

/* The length of the run at p (of len bytes) before its first 0x00 or 0x01: eight bytes at a
 * time (a byte b is below 2 when (b - 2) borrows and b's top bit was clear), as every field of
 * every received MESSAGE is scanned and the escapes are rare. */
static pj_ssize_t sc_flat_plain(const char *p, pj_ssize_t len)
{
    const uint64_t twos = 0x0202020202020202ull, tops = 0x8080808080808080ull;
    pj_ssize_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        if ((x - twos) & ~x & tops) break;
    }
    while (i < len && (unsigned char) p[i] > 1) i++;
    return i;
}

/* Bytes with 0x00 and 0x01 escaped (0x01 '0', 0x01 '1'): a field without its NUL. */
static void sc_flat_escaped(sc_flat_wr *w, const char *p, pj_ssize_t len)
{
    pj_ssize_t i = sc_flat_plain(p, len);
    while (i < len) {
        sc_flat_raw(w, p, i);
        sc_flat_raw(w, p[i] ? "\001" "1" : "\001" "0", 2);
        p += i + 1;
        len -= i + 1;
        i = sc_flat_plain(p, len);
    }
    sc_flat_raw(w, p, len);
}

void sc_flat_field(sc_flat_wr *w, const char *p, pj_ssize_t len)
{
    if (len < 0) len = 0;
    if (sc_flat_plain(p, len) == len && len < (pj_ssize_t) (INT_MAX - w->pos)) {
        if (w->pos + len < w->size) {               /* the common case: as it is, and a NUL */
            if (len) memcpy(w->buf + w->pos, p, (size_t) len);
            w->buf[w->pos + len] = 0;
        }
        w->pos += (int) len + 1;
        return;
    }
    sc_flat_escaped(w, p, len);
    sc_flat_raw(w, "", 1);
}

/* A number field ("%lu"; snprintf cost more than the rest of a URI's form together). */
void sc_flat_num(sc_flat_wr *w, unsigned long v)
{
    char num[24];
    int i = (int) sizeof(num);
    num[--i] = 0;
    do { num[--i] = (char) ('0' + v % 10); v /= 10; } while (v);
    sc_flat_raw(w, num + i, (pj_ssize_t) sizeof(num) - i);
}

/* The next field, its escapes undone in place (it stays NUL-terminated); r->ok is cleared,
 * and an empty string returned, at the end of the buffer or at a broken escape. */
pj_str_t sc_flat_next(sc_flat_rd *r)
{
    pj_str_t s = { NULL, 0 };
    char *nul, *p, *q;
    if (!r->ok || r->cur >= r->end || !(nul = memchr(r->cur, 0, (size_t) (r->end - r->cur)))) {
        r->ok = 0;
        return s;
    }
    s.ptr = r->cur;
    p = memchr(r->cur, 1, (size_t) (nul - r->cur));
    if (p) {                                      /* rare: undo the escapes */
        for (q = p; p < nul; p++) {
            if (*p != 1) {
                *q++ = *p;
                continue;
            }
            if (p + 1 == nul || (p[1] != '0' && p[1] != '1')) {
                r->ok = 0;
                return s;
            }
            *q++ = (char) (p[1] - '0');
            p++;
        }
        *q = 0;
        s.slen = q - r->cur;
    } else {
        s.slen = nul - r->cur;
    }
    r->cur = nul + 1;
    return s;
}

unsigned long sc_flat_next_num(sc_flat_rd *r)
{
    pj_str_t s = sc_flat_next(r);
    return r->ok ? pj_strtoul(&s) : 0;
}

/* ---------- URI flat form --------------------------------------------------------------- */

/* A (name-)address URI in the URI flat form; 0 (nothing written) when it is not sip:/sips:. */
int sc_uri_write(pjsip_uri *uri, sc_flat_wr *w)
{
    static const char *const names[4] = { "user", "method", "transport", "maddr" };
    const pj_str_t *named[4];
    pjsip_uri *inner;
    const pjsip_sip_uri *su;
    const pjsip_param *p;
    unsigned long n = 0;
    int i;
    if (!uri) return 0;
    inner = (pjsip_uri*) pjsip_uri_get_uri(uri);
    if (!inner || (!PJSIP_URI_SCHEME_IS_SIP(inner) && !PJSIP_URI_SCHEME_IS_SIPS(inner)))
        return 0;
    su = (const pjsip_sip_uri*) inner;
    named[0] = &su->user_param;
    named[1] = &su->method_param;
    named[2] = &su->transport_param;
    named[3] = &su->maddr_param;
    for (i = 0; i < 4; i++) if (named[i]->slen > 0) n++;
    if (su->ttl_param >= 0) n++;
    if (su->lr_param) n++;
    for (p = su->other_param.next; p != &su->other_param; p = p->next) n++;
    if (inner != uri) {             /* PJSIP drops a display name's quotes, not its \-pairs */
        const pj_str_t *d = &((pjsip_name_addr*) uri)->display;
        pj_ssize_t j, start = 0;
        for (j = 0; j + 1 < d->slen; j++) {
            if (d->ptr[j] != '\\') continue;
            sc_flat_escaped(w, d->ptr + start, j - start);
            start = ++j;                /* the character after the backslash, as it is */
        }
        sc_flat_field(w, d->ptr + start, d->slen - start);
    } else {
        sc_flat_field(w, "", 0);
    }
    sc_flat_field(w, su->user.ptr, su->user.slen);
    sc_flat_field(w, su->host.ptr, su->host.slen);
    sc_flat_num(w, su->port < 0 ? 0ul : (unsigned long) su->port);
    sc_flat_field(w, PJSIP_URI_SCHEME_IS_SIPS(su) ? "1" : "0", 1);
    sc_flat_num(w, n);
    for (i = 0; i < 4; i++) {
        if (named[i]->slen <= 0) continue;
        sc_flat_field(w, names[i], (pj_ssize_t) strlen(names[i]));
        sc_flat_field(w, named[i]->ptr, named[i]->slen);
    }
    if (su->ttl_param >= 0) {
        sc_flat_field(w, "ttl", 3);
        sc_flat_num(w, (unsigned long) su->ttl_param);
    }
    if (su->lr_param) {
        sc_flat_field(w, "lr", 2);
        sc_flat_raw(w, "\001", 2);                  /* no value: the mark and its NUL */
    }
    for (p = su->other_param.next; p != &su->other_param; p = p->next) {
        sc_flat_field(w, p->name.ptr, p->name.slen);
        if (p->value.slen > 0) sc_flat_field(w, p->value.ptr, p->value.slen);
        else sc_flat_raw(w, "\001", 2);
    }
    for (p = su->header_param.next; p != &su->header_param; p = p->next) {
        sc_flat_field(w, p->name.ptr, p->name.slen);
        sc_flat_field(w, p->value.ptr, p->value.slen);
    }
    return 1;
}

int sc_uri_pj_flat(pjsip_uri *uri, char *buf, int size)
{
    sc_flat_wr w = { buf, size, 0 };
    return sc_uri_write(uri, &w) ? w.pos : -1;
}

/* ---------- incoming MESSAGE flat buffer ------------------------------------------------ */

/* The body of an incoming MESSAGE: a request with a Content-Type header and an empty body
 * (Content-Length: 0) has no msg->body in PJSIP, but its content type is still the one the
 * header names (spec: SIPEngineGotMessage's content_type is the Content-Type header).  A
 * multipart body PJSIP parses into its parts (msg->body->data is then no text): its bytes
 * are taken from the packet as they came (sc_rdata_raw_body). */
static const pjsip_media_type *sc_message_body(pjsip_rx_data *rdata, const char **data,
                                               unsigned *len)
{
    pjsip_msg *msg = rdata->msg_info.msg;
    const pjsip_ctype_hdr *ct;
    if (msg->body) {
        if (msg->body->print_body == &pjsip_print_text_body) {
            *data = (const char*) msg->body->data;
            *len = msg->body->len;
        } else {
            sc_rdata_raw_body(rdata, data, len);
        }
        return &msg->body->content_type;
    }
    ct = (const pjsip_ctype_hdr*) pjsip_msg_find_hdr(msg, PJSIP_H_CONTENT_TYPE, NULL);
    if (!ct) return NULL;
    *data = "";
    *len = 0;
    return &ct->media;
}

int sc_message_flat(pjsip_rx_data *rdata, char *buf, int size, int *lens)
{
    sc_flat_wr w = { buf, size, 0 };
    pjsip_fromto_hdr *hdrs[2];
    const pjsip_media_type *mt;
    const pjsip_param *p;
    const char *body;
    unsigned body_len;
    int i, start;
    hdrs[0] = rdata->msg_info.to;
    hdrs[1] = rdata->msg_info.from;
    for (i = 0; i < 2; i++) {
        start = w.pos;
        lens[i] = hdrs[i] && sc_uri_write(hdrs[i]->uri, &w) ? w.pos - start : -1;
    }
    lens[2] = lens[3] = -1;
    if ((mt = sc_message_body(rdata, &body, &body_len)) != NULL) {
        start = w.pos;
        sc_flat_raw(&w, mt->type.ptr, mt->type.slen);
        sc_flat_raw(&w, "/", 1);
        sc_flat_raw(&w, mt->subtype.ptr, mt->subtype.slen);
        for (p = mt->param.next; p != &mt->param; p = p->next) {   /* ;name[=value] as sent */
            sc_flat_raw(&w, ";", 1);
            sc_flat_raw(&w, p->name.ptr, p->name.slen);
            if (p->value.slen <= 0) continue;
            sc_flat_raw(&w, "=", 1);
            sc_flat_raw(&w, p->value.ptr, p->value.slen);
        }
        lens[2] = w.pos - start;
        sc_flat_raw(&w, body, (pj_ssize_t) body_len);
        lens[3] = (int) body_len;
    }
    return w.pos;
}

/* ---------- headers list ------------------------------------------------------------------ */

/* RFC 3261 §7.3.3's compact forms, and the full names they stand for. */
static const char *const sc_compact[26] = {
    /* a */ "Accept-Contact", /* b */ "Referred-By", /* c */ "Content-Type",
    /* d */ "Request-Disposition", /* e */ "Content-Encoding", /* f */ "From", /* g */ NULL,
    /* h */ NULL, /* i */ "Call-ID", /* j */ "Reject-Contact", /* k */ "Supported",
    /* l */ "Content-Length", /* m */ "Contact", /* n */ "Identity-Info", /* o */ "Event",
    /* p */ NULL, /* q */ NULL, /* r */ "Refer-To", /* s */ "Subject", /* t */ "To",
    /* u */ "Allow-Events", /* v */ "Via", /* w */ NULL, /* x */ "Session-Expires",
    /* y */ "Identity", /* z */ NULL
};

/* Every header of a received message as the packet carries it: the name (a compact form
 * given as its full name) and the value with its folding undone (each line break and the
 * blanks around it become one space, RFC 3261 §7.3.1) -- not as PJSIP would print it again,
 * which loses what its parser dropped or decoded (a URI's escapes, parameters it does not
 * print in a Contact).  Headers before the empty line, in the packet's order. */
int sc_msg_headers(pjsip_rx_data *rdata, char *buf, int size)
{
    sc_flat_wr w = { buf, size, 0 };
    const char *p = rdata->msg_info.msg_buf, *end = p + rdata->msg_info.len, *eol;
    char stack[2048], *text = stack, *bigger;
    int cap = (int) sizeof(stack), n, i, v, vend;
    eol = memchr(p, '\n', (size_t) (end - p));          /* past the start line */
    p = eol ? eol + 1 : end;
    while (p < end && *p != '\r' && *p != '\n') {
        n = 0;                                          /* one header, unfolded, into text */
        for (;;) {
            const char *line_end;
            eol = memchr(p, '\n', (size_t) (end - p));
            line_end = eol ? eol : end;
            if (line_end > p && line_end[-1] == '\r') line_end--;
            while (n > 0 && p < line_end && (*p == ' ' || *p == '\t')) p++;
            if (n + (line_end - p) + 1 > cap) {
                while (n + (line_end - p) + 1 > cap) cap *= 2;
                bigger = (char*) malloc((size_t) cap);
                if (!bigger) { if (text != stack) free(text); return -1; }
                memcpy(bigger, text, (size_t) n);
                if (text != stack) free(text);
                text = bigger;
            }
            if (n > 0) {                                /* the fold: one space */
                while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t')) n--;
                text[n++] = ' ';
            }
            memcpy(text + n, p, (size_t) (line_end - p));
            n += (int) (line_end - p);
            p = eol ? eol + 1 : end;
            if (p >= end || (*p != ' ' && *p != '\t')) break;
        }
        for (i = 0; i < n && text[i] != ':'; i++) {}
        if (i == n) continue;                           /* no "name:": not reported */
        vend = i;
        while (vend > 0 && (text[vend - 1] == ' ' || text[vend - 1] == '\t')) vend--;
        v = i + 1;
        while (v < n && (text[v] == ' ' || text[v] == '\t')) v++;
        while (n > v && (text[n - 1] == ' ' || text[n - 1] == '\t')) n--;
        if (vend == 1 && ((text[0] | 0x20) >= 'a' && (text[0] | 0x20) <= 'z') &&
            sc_compact[(text[0] | 0x20) - 'a'])
            sc_flat_field(&w, sc_compact[(text[0] | 0x20) - 'a'],
                          (pj_ssize_t) strlen(sc_compact[(text[0] | 0x20) - 'a']));
        else
            sc_flat_field(&w, text, vend);
        sc_flat_field(&w, text + v, n - v);
    }
    if (text != stack) free(text);
    return w.pos;
}

/* Add the headers of a headers list (ended by an empty name) to a request.  The list is
 * copied into the request's pool, where its fields are read in place. */
pj_status_t sc_tdata_add_headers(pjsip_tx_data *tdata, const char *list)
{
    const char *p = list;
    sc_flat_rd r;
    pj_str_t name, value;
    pj_status_t st = PJ_SUCCESS;
    size_t len;
    while (*p) {                                    /* to the empty name: its length */
        p += strlen(p) + 1;
        p += strlen(p) + 1;
    }
    len = (size_t) (p - list) + 1;
    r.cur = (char*) pj_pool_alloc(tdata->pool, (pj_size_t) len);
    memcpy(r.cur, list, len);
    r.end = r.cur + len;
    r.ok = 1;
    while (st == PJ_SUCCESS) {
        name = sc_flat_next(&r);
        if (!r.ok || name.slen == 0) break;
        value = sc_flat_next(&r);
        if (!r.ok) return PJSIP_EINVALIDHDR;
        st = sc_tdata_add_hdr(tdata, &name, &value);
    }
    return r.ok ? st : PJSIP_EINVALIDHDR;
}
