/* sipcore glue: what a correct UAS answers that no primitive handles (issue #14).
 *
 *   1. mod-sipcore-check, just ahead of the transaction layer: a request that RFC 3261 calls
 *      invalid gets its 400 (or 420, 488) here, before any transaction, dialog or Python sees
 *      it; a response that is invalid the same way is dropped (RFC 3261 §18.1.2: a client
 *      discards what it cannot use).  Invalid means:
 *        - two Call-ID, From, To, CSeq, Max-Forwards, Content-Length or Content-Type headers
 *          (RFC 3261 §7.3.1/§20: these appear once; RFC 4475 §3.1.2.19 and friends);
 *        - over a datagram transport, a Content-Length larger than the body the datagram
 *          carries (RFC 3261 §18.3, RFC 4475 §3.1.2.11); bytes past a smaller Content-Length
 *          are discarded, as §18.3 says (PJSIP kept them);
 *        - a CSeq whose method is not the request's (§8.1.1.5; RFC 4475 §3.1.2.x);
 *        - a Require naming an extension PJSIP's endpoint does not support: 420 with
 *          Unsupported (§8.2.2.3; not for ACK and CANCEL);
 *        - a body with a Content-Encoding other than identity: 415 with Accept-Encoding
 *          (§8.2.3);
 *        - an SDP offer (INVITE, UPDATE) that PJMEDIA would cut down to fit its compile-time
 *          limits (more m-lines, formats, attributes or bandwidths than it holds, a port above
 *          65535, an o= session id or version above 2^32-1): 488 with a Warning saying which.
 *          PJMEDIA's parser silently drops what does not fit, and the application would get
 *          a different SDP than the peer sent.
 *      The checks read the parsed message only (one walk over its header list per request),
 *      and the SDP scan runs only on INVITE/UPDATE bodies of type application/sdp.
 *   2. The answers to requests outside dialogs that nobody took (sc_uas_unhandled, called by
 *      mod-sipcore): OPTIONS 200 with Allow, Accept and Supported (§11.2); 481 for requests
 *      that only exist inside a dialog or transaction (BYE, CANCEL, NOTIFY, INFO, UPDATE,
 *      PRACK: §12.2.2, §15.1.2, §9.2); 405 with Allow for REGISTER, SUBSCRIBE, PUBLISH and
 *      REFER (known, not served: §8.2.1); 501 with Allow for any other method (§8.2.1); ACK
 *      is never answered.  Every answer is stateful (retransmissions absorbed), in C: no
 *      Python per request.
 *   3. sc_rdata_raw_body: the bytes of a received message's body as they came, for the
 *      bodies PJSIP parses into a structure (multipart, whose msg->body has no data).
 *   4. Request lines PJSIP's parser refuses but RFC 3261 answers: a SIP-Version other than
 *      SIP/2.0 gets 505 (§21.5.7; RFC 4475's "badvers" case), a Request-URI scheme other than
 *      sip, sips and tel gets 416 (§8.2.2.1; RFC 4475's "unkscm" case).  PJSIP drops both as
 *      syntax errors (its parser fails on the request line) and only tells its drop-data
 *      callback.  sc_on_dropped rewrites that request line in place to
 *      "METHOD sip:x SIP/2.0" (right-aligned, so it ends where the old one did) and hands the
 *      shifted message back to PJSIP's parser (pjsip_tp_dropped_data.len, made for this);
 *      mod-sipcore-check then finds the request it marked and answers it 505/416 through a
 *      transaction like any refusal.  An ACK is never answered; a request line too short to
 *      rewrite, or junk, stays dropped.
 */
#include "glue.h"

#include <string.h>

static pjsip_endpoint *sc_uas_endpt = NULL;

/* ---------- 3. a message's body bytes ------------------------------------------------------ */

/* Where the header part of a received packet ends (the byte after the empty line), or -1. */
static pj_ssize_t sc_header_end(const char *buf, pj_ssize_t len)
{
    pj_ssize_t i;
    for (i = 0; i + 1 < len; i++) {
        if (buf[i] != '\n') continue;
        if (buf[i + 1] == '\n') return i + 2;
        if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n') return i + 3;
    }
    return -1;
}

/* The bytes the packet carries after its headers: all of them (avail), and the body as
 * Content-Length bounds it.  0 when the packet has no empty line after its headers. */
static int sc_rdata_tail(pjsip_rx_data *rdata, const char **data, pj_ssize_t *avail)
{
    pjsip_msg_body *body = rdata->msg_info.msg->body;
    pj_ssize_t end;
    if (body && body->print_body == &pjsip_print_text_body) {   /* the common case */
        *data = (const char*) body->data;
        *avail = (pj_ssize_t) body->len;
        return 1;
    }
    end = sc_header_end(rdata->msg_info.msg_buf, (pj_ssize_t) rdata->msg_info.len);
    if (end < 0) return 0;
    *data = rdata->msg_info.msg_buf + end;
    *avail = (pj_ssize_t) rdata->msg_info.len - end;
    return 1;
}

int sc_rdata_raw_body(pjsip_rx_data *rdata, const char **data, unsigned *len)
{
    pj_ssize_t avail;
    if (!sc_rdata_tail(rdata, data, &avail)) {
        *data = "";
        *len = 0;
        return 0;
    }
    if (rdata->msg_info.clen && rdata->msg_info.clen->len >= 0 &&
        rdata->msg_info.clen->len < avail)
        avail = rdata->msg_info.clen->len;
    *len = (unsigned) avail;
    return 1;
}

/* ---------- 1. mod-sipcore-check ------------------------------------------------------------ */

static const pj_str_t sc_str_content_encoding = { "Content-Encoding", 16 }, sc_str_e = { "e", 1 };

/* The first header that appears twice among those RFC 3261 allows once (NULL: none), the
 * Content-Encoding header in *enc (NULL: none) and whether a Require header is there. */
static int sc_has_require;

static const char *sc_scan_headers(pjsip_msg *msg, pjsip_generic_string_hdr **enc)
{
    unsigned seen = 0, bit;
    pjsip_hdr *h;
    *enc = NULL;
    sc_has_require = 0;
    for (h = msg->hdr.next; h != &msg->hdr; h = h->next) {
        switch (h->type) {
        case PJSIP_H_CALL_ID: bit = 1; break;
        case PJSIP_H_FROM: bit = 2; break;
        case PJSIP_H_TO: bit = 4; break;
        case PJSIP_H_CSEQ: bit = 8; break;
        case PJSIP_H_MAX_FORWARDS: bit = 16; break;
        case PJSIP_H_CONTENT_LENGTH: bit = 32; break;
        case PJSIP_H_CONTENT_TYPE: bit = 64; break;
        case PJSIP_H_REQUIRE: sc_has_require = 1; continue;
        case PJSIP_H_OTHER:
            if ((h->name.slen == 16 && pj_stricmp(&h->name, &sc_str_content_encoding) == 0) ||
                (h->name.slen == 1 && pj_stricmp(&h->name, &sc_str_e) == 0))
                *enc = (pjsip_generic_string_hdr*) h;
            continue;
        default: continue;
        }
        if (seen & bit) return h->name.ptr ? h->name.ptr : "a header";
        seen |= bit;
    }
    return NULL;
}

/* What is wrong with the message's framing or headers (a 400's reason), NULL: nothing.
 * Also discards the bytes of a datagram past its Content-Length (RFC 3261 §18.3). */
static const char *sc_invalid(pjsip_rx_data *rdata, char *why, size_t cap,
                              pjsip_generic_string_hdr **enc)
{
    pjsip_msg *msg = rdata->msg_info.msg;
    const char *dup = sc_scan_headers(msg, enc);
    pjsip_clen_hdr *clen = rdata->msg_info.clen;
    if (msg->type == PJSIP_REQUEST_MSG && rdata->msg_info.cseq &&
        pjsip_method_cmp(&rdata->msg_info.cseq->method, &msg->line.req.method) != 0)
        return "CSeq method does not match the request's";     /* RFC 3261 §8.1.1.5 */
    if (dup) {
        const char *end = dup;
        while (*end && *end != ':' && *end != ' ' && *end != '\t' && end - dup < 40) end++;
        pj_ansi_snprintf(why, cap, "Duplicate %.*s header", (int) (end - dup), dup);
        return why;
    }
    if (clen && clen->len > 0 && rdata->tp_info.transport &&
        !(rdata->tp_info.transport->flag & PJSIP_TRANSPORT_RELIABLE)) {
        const char *data;
        pj_ssize_t avail;
        pjsip_msg_body *body = rdata->msg_info.msg->body;
        if (!sc_rdata_tail(rdata, &data, &avail)) avail = 0;
        if (clen->len > avail) return "Content-Length larger than the datagram";
        if (clen->len < avail && body && body->print_body == &pjsip_print_text_body)
            body->len = (unsigned) clen->len;
    }
    return NULL;
}

/* The first option tag of the request's Require headers that the endpoint's Supported
 * capability does not list; its text in tag. 0: all supported. */
static int sc_unsupported(pjsip_msg *msg, pj_str_t *tag)
{
    const pjsip_require_hdr *req = NULL;
    const pjsip_supported_hdr *sup;
    unsigned i, j;
    while ((req = (const pjsip_require_hdr*) pjsip_msg_find_hdr(
                msg, PJSIP_H_REQUIRE, req ? req->next : NULL)) != NULL) {
        sup = (const pjsip_supported_hdr*) pjsip_endpt_get_capability(sc_uas_endpt,
                                                                     PJSIP_H_SUPPORTED, NULL);
        for (i = 0; i < req->count; i++) {
            int found = 0;
            for (j = 0; sup && j < sup->count && !found; j++)
                found = pj_stricmp(&req->values[i], &sup->values[j]) == 0;
            if (!found) {
                *tag = req->values[i];
                return 1;
            }
        }
    }
    return 0;
}

/* ---- SDP that PJMEDIA would change --------------------------------------------------------- */

static int sc_num_above(const char *p, const char *end, unsigned long long limit)
{
    unsigned long long v = 0;
    int digits = 0;
    while (p < end && *p == ' ') p++;
    for (; p < end && *p >= '0' && *p <= '9'; p++, digits++) {
        v = v * 10 + (unsigned) (*p - '0');
        if (v > limit || digits > 20) return 1;
    }
    return 0;
}

/* Skip n space-separated fields of the line [p, end). */
static const char *sc_skip_fields(const char *p, const char *end, int n)
{
    while (n-- > 0) {
        while (p < end && *p != ' ') p++;
        while (p < end && *p == ' ') p++;
    }
    return p;
}

/* One more of something PJMEDIA holds at most limit of: "more than <limit> <what>" in why
 * when that is too many, NULL otherwise. */
static const char *sc_past(unsigned *count, unsigned limit, const char *what, char *why,
                           size_t cap)
{
    if (++*count <= limit) return NULL;
    pj_ansi_snprintf(why, cap, "more than %u %s", limit, what);
    return why;
}

/* Why PJMEDIA's parser would not carry this SDP as it is (a Warning's text), NULL: it would. */
static const char *sc_sdp_beyond_limits(const char *p, pj_ssize_t len, char *why, size_t cap)
{
    const char *end = p + len, *line, *eol, *r;
    unsigned media = 0, attrs = 0, bandw = 0;
    for (line = p; line < end; line = eol + 1) {
        eol = memchr(line, '\n', (size_t) (end - line));
        if (!eol) eol = end;
        if (eol - line < 2 || line[1] != '=') continue;
        switch (line[0]) {
        case 'm': {
            const char *q = sc_skip_fields(line + 2, eol, 1);    /* the port[/count] */
            unsigned fmts = 0;
            if ((r = sc_past(&media, PJMEDIA_MAX_SDP_MEDIA, "m-lines", why, cap))) return r;
            if (sc_num_above(q, eol, 65535)) return "a port above 65535";
            q = sc_skip_fields(q, eol, 2);                       /* the formats */
            while (q < eol && *q != '\r') {
                if ((r = sc_past(&fmts, PJMEDIA_MAX_SDP_FMT, "formats in an m-line", why, cap)))
                    return r;
                q = sc_skip_fields(q, eol, 1);
            }
            attrs = bandw = 0;
            break;
        }
        case 'a':
            if ((r = sc_past(&attrs, PJMEDIA_MAX_SDP_ATTR, "attributes in a section", why, cap)))
                return r;
            break;
        case 'b':
            if ((r = sc_past(&bandw, PJMEDIA_MAX_SDP_BANDW, "b= lines in a section", why, cap)))
                return r;
            break;
        case 'o': {
            const char *q = sc_skip_fields(line + 2, eol, 1);    /* sess-id, sess-version */
            if (sc_num_above(q, eol, 0xFFFFFFFFull) ||
                sc_num_above(sc_skip_fields(q, eol, 1), eol, 0xFFFFFFFFull))
                return "an o= session id or version above 4294967295";
            break;
        }
        default:
            break;
        }
    }
    return NULL;
}

static const pj_str_t sc_str_application = { "application", 11 }, sc_str_sdp = { "sdp", 3 };

static const char *sc_sdp_check(pjsip_rx_data *rdata, char *why, size_t cap)
{
    pjsip_msg *msg = rdata->msg_info.msg;
    pjsip_msg_body *body = msg->body;
    if (msg->line.req.method.id != PJSIP_INVITE_METHOD &&
        pj_strcmp2(&msg->line.req.method.name, "UPDATE") != 0)
        return NULL;
    if (!body || body->print_body != &pjsip_print_text_body ||
        pj_stricmp(&body->content_type.type, &sc_str_application) != 0 ||
        pj_stricmp(&body->content_type.subtype, &sc_str_sdp) != 0)
        return NULL;
    return sc_sdp_beyond_limits((const char*) body->data, (pj_ssize_t) body->len, why, cap);
}

/* A stateful final response (retransmissions of the request are absorbed by its
 * transaction), with the given headers; stateless when a transaction cannot be made.  When
 * the transaction was made but the response could not be sent (too large for PJSIP's print
 * buffer: a request with dozens of Via headers, found by the message fuzzer), nothing more:
 * the transaction ends by itself, and PJSIP asserts that a request with a transaction is
 * never answered statelessly (an abort under make asan and in the normal build alike). */
static void sc_uas_respond(pjsip_rx_data *rdata, int code, const char *reason,
                           const pjsip_hdr *hdrs)
{
    pj_str_t r, *pr = NULL;
    if (reason) {
        r = pj_str((char*) reason);
        pr = &r;
    }
    if (pjsip_endpt_respond(sc_uas_endpt, NULL, rdata, code, pr, hdrs, NULL, NULL) != PJ_SUCCESS
        && pjsip_rdata_get_tsx(rdata) == NULL)
        pjsip_endpt_respond_stateless(sc_uas_endpt, rdata, code, pr, hdrs, NULL);
}

/* The transaction of this request exists already (a retransmission of one answered here):
 * the transaction layer, next, re-sends its response. */
static int sc_has_tsx(pjsip_rx_data *rdata)
{
    pj_str_t key;
    pjsip_transaction *tsx;
    if (pjsip_tsx_create_key(rdata->tp_info.pool, &key, PJSIP_ROLE_UAS,
                             &rdata->msg_info.cseq->method, rdata) != PJ_SUCCESS)
        return 0;
    tsx = pjsip_tsx_layer_find_tsx(&key, PJ_FALSE);
    return tsx != NULL;
}

/* ---------- 4. 505 and 416 for request lines PJSIP's parser refuses ------------------------- */

/* The request sc_on_dropped rewrote (its first byte, where PJSIP's parser starts again) and
 * its answer.  Only the thread that reads the transport touches it, within one
 * pjsip_tpmgr_receive_packet(); every drop and every request clears it. */
static __thread const char *sc_marked_line;
static __thread int sc_marked_code;

static int sc_token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("-.!%*_+`'~", c) != NULL);
}

/* "SIP/" 1*DIGIT "." 1*DIGIT (RFC 3261 §25.1), any case */
static int sc_is_version(const char *v, const char *end)
{
    const char *dot;
    if (end - v < 7 || pj_ansi_strnicmp(v, "SIP/", 4) != 0) return 0;
    v += 4;
    for (dot = v; dot < end && *dot >= '0' && *dot <= '9'; ++dot) {}
    if (dot == v || dot >= end || *dot != '.') return 0;
    for (v = ++dot; v < end && *v >= '0' && *v <= '9'; ++v) {}
    return v == end && v > dot;
}

static int sc_known_scheme(const char *s, const char *colon)
{
    pj_ssize_t n = colon - s;
    return (n == 3 && pj_ansi_strnicmp(s, "sip", 3) == 0) ||
           (n == 4 && pj_ansi_strnicmp(s, "sips", 4) == 0) ||
           (n == 3 && pj_ansi_strnicmp(s, "tel", 3) == 0);
}

static void sc_on_dropped(pjsip_tp_dropped_data *dd)
{
    static const char tail[] = " sip:x SIP/2.0";
    char *p = (char*) dd->data, *line_end, *m_end, *u, *u_end, *colon, *start;
    pj_size_t mlen, need;
    int code;
    sc_marked_line = NULL;
    if (dd->status != PJSIP_EINVALIDMSG || p == NULL || dd->len < 16)
        return;
    for (line_end = p; line_end < p + dd->len && *line_end != '\r' && *line_end != '\n'; ++line_end) {}
    if (line_end >= p + dd->len)
        return;
    for (m_end = p; m_end < line_end && sc_token_char(*m_end); ++m_end) {}
    if (m_end == p || m_end >= line_end || *m_end != ' ' || (m_end - p == 3 && memcmp(p, "ACK", 3) == 0))
        return;                                 /* not a request line (a response, junk), or ACK */
    u = m_end + 1;
    for (u_end = u; u_end < line_end && *u_end != ' '; ++u_end) {}
    if (u_end >= line_end || !sc_is_version(u_end + 1, line_end))
        return;
    if (!(line_end - (u_end + 1) == 7 && pj_ansi_strnicmp(u_end + 1, "SIP/2.0", 7) == 0)) {
        code = 505;
    } else {
        for (colon = u; colon < u_end && sc_token_char(*colon) && *colon != '.'; ++colon) {}
        if (colon == u || colon >= u_end || *colon != ':' || sc_known_scheme(u, colon))
            return;                             /* something else is wrong: dropped */
        code = 416;
    }
    mlen = (pj_size_t) (m_end - p);
    need = mlen + sizeof(tail) - 1;
    if ((pj_size_t) (line_end - p) <= need)
        return;                                 /* no room for the shift PJSIP needs */
    start = line_end - need;
    memmove(start, p, mlen);
    memcpy(start + mlen, tail, sizeof(tail) - 1);
    dd->len = (pj_size_t) (start - p);          /* PJSIP skips this much and parses again */
    sc_marked_line = start;
    sc_marked_code = code;
}

static const pj_str_t sc_str_identity = { "identity", 8 };
static const pj_str_t sc_str_unsupported = { "Unsupported", 11 };
static const pj_str_t sc_str_accept_encoding = { "Accept-Encoding", 15 };

/* Answer the request with code and one header (hdr may be NULL: none) -- unless it is a
 * retransmission of one answered already, which the transaction layer re-answers.  PJ_TRUE
 * when answered here. */
static pj_bool_t sc_refuse(pjsip_rx_data *rdata, int code, const char *reason, pjsip_hdr *hdr)
{
    pjsip_hdr list;
    if (sc_has_tsx(rdata)) return PJ_FALSE;
    pj_list_init(&list);
    if (hdr) pj_list_push_back(&list, hdr);
    sc_uas_respond(rdata, code, reason, &list);
    return PJ_TRUE;
}

static pjsip_hdr *sc_string_hdr(pjsip_rx_data *rdata, const pj_str_t *name, const pj_str_t *value)
{
    return (pjsip_hdr*) pjsip_generic_string_hdr_create(rdata->tp_info.pool, name, value);
}

static pj_bool_t sc_check_rx_request(pjsip_rx_data *rdata)
{
    char buf[96];
    pj_str_t tag, host, text;
    pjsip_generic_string_hdr *enc;
    const char *why;
    pjsip_msg *msg = rdata->msg_info.msg;
    int is_ack = msg->line.req.method.id == PJSIP_ACK_METHOD;
    if (sc_marked_line != NULL) {               /* 4.: a request line rewritten for its answer */
        int marked = sc_marked_line == rdata->msg_info.msg_buf;
        sc_marked_line = NULL;
        if (marked)
            return is_ack ? PJ_TRUE : sc_refuse(rdata, sc_marked_code, NULL, NULL);
    }
    why = sc_invalid(rdata, buf, sizeof(buf), &enc);
    if (why)                                        /* (an ACK is never answered) */
        return is_ack ? PJ_TRUE : sc_refuse(rdata, 400, why, NULL);
    if (sc_has_require && !is_ack && msg->line.req.method.id != PJSIP_CANCEL_METHOD &&
        sc_unsupported(msg, &tag))
        return sc_refuse(rdata, 420, NULL, sc_string_hdr(rdata, &sc_str_unsupported, &tag));
    /* RFC 3261 §8.2.3: a body in an encoding we do not understand: 415, saying which */
    if (enc && msg->body && pj_stricmp(&enc->hvalue, &sc_str_identity) != 0 && !is_ack)
        return sc_refuse(rdata, 415, NULL,
                         sc_string_hdr(rdata, &sc_str_accept_encoding, &sc_str_identity));
    if ((why = sc_sdp_check(rdata, buf, sizeof(buf))) != NULL) {
        host = pj_str("sipcore");
        text = pj_str((char*) why);
        return sc_refuse(rdata, 488, NULL, (pjsip_hdr*) pjsip_warning_hdr_create(
                             rdata->tp_info.pool, 399, &host, &text));
    }
    return PJ_FALSE;
}

static pj_bool_t sc_check_rx_response(pjsip_rx_data *rdata)
{
    char buf[96];
    pjsip_generic_string_hdr *enc;
    return sc_invalid(rdata, buf, sizeof(buf), &enc) != NULL;   /* PJ_TRUE: dropped */
}

static pjsip_module sc_mod_check = {
    NULL, NULL, { "mod-sipcore-check", 17 }, -1, PJSIP_MOD_PRIORITY_TSX_LAYER - 1,
    NULL, NULL, NULL, NULL,
    &sc_check_rx_request, &sc_check_rx_response, NULL, NULL, NULL
};

/* ---------- 2. requests nobody took ----------------------------------------------------------- */

/* The endpoint's Allow without the methods sipcore does not serve outside a dialog as a UAS
 * (SUBSCRIBE: evsub registers it for sipcore's own subscriptions). */
static pjsip_hdr *sc_allow(pj_pool_t *pool)
{
    static const char *const not_served[] = { "SUBSCRIBE", "REGISTER", "PUBLISH", "REFER" };
    const pjsip_allow_hdr *cap = (const pjsip_allow_hdr*) pjsip_endpt_get_capability(
        sc_uas_endpt, PJSIP_H_ALLOW, NULL);
    pjsip_allow_hdr *h = pjsip_allow_hdr_create(pool);
    unsigned i, j;
    if (!cap) return (pjsip_hdr*) h;
    for (i = 0; i < cap->count && h->count < PJSIP_GENERIC_ARRAY_MAX_COUNT; i++) {
        int skip = 0;
        for (j = 0; j < PJ_ARRAY_SIZE(not_served); j++)
            skip |= pj_strcmp2(&cap->values[i], not_served[j]) == 0;
        if (!skip) h->values[h->count++] = cap->values[i];
    }
    return (pjsip_hdr*) h;
}

static void sc_push_capability(pjsip_hdr *list, pj_pool_t *pool, int type)
{
    const pjsip_hdr *h = pjsip_endpt_get_capability(sc_uas_endpt, type, NULL);
    if (h) pj_list_push_back(list, pjsip_hdr_clone(pool, h));
}

static const char *const sc_in_dialog_only[] = {
    "BYE", "CANCEL", "NOTIFY", "INFO", "UPDATE", "PRACK"
};
static const char *const sc_known_not_served[] = { "REGISTER", "SUBSCRIBE", "PUBLISH", "REFER" };

pj_bool_t sc_uas_unhandled(pjsip_rx_data *rdata)
{
    pjsip_msg *msg = rdata->msg_info.msg;
    const pj_str_t *m = &msg->line.req.method.name;
    pj_pool_t *pool = rdata->tp_info.pool;
    pjsip_hdr list;
    unsigned i;
    if (!sc_uas_endpt || msg->line.req.method.id == PJSIP_ACK_METHOD) return PJ_TRUE;
    pj_list_init(&list);
    if (msg->line.req.method.id == PJSIP_OPTIONS_METHOD) {
        pj_list_push_back(&list, sc_allow(pool));
        sc_push_capability(&list, pool, PJSIP_H_ACCEPT);
        sc_push_capability(&list, pool, PJSIP_H_SUPPORTED);
        sc_uas_respond(rdata, 200, NULL, &list);
        return PJ_TRUE;
    }
    for (i = 0; i < PJ_ARRAY_SIZE(sc_in_dialog_only); i++) {
        if (pj_strcmp2(m, sc_in_dialog_only[i]) == 0) {
            sc_uas_respond(rdata, 481, NULL, NULL);
            return PJ_TRUE;
        }
    }
    pj_list_push_back(&list, sc_allow(pool));
    for (i = 0; i < PJ_ARRAY_SIZE(sc_known_not_served); i++) {
        if (pj_strcmp2(m, sc_known_not_served[i]) == 0) {
            sc_uas_respond(rdata, 405, NULL, &list);
            return PJ_TRUE;
        }
    }
    sc_uas_respond(rdata, 501, NULL, &list);
    return PJ_TRUE;
}

/* ---------- set-up ----------------------------------------------------------------------- */

pj_status_t sc_uas_init(pjsip_endpoint *endpt)
{
    static const pj_str_t allow[] = { { "MESSAGE", 7 }, { "OPTIONS", 7 } };
    static const pj_str_t accept[] = { { "*/*", 3 } };
    pj_status_t st;
    sc_uas_endpt = endpt;
    st = pjsip_endpt_add_capability(endpt, &sc_mod_app, PJSIP_H_ALLOW, NULL, 2, allow);
    if (st == PJ_SUCCESS)
        st = pjsip_endpt_add_capability(endpt, &sc_mod_app, PJSIP_H_ACCEPT, NULL, 1, accept);
    if (st == PJ_SUCCESS && sc_mod_check.id == -1)
        st = pjsip_endpt_register_module(endpt, &sc_mod_check);
    if (st == PJ_SUCCESS)
        st = pjsip_tpmgr_set_drop_data_cb(pjsip_endpt_get_tpmgr(endpt), &sc_on_dropped);
    return st;
}
