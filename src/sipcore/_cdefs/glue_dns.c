/* glue_dns.c -- names: locating SIP servers (RFC 3263) with PJSIP's resolver.
 *
 * PJSIP 2.12 by itself (sip_resolve.c, pjsip_resolve): an IP literal is used as it is; a
 * name with a port gets an A query; a name without a port gets an SRV query for the URI's
 * transport, or for UDP when the URI names none, falling back to an A query when there is no
 * SRV record.  It never asks for NAPTR records (its header says so), so a URI without port and
 * transport always goes over UDP.  It fails over by itself only on a transport error: the
 * stateless sender tries the next resolved address when the transport cannot send (a TCP/TLS
 * connection refused or reset), not on a 503 or a timeout.
 *
 * What sipcore adds here: an "external resolver" (pjsip_ext_resolver) that PJSIP calls for
 * every target it must resolve, requests and in-dialog requests alike.  For a name with
 * neither port nor transport it asks for the name's NAPTR records first (RFC 3263 4.1): of the
 * records with flag "s" and a service SIP+D2U (UDP), SIP+D2T (TCP) or SIPS+D2T (TLS) that
 * this Engine has a transport for, in order and preference, the first whose replacement has
 * SRV records gives the transport and the servers (SRV priority and weight, RFC 2782, by
 * pjlib-util's SRV resolver).  Without usable NAPTR records: SRV records of _sip._udp,
 * _sip._tcp, _sips._tcp, the first that exists (transports this Engine has only), then the
 * A records.  For every other target PJSIP's own resolution above runs (a second
 * pjsip_resolver_t without the hook, on the same DNS resolver).  Each resolved address carries its transport type, so the request goes out over
 * the transport the records chose.
 *
 * Everything here runs on the poll thread: the DNS resolver uses the endpoint's ioqueue and
 * timer heap.  The failover on 503/timeout that RFC 3263 4.3 asks for is each client's: it
 * sends the request again to the next resolved address (sc_tdata_failover, below, makes it
 * from the failed one) -- MESSAGE, Registration and Publication in the same transaction
 * chain, Subscription and Invitation in a new dialog (primitives/, _drop_first).
 */
#include "glue.h"

#include <string.h>

#define SC_NAPTR_MAX 8

static pjsip_resolver_t *sc_inner;          /* PJSIP's own resolution, without the hook */
static pj_pool_t *sc_dns_pool;
static unsigned sc_dns_transports;          /* bit 0: UDP, 1: TCP, 2: TLS, 3: they are IPv6
                                             * (sc_dns_set_transports) */
static pjsip_tpfactory *sc_dns_tls;         /* the TLS listener, or NULL */

typedef struct sc_naptr_rec {
    unsigned order, pref;
    pjsip_transport_type_e type;
    char replacement[256];
} sc_naptr_rec;

typedef struct sc_naptr_job {
    pj_pool_t *pool;
    pjsip_host_info target;                 /* the original target (host copied into pool) */
    void *token;
    pjsip_resolver_callback *cb;
    unsigned count, next;
    sc_naptr_rec rec[SC_NAPTR_MAX];
    pjsip_transport_type_e type;            /* of the record being tried */
    int srv_only;                           /* no NAPTR: rec[] are sc_srv_only's names */
} sc_naptr_job;

void sc_dns_set_transports(unsigned mask, pjsip_tpfactory *tls)
{
    sc_dns_transports = mask;
    sc_dns_tls = tls;
}

/* One length-prefixed <character-string>; NULL at a malformed one. */
static const unsigned char *sc_dns_cstr(const unsigned char *p, const unsigned char *end,
                                        const unsigned char **s, unsigned *len)
{
    if (p >= end || p + 1 + *p > end) return NULL;
    *len = *p;
    *s = p + 1;
    return p + 1 + *p;
}

/* The NAPTR replacement: an uncompressed domain name (RFC 3403 4.1: "MUST NOT be
 * compressed"); 0 when it is malformed, compressed, the root (".": no SRV step) or too long. */
static int sc_dns_name(const unsigned char *p, const unsigned char *end, char *out, size_t size)
{
    size_t n = 0;
    while (p < end && *p) {
        unsigned l = *p;
        if (l & 0xC0 || p + 1 + l > end || n + l + 2 > size) return 0;
        if (n) out[n++] = '.';
        memcpy(out + n, p + 1, l);
        n += l;
        p += 1 + l;
    }
    if (p >= end || n == 0) return 0;
    out[n] = 0;
    return 1;
}

static int sc_dns_ieq(const unsigned char *s, unsigned len, const char *lit)
{
    return strlen(lit) == len && pj_ansi_strnicmp((const char *) s, lit, len) == 0;
}

/* The usable NAPTR records of an answer, sorted by order, then preference. */
static void sc_naptr_collect(sc_naptr_job *job, const pj_dns_parsed_packet *pkt)
{
    unsigned i, j;
    for (i = 0; i < pkt->hdr.anscount && job->count < SC_NAPTR_MAX; i++) {
        const pj_dns_parsed_rr *rr = &pkt->ans[i];
        const unsigned char *p = (const unsigned char *) rr->data, *end, *flags, *svc, *re;
        unsigned flen, slen, rlen;
        sc_naptr_rec r;
        if (rr->type != PJ_DNS_TYPE_NAPTR || !p || rr->rdlength < 7) continue;
        end = p + rr->rdlength;
        r.order = (unsigned) (p[0] << 8 | p[1]);
        r.pref = (unsigned) (p[2] << 8 | p[3]);
        p = sc_dns_cstr(p + 4, end, &flags, &flen);
        if (p) p = sc_dns_cstr(p, end, &svc, &slen);
        if (p) p = sc_dns_cstr(p, end, &re, &rlen);
        if (!p || !sc_dns_ieq(flags, flen, "s")) continue;
        /* RFC 3263 4.1: SIP+D2U is UDP, SIP+D2T TCP, SIPS+D2T TLS over TCP; SIP+D2S and
         * SIPS+D2S are SCTP, which this Engine lacks */
        if (sc_dns_ieq(svc, slen, "SIP+D2U") && (sc_dns_transports & 1))
            r.type = PJSIP_TRANSPORT_UDP;
        else if (sc_dns_ieq(svc, slen, "SIP+D2T") && (sc_dns_transports & 2))
            r.type = PJSIP_TRANSPORT_TCP;
        else if (sc_dns_ieq(svc, slen, "SIPS+D2T") && (sc_dns_transports & 4))
            r.type = PJSIP_TRANSPORT_TLS;
        else continue;
        if (!sc_dns_name(p, end, r.replacement, sizeof(r.replacement))) continue;
        for (j = job->count; j > 0; j--) {          /* insertion: stable for equal keys */
            const sc_naptr_rec *q = &job->rec[j - 1];
            if (q->order < r.order || (q->order == r.order && q->pref <= r.pref)) break;
            job->rec[j] = job->rec[j - 1];
        }
        job->rec[j] = r;
        job->count++;
    }
}

static void sc_naptr_try_next(sc_naptr_job *job, pj_status_t last);

static void sc_naptr_srv_cb(void *user_data, pj_status_t status, const pj_dns_srv_record *rec)
{
    sc_naptr_job *job = (sc_naptr_job *) user_data;
    pjsip_server_addresses out;
    unsigned i, j;
    if (status != PJ_SUCCESS || !rec || rec->count == 0) {
        sc_naptr_try_next(job, status != PJ_SUCCESS ? status : PJLIB_UTIL_EDNSNOANSWERREC);
        return;
    }
    pj_bzero(&out, sizeof(out));
    for (i = 0; i < rec->count; i++) {
        for (j = 0; j < rec->entry[i].server.addr_count; j++) {
            const int af = rec->entry[i].server.addr[j].af;
            if (out.count == PJSIP_MAX_RESOLVED_ADDRESSES) break;
            if ((af == pj_AF_INET6()) != ((sc_dns_transports & 8) != 0))
                continue;                   /* no transport of that family */
            out.entry[out.count].type = job->type;
            if (af == pj_AF_INET6()) {
                out.entry[out.count].type = (pjsip_transport_type_e) (job->type | PJSIP_TRANSPORT_IPV6);
                pj_sockaddr_init(af, &out.entry[out.count].addr, NULL, rec->entry[i].port);
                out.entry[out.count].addr.ipv6.sin6_addr = rec->entry[i].server.addr[j].ip.v6;
            } else {
                pj_sockaddr_init(af, &out.entry[out.count].addr, NULL, rec->entry[i].port);
                out.entry[out.count].addr.ipv4.sin_addr = rec->entry[i].server.addr[j].ip.v4;
            }
            out.entry[out.count].addr_len = pj_sockaddr_get_len(&out.entry[out.count].addr);
            out.entry[out.count].priority = rec->entry[i].priority;
            out.entry[out.count].weight = rec->entry[i].weight;
            out.count++;
        }
    }
    if (out.count == 0) {
        sc_naptr_try_next(job, PJLIB_UTIL_EDNSNOANSWERREC);
        return;
    }
    /* PJSIP makes a new TLS connection for a sip: URI only through a listener named in the
     * request's transport selector (without one: PJSIP_ETPNOTSUITABLE; see the quirks in
     * docs/architecture.md).  A request's resolution comes from its stateless sender, whose
     * token is its pjsip_send_state: name the TLS listener there when the records chose TLS
     * and the request has no selector of its own. */
    if (job->type == PJSIP_TRANSPORT_TLS && sc_dns_tls) {
        pjsip_tx_data *tdata = ((pjsip_send_state *) job->token)->tdata;
        if (tdata && tdata->tp_sel.type == PJSIP_TPSELECTOR_NONE) {
            pjsip_tpselector sel;
            sc_listener_sel(&sel, sc_dns_tls);
            pjsip_tx_data_set_transport(tdata, &sel);
        }
    }
    (*job->cb)(PJ_SUCCESS, job->token, &out);
}

/* The SRV step for the next usable NAPTR record (or SRV name of sc_srv_only); when none is
 * left, PJSIP's own resolution of the original target: its A/AAAA records, port 5060, UDP
 * (RFC 3263 4.2) when the SRV names were all asked already, else its SRV step for UDP first
 * (the NAPTR records named no SRV record that answered). */
static void sc_naptr_try_next(sc_naptr_job *job, pj_status_t last)
{
    PJ_UNUSED_ARG(last);
    while (job->next < job->count) {
        const sc_naptr_rec *r = &job->rec[job->next++];
        /* pjlib-util asks for res_name + "." + domain_name, both non-empty: split the
         * replacement ("_sip._tcp.example.com") after its second label, or its first */
        char *dot = strchr(r->replacement, '.'), *dot2 = dot ? strchr(dot + 1, '.') : NULL;
        pj_str_t res, domain;
        pj_status_t st;
        if (!dot) continue;
        if (dot2) dot = dot2;
        res.ptr = (char *) r->replacement;
        res.slen = dot - r->replacement;
        domain = pj_str(dot + 1);
        job->type = r->type;
        /* the servers' A records, or AAAA records when this Engine's transports are IPv6 */
        st = pj_dns_srv_resolve(&domain, &res, r->type == PJSIP_TRANSPORT_TLS ? 5061 : 5060,
                                job->pool, pjsip_resolver_get_resolver(sc_inner),
                                (sc_dns_transports & 8) ? PJ_DNS_SRV_RESOLVE_AAAA_ONLY : 0,
                                job, &sc_naptr_srv_cb, NULL);
        if (st == PJ_SUCCESS) return;
    }
    if (job->srv_only) job->target.addr.port = 5060;
    pjsip_resolve(sc_inner, job->pool, &job->target, job->token, job->cb);
}

/* No usable NAPTR record: an SRV query for each transport this Engine has, in the order
 * UDP, TCP, TLS (RFC 3263 4.1: "the client constructs SRV queries for those transport
 * protocols it supports"; which one to use is the client's choice, and UDP first keeps the
 * choice PJSIP made alone).  The first with records gives the transport and the servers. */
static void sc_srv_only(sc_naptr_job *job)
{
    static const struct { unsigned bit; pjsip_transport_type_e type; const char *res; } t[] = {
        { 1, PJSIP_TRANSPORT_UDP, "_sip._udp." }, { 2, PJSIP_TRANSPORT_TCP, "_sip._tcp." },
        { 4, PJSIP_TRANSPORT_TLS, "_sips._tcp." } };
    unsigned i;
    const pj_str_t *host = &job->target.addr.host;
    for (i = 0; i < PJ_ARRAY_SIZE(t) && job->count < SC_NAPTR_MAX; i++) {
        sc_naptr_rec *r = &job->rec[job->count];
        size_t n = strlen(t[i].res);
        if (!(sc_dns_transports & t[i].bit) || n + (size_t) host->slen + 1 > sizeof(r->replacement))
            continue;
        memcpy(r->replacement, t[i].res, n);
        memcpy(r->replacement + n, host->ptr, (size_t) host->slen);
        r->replacement[n + (size_t) host->slen] = 0;
        r->type = t[i].type;
        r->order = r->pref = 0;
        job->count++;
    }
    job->srv_only = 1;
}

static void sc_naptr_cb(void *user_data, pj_status_t status, pj_dns_parsed_packet *pkt)
{
    sc_naptr_job *job = (sc_naptr_job *) user_data;
    if (status == PJ_SUCCESS && pkt) sc_naptr_collect(job, pkt);
    if (job->count == 0 && status != PJ_SUCCESS && status != PJLIB_UTIL_EDNS_NXDOMAIN &&
        status != PJLIB_UTIL_EDNSNOANSWERREC) {
        /* no answer at all (the name servers time out or fail): the SRV and A queries
         * would only wait as long again */
        (*job->cb)(status, job->token, NULL);
        return;
    }
    if (job->count == 0) sc_srv_only(job);
    sc_naptr_try_next(job, status);
}

static int sc_dns_is_ip(const pj_str_t *host)
{
    unsigned char addr[16];
    if (pj_memchr(host->ptr, ':', (pj_size_t) host->slen))
        return pj_inet_pton(pj_AF_INET6(), host, addr) == PJ_SUCCESS;
    return pj_inet_pton(pj_AF_INET(), host, addr) == PJ_SUCCESS;
}

static void sc_dns_resolve(pjsip_resolver_t *resolver, pj_pool_t *pool,
                           const pjsip_host_info *target, void *token,
                           pjsip_resolver_callback *cb)
{
    sc_naptr_job *job;
    pj_status_t st;
    PJ_UNUSED_ARG(resolver);
    if (target->type != PJSIP_TRANSPORT_UNSPECIFIED || target->addr.port != 0 ||
        (target->flag & PJSIP_TRANSPORT_SECURE) || sc_dns_is_ip(&target->addr.host)) {
        pjsip_resolve(sc_inner, pool, target, token, cb);
        return;
    }
    job = PJ_POOL_ZALLOC_T(pool, sc_naptr_job);
    job->pool = pool;
    job->target = *target;
    pj_strdup(pool, &job->target.addr.host, &target->addr.host);
    job->token = token;
    job->cb = cb;
    st = pj_dns_resolver_start_query(pjsip_resolver_get_resolver(sc_inner),
                                     &job->target.addr.host, PJ_DNS_TYPE_NAPTR, 0,
                                     &sc_naptr_cb, job, NULL);
    if (st != PJ_SUCCESS) (*cb)(st, token, NULL);
}

int sc_tdata_can_failover(const pjsip_tx_data *tdata)
{
    return tdata && tdata->dest_info.addr.count > 0 &&
           tdata->dest_info.cur_addr + 1 < tdata->dest_info.addr.count;
}

int sc_tdata_failover(pjsip_tx_data *old, pjsip_tx_data *req)
{
    if (!req || !sc_tdata_can_failover(old)) return 0;
    pj_strdup(req->pool, &req->dest_info.name, &old->dest_info.name);
    req->dest_info.addr = old->dest_info.addr;
    req->dest_info.cur_addr = old->dest_info.cur_addr + 1;
    if (req->tp_sel.type == PJSIP_TPSELECTOR_NONE && old->tp_sel.type != PJSIP_TPSELECTOR_NONE)
        pjsip_tx_data_set_transport(req, &old->tp_sel);     /* (a TLS listener, see above) */
    return 1;
}

static pjsip_ext_resolver sc_ext_resolver = { &sc_dns_resolve };

pj_status_t sc_dns_init(pjsip_endpoint *endpt, pj_pool_factory *pf, unsigned count,
                        const char *const *ips, const int *ports, unsigned retransmit_ms,
                        unsigned retransmits)
{
    pj_dns_resolver *dns = NULL;
    pj_dns_settings set;
    pj_str_t servers[8];
    pj_uint16_t nsports[8];
    pj_status_t st;
    unsigned i;
    if (count == 0 || count > 8 || sc_inner) return PJ_EINVAL;
    for (i = 0; i < count; i++) {
        servers[i] = pj_str((char *) ips[i]);
        nsports[i] = (pj_uint16_t) ports[i];
    }
    /* Our own DNS resolver on the endpoint's timer heap and ioqueue: PJSIP destroys the one
     * it holds when an external resolver is set, so the endpoint holds none; the inner SIP
     * resolver owns it (pjsip_resolver_destroy destroys it, sc_dns_shutdown). */
    sc_dns_pool = pjsip_endpt_create_pool(endpt, "dns", 512, 512);
    st = sc_dns_pool ? pjsip_resolver_create(sc_dns_pool, &sc_inner) : PJ_ENOMEM;
    if (st == PJ_SUCCESS)
        st = pj_dns_resolver_create(pf, "sipcore-dns", 0, pjsip_endpt_get_timer_heap(endpt),
                                    pjsip_endpt_get_ioqueue(endpt), &dns);
    if (st == PJ_SUCCESS) st = pj_dns_resolver_set_ns(dns, count, servers, nsports);
    if (st == PJ_SUCCESS) {
        pj_dns_resolver_get_settings(dns, &set);
        set.qretr_delay = retransmit_ms;
        set.qretr_count = retransmits;
        st = pj_dns_resolver_set_settings(dns, &set);
    }
    if (st == PJ_SUCCESS) {
        st = pjsip_resolver_set_resolver(sc_inner, dns);
        if (st == PJ_SUCCESS) dns = NULL;        /* sc_inner's now */
    }
    if (st == PJ_SUCCESS) st = pjsip_endpt_set_ext_resolver(endpt, &sc_ext_resolver);
    if (st != PJ_SUCCESS) {
        if (dns) pj_dns_resolver_destroy(dns, PJ_FALSE);
        sc_dns_shutdown(endpt);
    }
    return st;
}

/* Before the endpoint is destroyed: the inner resolver and its DNS resolver (pending
 * queries end without callbacks). */
void sc_dns_shutdown(pjsip_endpoint *endpt)
{
    if (sc_inner) pjsip_resolver_destroy(sc_inner);
    sc_inner = NULL;
    if (sc_dns_pool) pjsip_endpt_release_pool(endpt, sc_dns_pool);
    sc_dns_pool = NULL;
}
