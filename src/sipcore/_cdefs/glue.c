/* sipcore's own C code, compiled into the cffi module sipcore._pjsip.
 *
 * Three things live here because they must work on threads that never run Python
 * (pjmedia's worker and clock threads, sound-card threads) or because they sit on every
 * packet's path:
 *
 *   1. The event queue: a mutex-guarded list of log lines, SIP trace records and media
 *      events (sc_media_event, which also wakes the poll thread).  The
 *      pjlib log writer and the trace module only append to it; the poll thread drains it
 *      into signals.  Bounded: past SC_QUEUE_MAX entries new ones are counted and dropped.
 *   2. The modules: the application module whose callbacks are the extern "Python"
 *      trampolines, a trace module just below the transport layer, and a module that adds
 *      the User-Agent header to every outgoing message.
 *   3. The wake-up socket: any thread calls sc_wake() (plain POSIX, no pjlib) to make the
 *      poll thread return from its ioqueue wait at once.
 *
 * Plus a few accessors that flatten PJSIP unions for Python.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE                     /* sched_getcpu, CPU_SET (sc_move_off_cpu) */
#endif
#include "glue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>
#include <time.h>
#include <sched.h>

#define SC_QUEUE_MAX 200000

/* SIPCORE_PJ_VERSION: defined by _ffi_build.py (pkg-config's version of libpjproject) */
const char *const SIPCORE_BUILT_AGAINST = SIPCORE_PJ_VERSION;

/* ---------- 1. event queue ------------------------------------------------------------ */

static pthread_mutex_t sc_q_lock = PTHREAD_MUTEX_INITIALIZER;
static sc_event *sc_q_head = NULL, *sc_q_tail = NULL;
volatile int sc_q_count = 0;   /* read by Python without a call */
static unsigned long sc_q_dropped = 0;

static int sc_queue_push(sc_event *ev)
{
    pthread_mutex_lock(&sc_q_lock);
    if (sc_q_count >= SC_QUEUE_MAX) {
        sc_q_dropped++;
        pthread_mutex_unlock(&sc_q_lock);
        free(ev->text);
        free(ev);
        return -1;
    }
    ev->next = NULL;
    if (sc_q_tail) sc_q_tail->next = ev; else sc_q_head = ev;
    sc_q_tail = ev;
    sc_q_count++;
    pthread_mutex_unlock(&sc_q_lock);
    return 0;
}

static sc_event *sc_event_new(int kind, const char *text, size_t len)
{
    struct timespec now;
    sc_event *ev = (sc_event*) calloc(1, sizeof(sc_event));
    if (!ev) return NULL;
    ev->kind = kind;
    clock_gettime(CLOCK_REALTIME, &now);
    ev->time = (double) now.tv_sec + (double) now.tv_nsec * 1e-9;
    ev->text = (char*) malloc(len + 1);
    if (!ev->text) { free(ev); return NULL; }
    memcpy(ev->text, text, len);
    ev->text[len] = 0;
    ev->len = len;
    return ev;
}


sc_event *sc_event_pop(void)
{
    sc_event *ev;
    if (sc_q_count == 0) return NULL;
    pthread_mutex_lock(&sc_q_lock);
    ev = sc_q_head;
    if (ev) {
        sc_q_head = ev->next;
        if (!sc_q_head) sc_q_tail = NULL;
        sc_q_count--;
    }
    pthread_mutex_unlock(&sc_q_lock);
    return ev;
}

int sc_media_event(uintptr_t token, int what, int value, pj_status_t status, const char *text)
{
    sc_event *ev = sc_event_new(SC_EV_MEDIA, text ? text : "", text ? strlen(text) : 0);
    if (!ev) return -1;
    ev->token = token;
    ev->what = what;
    ev->value = value;
    ev->status = status;
    if (sc_queue_push(ev) != 0) return -1;
    sc_wake();      /* unlike log lines, a media event is news: deliver it now */
    return 0;
}

void sc_event_free(sc_event *ev)
{
    if (!ev) return;
    free(ev->text);
    free(ev);
}

void sc_events_clear(void)
{
    sc_event *ev;
    while ((ev = sc_event_pop()) != NULL) sc_event_free(ev);
}

/* pjlib's log writer: called on any thread, with pjlib's own formatting (sender, message). */
static void sc_log_writer(int level, const char *data, int len)
{
    sc_event *ev;
    while (len > 0 && (data[len-1] == '\n' || data[len-1] == '\r')) len--;
    ev = sc_event_new(SC_EV_LOG, data, (size_t) (len < 0 ? 0 : len));
    if (!ev) return;
    ev->level = level;
    sc_queue_push(ev);
}

void sc_install_log_writer(void)
{
    pj_log_set_log_func(&sc_log_writer);
    pj_log_set_decor(PJ_LOG_HAS_SENDER);
}

/* ---------- 2. modules ---------------------------------------------------------------- */

static volatile int sc_trace_on = 0;
void sc_set_trace(int on) { sc_trace_on = on; }

static void sc_copy_host(char *dst, size_t cap, const pj_str_t *s)
{
    size_t n = s->slen < 0 ? 0 : (size_t) s->slen;
    if (n >= cap) n = cap - 1;
    memcpy(dst, s->ptr, n);
    dst[n] = 0;
}

static pj_bool_t sc_trace_rx(pjsip_rx_data *rdata)
{
    sc_event *ev;
    if (!sc_trace_on) return PJ_FALSE;
    ev = sc_event_new(SC_EV_TRACE, rdata->pkt_info.packet, (size_t) rdata->msg_info.len);
    if (!ev) return PJ_FALSE;
    ev->received = 1;
    pj_ansi_strncpy(ev->src_ip, rdata->pkt_info.src_name, sizeof(ev->src_ip) - 1);
    ev->src_port = rdata->pkt_info.src_port;
    if (rdata->tp_info.transport) {
        sc_copy_host(ev->dst_ip, sizeof(ev->dst_ip), &rdata->tp_info.transport->local_name.host);
        ev->dst_port = rdata->tp_info.transport->local_name.port;
    }
    sc_queue_push(ev);
    return PJ_FALSE;
}

static pj_status_t sc_trace_tx(pjsip_tx_data *tdata)
{
    sc_event *ev;
    if (!sc_trace_on) return PJ_SUCCESS;
    ev = sc_event_new(SC_EV_TRACE, tdata->buf.start, (size_t) (tdata->buf.cur - tdata->buf.start));
    if (!ev) return PJ_SUCCESS;
    ev->received = 0;
    if (tdata->tp_info.transport) {
        sc_copy_host(ev->src_ip, sizeof(ev->src_ip), &tdata->tp_info.transport->local_name.host);
        ev->src_port = tdata->tp_info.transport->local_name.port;
    }
    pj_ansi_strncpy(ev->dst_ip, tdata->tp_info.dst_name, sizeof(ev->dst_ip) - 1);
    ev->dst_port = tdata->tp_info.dst_port;
    sc_queue_push(ev);
    return PJ_SUCCESS;
}

static char sc_ua_buf[512];
static pj_str_t sc_ua_value = { sc_ua_buf, 0 };
static const pj_str_t sc_ua_name = { "User-Agent", 10 };
static const pj_str_t sc_server_name = { "Server", 6 };

void sc_set_user_agent(const char *ua)
{
    size_t n = strlen(ua);
    if (n >= sizeof(sc_ua_buf)) n = sizeof(sc_ua_buf) - 1;
    memcpy(sc_ua_buf, ua, n);
    sc_ua_buf[n] = 0;
    sc_ua_value.slen = (pj_ssize_t) n;
}

static pj_status_t sc_add_ua(pjsip_tx_data *tdata)
{
    pjsip_generic_string_hdr *h;
    /* Already encoded (a retransmission) or nothing to add: leave it alone. */
    if (sc_ua_value.slen == 0 || tdata->buf.cur != tdata->buf.start)
        return PJ_SUCCESS;
    if (pjsip_msg_find_hdr_by_name(tdata->msg, &sc_ua_name, NULL) ||
        pjsip_msg_find_hdr_by_name(tdata->msg, &sc_server_name, NULL))
        return PJ_SUCCESS;
    h = pjsip_generic_string_hdr_create(tdata->pool, &sc_ua_name, &sc_ua_value);
    pjsip_msg_add_hdr(tdata->msg, (pjsip_hdr*) h);
    return PJ_SUCCESS;
}

static pjsip_endpoint *sc_endpt = NULL;

/* Only the client transactions of sipcore's MESSAGE client (glue_clients.c) carry a
 * pointer in our module's slot, and only their final state matters: everything else stays
 * in C, off Python's path. */
static void sc_on_tsx_state(pjsip_transaction *tsx, pjsip_event *e)
{
    void *msg;
    pjsip_rx_data *rdata = NULL;
    if (sc_mod_app.id < 0 || (msg = tsx->mod_data[sc_mod_app.id]) == NULL) return;
    if (tsx->state < PJSIP_TSX_STATE_COMPLETED || tsx->status_code < 200) return;
    tsx->mod_data[sc_mod_app.id] = NULL;           /* reported once */
    if (e->type == PJSIP_EVENT_TSX_STATE && e->body.tsx_state.type == PJSIP_EVENT_RX_MSG)
        rdata = e->body.tsx_state.src.rdata;
    sc_msg_on_final((sc_msg_t*) msg, tsx, rdata);
}

/* Incoming requests outside dialogs.  MESSAGE is answered 200 here, in C (statefully, so
 * retransmissions are absorbed), before Python hears of it, with the message in the incoming
 * MESSAGE flat buffer (sipcore.h) in the buffer the UA lent (sc_message_buffer).  With the
 * message_answer option "receiver" (sc_set_message_answer(1)) the answer comes after
 * Python's callback instead, with the code Python chose during it (sc_message_answer_code),
 * 200 when it chose none.  Any other
 * request that reaches this module (INVITE is taken by mod-sipcore-inv, in-dialog requests
 * by PJSIP's UA layer) gets the answer RFC 3261 gives it (sc_uas_unhandled, glue_uas.c). */
static const pj_str_t sc_message_name = { "MESSAGE", 7 };
static char *sc_msg_buf = NULL;
static int sc_msg_buf_size = 0;
static volatile int sc_msg_answer_late = 0;
static int sc_msg_code = 200;

void sc_set_message_answer(int late) { sc_msg_answer_late = late; }
void sc_message_answer_code(int code) { sc_msg_code = code; }

void sc_message_buffer(char *buf, int size)
{
    sc_msg_buf = buf;
    sc_msg_buf_size = buf ? size : 0;
}

static pj_bool_t sc_on_rx_request(pjsip_rx_data *rdata)
{
    pjsip_msg *msg = rdata->msg_info.msg;
    if (pj_strcmp(&msg->line.req.method.name, &sc_message_name) == 0 &&
        msg->line.req.method.id == PJSIP_OTHER_METHOD) {
        int lens[4];
        int used;
        int late = sc_msg_answer_late;
        if (!late)
            pjsip_endpt_respond(sc_endpt, NULL, rdata, 200, NULL, NULL, NULL, NULL);
        sc_msg_code = 200;
        used = sc_message_flat(rdata, sc_msg_buf, sc_msg_buf_size, lens);
        sc_py_on_message(rdata, used <= sc_msg_buf_size ? sc_msg_buf : NULL, used, lens[0],
                         lens[1], lens[2], lens[3]);
        if (late)
            pjsip_endpt_respond(sc_endpt, NULL, rdata, sc_msg_code, NULL, NULL, NULL, NULL);
        return PJ_TRUE;
    }
    return sc_uas_unhandled(rdata);      /* (glue_uas.c) */
}

pjsip_module sc_mod_app = {
    NULL, NULL, { "mod-sipcore", 11 }, -1, PJSIP_MOD_PRIORITY_APPLICATION,
    NULL, NULL, NULL, NULL,
    &sc_on_rx_request, NULL, NULL, NULL, &sc_on_tsx_state
};
static pjsip_module sc_mod_trace = {
    NULL, NULL, { "mod-sipcore-trace", 17 }, -1, PJSIP_MOD_PRIORITY_TRANSPORT_LAYER - 1,
    NULL, NULL, NULL, NULL,
    &sc_trace_rx, &sc_trace_rx, &sc_trace_tx, &sc_trace_tx, NULL
};
static pjsip_module sc_mod_ua = {
    NULL, NULL, { "mod-sipcore-ua", 14 }, -1, PJSIP_MOD_PRIORITY_TRANSPORT_LAYER + 1,
    NULL, NULL, NULL, NULL,
    NULL, NULL, &sc_add_ua, &sc_add_ua, NULL
};

pjsip_module *sc_app_module(void) { return &sc_mod_app; }

pj_status_t sc_modules_register(pjsip_endpoint *endpt)
{
    pj_status_t st;
    sc_endpt = endpt;
    st = pjsip_endpt_register_module(endpt, &sc_mod_trace);
    if (st != PJ_SUCCESS) return st;
    st = pjsip_endpt_register_module(endpt, &sc_mod_ua);
    if (st != PJ_SUCCESS) return st;
    st = pjsip_endpt_register_module(endpt, &sc_mod_app);
    if (st != PJ_SUCCESS) return st;
    return sc_uas_init(endpt);          /* mod-sipcore-check, capabilities (glue_uas.c) */
}

/* ---------- 3. wake-up socket --------------------------------------------------------- */

static int sc_wake_fds[2] = { -1, -1 };
static pj_ioqueue_key_t *sc_wake_key = NULL;
static pj_ioqueue_op_key_t sc_wake_op;
static char sc_wake_buf[64];
static volatile int sc_wake_pending = 0;
/* 1 while the poll thread spins (sc_poll_once): it looks at sc_wake_pending between its looks,
 * so sc_wake need not write to the socket (a send, then an ioqueue event and a recv on the
 * poll thread: three system calls per hand-off).  Both flags are read and written with
 * sequentially consistent atomics: sc_wake sets pending, then reads spinning; the poll thread
 * clears spinning, then reads pending before it blocks -- one of the two sees the other's
 * write, so a wake is never left to the poll timeout. */
static volatile int sc_spinning = 0;

static pj_pool_t *sc_wake_pool = NULL;

static void sc_wake_on_read(pj_ioqueue_key_t *key, pj_ioqueue_op_key_t *op, pj_ssize_t n)
{
    pj_status_t st;
    PJ_UNUSED_ARG(n);
    for (;;) {
        pj_ssize_t len = sizeof(sc_wake_buf);
        st = pj_ioqueue_recv(key, op, sc_wake_buf, &len, PJ_IOQUEUE_ALWAYS_ASYNC);
        if (st != PJ_SUCCESS) break;   /* PJ_EPENDING: armed again */
    }
}

pj_status_t sc_wake_init(pjsip_endpoint *endpt)
{
    pj_ioqueue_callback cb;
    pj_ssize_t len = sizeof(sc_wake_buf);
    pj_status_t st;
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sc_wake_fds) != 0)
        return PJ_RETURN_OS_ERROR(errno);
    fcntl(sc_wake_fds[1], F_SETFL, fcntl(sc_wake_fds[1], F_GETFL) | O_NONBLOCK);
    pj_bzero(&cb, sizeof(cb));
    cb.on_read_complete = &sc_wake_on_read;
    sc_wake_pool = pjsip_endpt_create_pool(endpt, "sc-wake", 512, 512);
    if (!sc_wake_pool) return PJ_ENOMEM;
    st = pj_ioqueue_register_sock(sc_wake_pool, pjsip_endpt_get_ioqueue(endpt), sc_wake_fds[0],
                                  NULL, &cb, &sc_wake_key);
    if (st != PJ_SUCCESS) return st;
    pj_ioqueue_op_key_init(&sc_wake_op, sizeof(sc_wake_op));
    st = pj_ioqueue_recv(sc_wake_key, &sc_wake_op, sc_wake_buf, &len, PJ_IOQUEUE_ALWAYS_ASYNC);
    if (st != PJ_EPENDING && st != PJ_SUCCESS) return st;
    return PJ_SUCCESS;
}

/* Any thread, no pjlib: make the poll thread's ioqueue wait return. */
void sc_wake(void)
{
    if (sc_wake_fds[1] < 0) return;
    if (__atomic_exchange_n(&sc_wake_pending, 1, __ATOMIC_SEQ_CST)) return;
    if (__atomic_load_n(&sc_spinning, __ATOMIC_SEQ_CST)) return;   /* it will see the flag */
    (void) !send(sc_wake_fds[1], "w", 1, MSG_DONTWAIT);
}

/* Poll thread: called before it looks at its queue of posted calls. */
void sc_wake_ack(void) { __atomic_store_n(&sc_wake_pending, 0, __ATOMIC_RELEASE); }

/* One look: handle whatever is ready, waiting up to timeout_ms for it.
 * spin_us > 0 (the poll thread passes it right after a turn that had work) first looks for
 * up to that long without sleeping: under traffic the next packet usually comes within tens
 * of microseconds, and a thread that never went to sleep answers it without the scheduler's
 * wake-up delay.  Never longer than spin_us per idle period, never when idle.
 * Between two looks the spin pauses the CPU (no system call) for a gap of
 * SC_SPIN_FIRST_GAP_US, then SC_SPIN_MAX_GAP_US: each look is an epoll_wait and a
 * sched_yield, and looking back to back (no gap) slowed the peer process we were waiting for
 * on a two-CPU machine, while longer gaps cost the sequential rate (figures:
 * benchmarks/README.md, "Measurement log").  A spin that finds its CPU shared moves the poll
 * thread to another CPU (sc_move_off_cpu). */
#define SC_SPIN_FIRST_GAP_US 2
#define SC_SPIN_MAX_GAP_US 4
#if defined(__x86_64__) || defined(__i386__)
#define SC_CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define SC_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define SC_CPU_RELAX() do { } while (0)
#endif

/* Yields of a spin that ran another thread for longer than SC_SPIN_SHARED_US (any thread's
 * spin: the poll thread's and sc_wait_done's); diagnostics */
static unsigned long sc_spin_shared = 0;
unsigned long sc_spin_shared_count(void) { return __atomic_load_n(&sc_spin_shared, __ATOMIC_RELAXED); }

static long sc_us_between(const struct timespec *t0, const struct timespec *t1)
{
    return (t1->tv_sec - t0->tv_sec) * 1000000L + (t1->tv_nsec - t0->tv_nsec) / 1000;
}

static long sc_us_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return sc_us_between(t0, &t);
}

/* A sched_yield that took longer than this ran another thread on this CPU for that long.
 * A yield with nothing else to run costs about a microsecond, pjlib's timer and media threads
 * run for tens; a peer handling a SIP message, a hundred and more. */
#define SC_SPIN_SHARED_US 100

/* The poll thread's spin found its CPU shared (a yield longer than SC_SPIN_SHARED_US): move
 * the thread to another CPU it may run on, by taking its current CPU out of its affinity mask
 * for a moment (the kernel migrates it at once) and putting the mask back as it was.
 *
 * Why: the spin pays only while the thread it waits for runs on another CPU.  Two processes
 * that wait for each other (a call's two ends on one machine, or a test and the peer it
 * drives) are put on one CPU by the kernel after an idle moment -- its wake-ups place the
 * woken thread on the waker's CPU -- and there they take turns while the other CPU idles; its
 * load balancer leaves alone threads that ran within the last half millisecond, so they stayed
 * together 15 to 20 ms (about 15 calls) at the start of every burst of calls, at twice the
 * time per call (benchmarks/README.md, ninth session).
 *
 * At most once per SC_MOVE_MIN_US; never with fewer than two CPUs allowed.  A failed first
 * change changes nothing; the mask the thread had is then put back (tried twice: it is the
 * mask the kernel has just given back).  Another thread that changes the poll thread's mask
 * in the microseconds between the two calls has its change undone.  Poll thread only.
 * Returns 1 if the thread now runs on another CPU. */
#define SC_MOVE_MIN_US 10000
static struct timespec sc_last_move;
static unsigned long sc_moves = 0;
unsigned long sc_spin_moves_count(void) { return __atomic_load_n(&sc_moves, __ATOMIC_RELAXED); }

static int sc_move_off_cpu(void)
{
    cpu_set_t allowed, others;
    int cpu;
    if ((sc_last_move.tv_sec || sc_last_move.tv_nsec) && sc_us_since(&sc_last_move) < SC_MOVE_MIN_US)
        return 0;
    clock_gettime(CLOCK_MONOTONIC, &sc_last_move);
    cpu = sched_getcpu();
    if (cpu < 0 || cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
        return 0;
    if (!CPU_ISSET(cpu, &allowed) || CPU_COUNT(&allowed) < 2)
        return 0;
    others = allowed;
    CPU_CLR(cpu, &others);
    if (sched_setaffinity(0, sizeof(others), &others) != 0)
        return 0;
    if (sched_setaffinity(0, sizeof(allowed), &allowed) != 0)
        (void) sched_setaffinity(0, sizeof(allowed), &allowed);
    __atomic_add_fetch(&sc_moves, 1, __ATOMIC_RELAXED);
    return sched_getcpu() != cpu;
}

/* Between two looks of a spin: yield the CPU (a thread we wait for may need it), then pause
 * it without a system call for *gap us, the gap doubling up to SC_SPIN_MAX_GAP_US.  Returns 1
 * when the yield ran another thread on this CPU (SC_SPIN_SHARED_US); the spin goes on. */
static int sc_spin_pause(long *gap)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    sched_yield();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    while (sc_us_since(&t1) < *gap)
        SC_CPU_RELAX();
    if (*gap < SC_SPIN_MAX_GAP_US) *gap *= 2;
    if (sc_us_between(&t0, &t1) <= SC_SPIN_SHARED_US)
        return 0;
    __atomic_add_fetch(&sc_spin_shared, 1, __ATOMIC_RELAXED);
    return 1;
}

static void sc_poll_once(pjsip_endpoint *endpt, unsigned timeout_ms, unsigned spin_us,
                         unsigned *count)
{
    pj_time_val tv = { 0, 0 };
    if (spin_us) {
        struct timespec t0;
        long gap = SC_SPIN_FIRST_GAP_US, spent;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        __atomic_store_n(&sc_spinning, 1, __ATOMIC_SEQ_CST);
        do {
            *count = 0;
            pjsip_endpt_handle_events2(endpt, &tv, count);
            if (*count || __atomic_load_n(&sc_wake_pending, __ATOMIC_SEQ_CST)) {
                __atomic_store_n(&sc_spinning, 0, __ATOMIC_SEQ_CST);
                return;
            }
            if (sc_spin_pause(&gap))
                sc_move_off_cpu();
            spent = sc_us_since(&t0);
        } while (spent < (long) spin_us);
        __atomic_store_n(&sc_spinning, 0, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&sc_wake_pending, __ATOMIC_SEQ_CST)) {
            *count = 0;             /* woken while it stopped spinning, without the socket */
            return;
        }
    }
    tv.sec = (long) (timeout_ms / 1000);
    tv.msec = (long) (timeout_ms % 1000);
    *count = 0;
    pjsip_endpt_handle_events2(endpt, &tv, count);
}

/* Any thread but the poll thread, GIL released (cffi): a thread that handed a call to the
 * poll thread (UA.call) looks at its done flag for up to spin_us before it goes to sleep on
 * the call's lock.  A short call (a few tens of microseconds on the poll thread) is then
 * answered without a scheduler wake-up of the waiting thread (50-150 us on small VMs), the
 * same trade the poll thread's own spin makes.  Returns the flag (1: done). */
int sc_wait_done(const int *flag, unsigned spin_us)
{
    struct timespec t0;
    long gap = SC_SPIN_FIRST_GAP_US;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE)) {
        if (sc_us_since(&t0) >= (long) spin_us)
            return 0;
        sc_spin_pause(&gap);
    }
    return 1;
}

/* One turn of the poll thread's Python loop (sc_poll_once), then more turns here in C for
 * as long as each finds work (looking without a wait, or spinning up to spin_us as after any
 * turn with work), at most SC_POLL_MAX_TURNS: a round through the Python loop between two
 * batches of packets (its queue of posted calls, the C event queue, its idle bookkeeping, and
 * four calls through cffi) cost more than the poll itself when a busy peer's packets come one
 * per turn.  Back to Python at once when a call was posted (sc_wake) or C events wait. *count:
 * events handled in all turns. */
#define SC_POLL_MAX_TURNS 64
void sc_poll(pjsip_endpoint *endpt, unsigned timeout_ms, unsigned spin_us, unsigned *count)
{
    unsigned n = 0, total, turns = 1;
    sc_poll_once(endpt, timeout_ms, spin_us, &n);
    total = n;
    while (n && turns++ < SC_POLL_MAX_TURNS && !sc_q_count &&
           !__atomic_load_n(&sc_wake_pending, __ATOMIC_ACQUIRE)) {
        sc_poll_once(endpt, 0, spin_us, &n);
        total += n;
    }
    *count = total;
}

/* The UA layer (pjsip_ua: the dialog table and the dialog-set nodes on its free list) grows
 * its pool to the most dialog sets ever alive at once and never gives it back: after 10,000
 * calls held at once by Timer K/J, 0.9 MB per process (call_rate.py endurance).  When no
 * dialog exists, unloading the module and loading it again releases that pool; nothing
 * outside the module keeps a pointer into it (dialogs are its only users, and a new one finds
 * the module through pjsip_ua_instance()).  Poll thread, between polls.  Returns 1 when
 * renewed, 0 when dialogs exist (nothing done), -1 when loading it again failed (out of
 * memory, having just freed more than it needs: not seen; the next call tries again). */
static int sc_ua_load(pjsip_endpoint *endpt)
{
    return pjsip_ua_init_module(endpt, NULL) == PJ_SUCCESS ? 1 : -1;
}

int sc_ua_renew(pjsip_endpoint *endpt)
{
    if (pjsip_ua_instance()->id == -1)              /* a reload failed before */
        return sc_ua_load(endpt);
    if (pjsip_ua_get_dlg_set_count() != 0) return 0;
    if (pjsip_ua_destroy() != PJ_SUCCESS) return 0;
    if (sc_ua_load(endpt) > 0) return 1;
    return sc_ua_load(endpt);                       /* once more */
}

/* The UDP transport started last (NULL: none).  Every request sent over UDP names it in its
 * transport selector (sc_udp_sel: the MESSAGE client's transactions, a registration's and a
 * publication's requests, the dialogs of Invitations and Subscriptions): after set_local_udp_port() the old transport stays
 * registered, shut down, while finished transactions hold it (Timer J/K), and pjproject
 * 2.12's lookup for datagram transports takes the first transport of the zero-address key
 * without skipping shut-down ones -- the old one -- and fails with PJSIP_EUNSUPTRANSPORT. */
pjsip_transport *sc_udp_current = NULL;

int sc_udp_sel(pjsip_tpselector *sel)
{
    if (!sc_udp_current) return 0;
    pj_bzero(sel, sizeof(*sel));
    sel->type = PJSIP_TPSELECTOR_TRANSPORT;
    sel->u.transport = sc_udp_current;
    return 1;
}

void sc_wake_destroy(pjsip_endpoint *endpt)
{
    sc_udp_current = NULL;      /* (the endpoint, destroyed next, takes its transports) */
    if (sc_wake_key) { pj_ioqueue_unregister(sc_wake_key); sc_wake_key = NULL; }
    else if (sc_wake_fds[0] >= 0) close(sc_wake_fds[0]);
    if (sc_wake_fds[1] >= 0) close(sc_wake_fds[1]);
    sc_wake_fds[0] = sc_wake_fds[1] = -1;
    sc_wake_pending = 0;
    sc_spinning = 0;
    if (sc_wake_pool) { pjsip_endpt_release_pool(endpt, sc_wake_pool); sc_wake_pool = NULL; }
}

/* ---------- 4. accessors -------------------------------------------------------------- */

/* A message's body: content type, subtype, data (a multipart body as the packet carried it:
 * PJSIP parsed it into parts); 0 when it has none. */
static int sc_msg_body(pjsip_rx_data *rdata, pj_str_t *type, pj_str_t *subtype,
                       const char **data, unsigned *len)
{
    pjsip_msg *msg = rdata->msg_info.msg;
    if (!msg->body) return 0;
    *type = msg->body->content_type.type;
    *subtype = msg->body->content_type.subtype;
    if (msg->body->print_body != &pjsip_print_text_body) {
        sc_rdata_raw_body(rdata, data, len);
    } else {
        *data = (const char*) msg->body->data;
        *len = msg->body->len;
    }
    return 1;
}

void sc_rdata_info(pjsip_rx_data *rdata, sc_rdata_info_t *out)
{
    pjsip_msg *msg = rdata->msg_info.msg;
    pj_bzero(out, sizeof(*out));
    out->is_request = msg->type == PJSIP_REQUEST_MSG;
    if (out->is_request) {
        out->method = msg->line.req.method.name;
        out->method_id = msg->line.req.method.id;
        out->request_uri = msg->line.req.uri;
    } else {
        out->status_code = msg->line.status.code;
        out->reason = msg->line.status.reason;
    }
    out->from_uri = rdata->msg_info.from ? rdata->msg_info.from->uri : NULL;
    out->to_uri = rdata->msg_info.to ? rdata->msg_info.to->uri : NULL;
    if (rdata->msg_info.cid) out->call_id = rdata->msg_info.cid->id;
    out->has_body = sc_msg_body(rdata, &out->content_type, &out->content_subtype, &out->body,
                                &out->body_len);
    out->src_ip = rdata->pkt_info.src_name;
    out->src_port = rdata->pkt_info.src_port;
}

/* Parse "Name: value" and add it to a request; typed headers (Route, Contact ...) come
 * out typed, others generic.  The text is copied into the message's pool. */
pj_status_t sc_tdata_add_header(pjsip_tx_data *tdata, const char *name, const char *value)
{
    pj_str_t hname, hvalue;
    pj_strdup2_with_null(tdata->pool, &hname, name);
    pj_strdup2_with_null(tdata->pool, &hvalue, value);
    return sc_tdata_add_hdr(tdata, &hname, &hvalue);
}

pj_status_t sc_tdata_add_hdr(pjsip_tx_data *tdata, const pj_str_t *name, pj_str_t *value)
{
    void *hdr = pjsip_parse_hdr(tdata->pool, name, value->ptr, (pj_size_t) value->slen, NULL);
    if (!hdr) return PJSIP_EINVALIDHDR;
    /* pjsip_parse_hdr returns a list (one header line may hold several values). */
    {
        pjsip_hdr *list = (pjsip_hdr*) hdr, *h = list, *next;
        do {
            next = h->next;
            pjsip_msg_add_hdr(tdata->msg, h);
            h = next;
        } while (h != list && h != NULL && h != (pjsip_hdr*) &tdata->msg->hdr);
    }
    return PJ_SUCCESS;
}

/* Helpers every request-making piece uses (glue.h: glue_clients.c, glue_inv.c). */

pj_status_t sc_route_set(pj_pool_t *pool, const char *route, pjsip_route_hdr *head)
{
    pj_str_t hname = { "Route", 5 }, value;
    pjsip_route_hdr *r;
    pj_list_init(head);
    if (!route || !*route) return PJ_SUCCESS;
    pj_strdup2_with_null(pool, &value, route);
    r = (pjsip_route_hdr*) pjsip_parse_hdr(pool, &hname, value.ptr, (pj_size_t) value.slen, NULL);
    if (!r) return PJSIP_EINVALIDHDR;
    pj_list_push_back(head, r);
    return PJ_SUCCESS;
}

void sc_cred(pj_pool_t *pool, pjsip_cred_info *cred, const char *user, const char *password)
{
    pj_bzero(cred, sizeof(*cred));
    cred->realm = pj_str("*");
    cred->scheme = pj_str("digest");
    pj_strdup2(pool, &cred->username, user);
    pj_strdup2(pool, &cred->data, password);
    cred->data_type = PJSIP_CRED_DATA_PLAIN_PASSWD;
}

void sc_listener_sel(pjsip_tpselector *sel, pjsip_tpfactory *listener)
{
    pj_bzero(sel, sizeof(*sel));
    sel->type = PJSIP_TPSELECTOR_LISTENER;
    sel->u.listener = listener;
}

/* A new UAC dialog (INVITE, SUBSCRIBE): its route set, digest credentials and the TCP/TLS
 * listener its requests go through (without one: the current UDP transport). */
pj_status_t sc_dlg_setup(pjsip_dialog *dlg, const char *route, pjsip_tpfactory *listener,
                         const char *user, const char *password)
{
    pjsip_route_hdr head;
    pj_status_t st = sc_route_set(dlg->pool, route, &head);
    if (st == PJ_SUCCESS && !pj_list_empty(&head)) st = pjsip_dlg_set_route_set(dlg, &head);
    if (st == PJ_SUCCESS && password) {
        pjsip_cred_info cred;
        sc_cred(dlg->pool, &cred, user, password);
        st = pjsip_auth_clt_set_credentials(&dlg->auth_sess, 1, &cred);
    }
    if (st == PJ_SUCCESS) {
        pjsip_tpselector sel;
        if (listener) sc_listener_sel(&sel, listener);
        /* without a listener, UDP when the route says so (a host name alone: resolving it
           chooses the transport, RFC 3263) */
        if (listener || (route && strstr(route, ";transport=udp") && sc_udp_sel(&sel)))
            st = pjsip_dlg_set_transport(dlg, &sel);
    }
    return st;
}

/* Transports.  addr is an IP literal of either family. */
static pj_status_t sc_sockaddr(const char *ip, int port, pj_sockaddr *sa, int *af)
{
    pj_str_t s = pj_str((char*) ip);
    *af = strchr(ip, ':') ? pj_AF_INET6() : pj_AF_INET();
    return pj_sockaddr_init(*af, sa, &s, (pj_uint16_t) port);
}

/* Shut a UDP transport down and, when nothing uses it any more, destroy it at once: pjsip
 * would do that from a zero-delay idle timer at its next poll, and until then the socket stays
 * bound (set_local_udp_port(0) followed by a check of the old port raced with it).  A transport
 * still used by transactions goes when the last of them lets go. */

void sc_udp_stop(pjsip_transport *tp)
{
    if (sc_udp_current == tp) sc_udp_current = NULL;
    pjsip_transport_shutdown(tp);
    if (pj_atomic_get(tp->ref_cnt) == 0)
        pjsip_transport_destroy(tp);
}

pj_status_t sc_start_udp(pjsip_endpoint *endpt, const char *ip, int port, pjsip_transport **tp)
{
    pj_sockaddr sa;
    int af;
    pj_status_t st = sc_sockaddr(ip, port, &sa, &af);
    if (st != PJ_SUCCESS) return st;
    if (af == pj_AF_INET6())
        st = pjsip_udp_transport_start6(endpt, &sa.ipv6, NULL, 1, tp);
    else
        st = pjsip_udp_transport_start(endpt, &sa.ipv4, NULL, 1, tp);
    if (st == PJ_SUCCESS) sc_udp_current = *tp;
    return st;
}

pj_status_t sc_start_tcp(pjsip_endpoint *endpt, const char *ip, int port, pjsip_tpfactory **f)
{
    pjsip_tcp_transport_cfg cfg;
    int af;
    pj_sockaddr sa;
    pj_status_t st = sc_sockaddr(ip, port, &sa, &af);
    if (st != PJ_SUCCESS) return st;
    pjsip_tcp_transport_cfg_default(&cfg, af);
    pj_sockaddr_cp(&cfg.bind_addr, &sa);
    cfg.async_cnt = 1;
    return pjsip_tcp_transport_start3(endpt, &cfg, f);
}

pj_status_t sc_start_tls(pjsip_endpoint *endpt, const char *ip, int port, const sc_tls_opts_t *o,
                         pjsip_tpfactory **f)
{
    pjsip_tls_setting s;
    int af;
    pj_sockaddr sa;
    pj_status_t st = sc_sockaddr(ip, port, &sa, &af);
    if (st != PJ_SUCCESS) return st;
    pjsip_tls_setting_default(&s);
    if (o->ca_file) s.ca_list_file = pj_str((char*) o->ca_file);
    if (o->ca_path) s.ca_list_path = pj_str((char*) o->ca_path);
    if (o->cert_file) s.cert_file = pj_str((char*) o->cert_file);
    if (o->privkey_file) s.privkey_file = pj_str((char*) o->privkey_file);
    s.proto = o->proto;
    s.verify_server = o->verify_server;
    s.timeout.sec = o->timeout_ms / 1000;
    s.timeout.msec = o->timeout_ms % 1000;
    s.reuse_addr = PJ_FALSE;
    if (port != 0) {
        /* pjsip_tls_transport_start2 (2.12, OpenSSL) reports success on a port another
         * socket listens on, and then has no listener at all: bind a probe first, so that a
         * taken port fails the start as it does for UDP and TCP. */
        pj_sock_t probe;
        st = pj_sock_socket(af, pj_SOCK_STREAM(), 0, &probe);
        if (st != PJ_SUCCESS) return st;
        st = pj_sock_bind(probe, &sa, pj_sockaddr_get_len(&sa));
        pj_sock_close(probe);
        if (st != PJ_SUCCESS) return st;
    }
    return pjsip_tls_transport_start2(endpt, &s, &sa, NULL, 1, f);
}

int sc_transport_port(pjsip_transport *tp) { return tp->local_name.port; }
int sc_factory_port(pjsip_tpfactory *f) { return f->addr_name.port; }
void sc_factory_destroy(pjsip_tpfactory *f) { if (f && f->destroy) f->destroy(f); }

/* Timers: an entry (memory owned by Python) whose id Python chooses; sc_py_on_timer finds
 * the function to call by that id. */
void sc_timer_init(pj_timer_entry *e, int id)
{
    pj_bzero(e, sizeof(*e));
    pj_timer_entry_init(e, id, NULL, &sc_py_on_timer);
}

int sc_timer_id(pj_timer_entry *entry) { return entry->id; }

/* Give a request a body of type/subtype (copied into its pool). */
pj_status_t sc_tdata_set_body(pjsip_tx_data *tdata, const char *type, const char *subtype,
                              const char *data, unsigned len)
{
    pj_str_t t, s, d;
    t = pj_str((char*) type);
    s = pj_str((char*) subtype);
    d.ptr = (char*) data;
    d.slen = (pj_ssize_t) len;
    tdata->msg->body = pjsip_msg_body_create(tdata->pool, &t, &s, &d);
    return tdata->msg->body ? PJ_SUCCESS : PJ_ENOMEM;
}
