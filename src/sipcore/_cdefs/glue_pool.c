
/* ---- pool blocks: a slab allocator behind pjlib's caching pool --------------------------
 *
 * Every pjlib pool gets its memory in blocks from the pool factory's policy; pjlib's own
 * policy mallocs each one.  On sipcore's poll thread that malloc is served by a glibc
 * *secondary* arena, which grows its heap one mprotect() per page or so (the main arena's
 * brk() grows with M_TOP_PAD slack; a secondary arena has none): at a few hundred
 * transactions a second that is one system call per block, a large share of the process's
 * CPU time under MESSAGE load (figures: benchmarks/README.md, "Measurement log").
 *
 * Here blocks of up to SC_SLAB_MAX bytes come instead from 1 MiB slabs, each mapped once and
 * serving one size class (a multiple of SC_SLAB_GRAIN): allocation and release are a few
 * pointer operations under one mutex, with no system call.  Larger blocks go to malloc.
 * A slab that becomes empty is kept (reused at once by the next allocation of its class)
 * until sc_pool_trim(), which the poll thread calls after two idle seconds: it unmaps every
 * empty slab and gives the whole free pages inside partly used ones back to the system, so
 * RSS falls back after a burst as it did with malloc_trim().
 *
 * SIPCORE_MALLOC_POOLS=1 in the environment at Engine start selects pjlib's malloc policy
 * instead (for valgrind or AddressSanitizer, which see inside malloc'd blocks only).
 */
#include "sipcore.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>             /* malloc_trim */
#endif

#define SC_SLAB_SIZE  ((size_t) 1 << 20)
#define SC_SLAB_GRAIN ((size_t) 256)
#define SC_SLAB_MAX   ((size_t) 64 * 1024)
#define SC_SLAB_CLASSES (SC_SLAB_MAX / SC_SLAB_GRAIN)
#define SC_SLAB_SLOTS (SC_SLAB_SIZE / SC_SLAB_GRAIN)   /* most blocks a slab can hold */
#define SC_SLAB_PAGE  ((size_t) 4096)                    /* blocks start on such a boundary */

/* The header at the start of each slab.  Free blocks are kept as indexes on a stack in the
 * header, not linked through the blocks themselves, so a free block's pages hold nothing
 * and sc_pool_trim() can give them back whole.  Blocks start on the first page boundary
 * after the header. */
typedef struct sc_slab {
    struct sc_slab *prev, *next;   /* its class's slabs that have room (or are empty) */
    char *base;                    /* block 0 */
    size_t block;                  /* block size of the class */
    unsigned capacity;             /* blocks that fit */
    unsigned used;                 /* blocks ever handed out: 0..used-1 exist */
    unsigned live;                 /* blocks handed out now */
    unsigned nfree;                /* entries on the stack */
    int listed;
    uint16_t stack[SC_SLAB_SLOTS]; /* indexes of free blocks below `used` */
} sc_slab;

#define SC_SLAB_HEAD ((sizeof(sc_slab) + SC_SLAB_PAGE - 1) & ~(SC_SLAB_PAGE - 1))

static pthread_mutex_t sc_slab_lock = PTHREAD_MUTEX_INITIALIZER;
static sc_slab *sc_slab_room[SC_SLAB_CLASSES];
static size_t sc_slab_count;
static size_t sc_class_live[SC_SLAB_CLASSES];   /* blocks in use per class */

static void sc_slab_unlist(sc_slab *s, unsigned cls)
{
    if (s->prev) s->prev->next = s->next; else sc_slab_room[cls] = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = NULL;
    s->listed = 0;
}

static void sc_slab_list(sc_slab *s, unsigned cls)
{
    s->prev = NULL;
    s->next = sc_slab_room[cls];
    if (s->next) s->next->prev = s;
    sc_slab_room[cls] = s;
    s->listed = 1;
}

static sc_slab *sc_slab_new(size_t block)
{
    /* map twice the size and cut it down to one slab aligned to its size, so a block finds
     * its slab by masking its address */
    char *raw = mmap(NULL, 2 * SC_SLAB_SIZE, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *start;
    size_t head;
    sc_slab *s;
    if (raw == MAP_FAILED) return NULL;
    start = (char*) (((uintptr_t) raw + SC_SLAB_SIZE - 1) & ~(uintptr_t) (SC_SLAB_SIZE - 1));
    head = (size_t) (start - raw);
    if (head) munmap(raw, head);
    munmap(start + SC_SLAB_SIZE, SC_SLAB_SIZE - head);
    s = (sc_slab*) start;          /* fresh pages are zero: only set what is not */
    s->base = start + SC_SLAB_HEAD;
    s->block = block;
    s->capacity = (unsigned) ((SC_SLAB_SIZE - SC_SLAB_HEAD) / block);
    sc_slab_count++;
    return s;
}

static void *sc_block_alloc(pj_pool_factory *factory, pj_size_t size)
{
    void *p = NULL;
    if (factory->on_block_alloc && !factory->on_block_alloc(factory, size))
        return NULL;
    if (size == 0 || size > SC_SLAB_MAX) {
        p = malloc(size ? size : 1);
    } else {
        unsigned cls = (unsigned) ((size + SC_SLAB_GRAIN - 1) / SC_SLAB_GRAIN - 1);
        sc_slab *s;
        pthread_mutex_lock(&sc_slab_lock);
        s = sc_slab_room[cls];
        if (s == NULL) {
            s = sc_slab_new((cls + 1) * SC_SLAB_GRAIN);
            if (s) sc_slab_list(s, cls);
        }
        if (s) {
            unsigned i = s->nfree ? s->stack[--s->nfree] : s->used++;
            p = s->base + (size_t) i * s->block;
            s->live++;
            sc_class_live[cls]++;
            if (s->nfree == 0 && s->used == s->capacity) sc_slab_unlist(s, cls);
        }
        pthread_mutex_unlock(&sc_slab_lock);
    }
    if (p == NULL && factory->on_block_free)
        factory->on_block_free(factory, size);
    return p;
}

static void sc_block_free(pj_pool_factory *factory, void *mem, pj_size_t size)
{
    if (factory->on_block_free)
        factory->on_block_free(factory, size);
    if (size == 0 || size > SC_SLAB_MAX) {
        free(mem);
    } else {
        sc_slab *s = (sc_slab*) ((uintptr_t) mem & ~(uintptr_t) (SC_SLAB_SIZE - 1));
        unsigned cls = (unsigned) (s->block / SC_SLAB_GRAIN - 1);
        pthread_mutex_lock(&sc_slab_lock);
        s->live--;
        sc_class_live[cls]--;
        if (s->live == 0) {            /* start again from the bottom: fewer pages touched */
            s->used = 0;
            s->nfree = 0;
        } else {
            s->stack[s->nfree++] = (uint16_t) (((char*) mem - s->base) / s->block);
        }
        if (!s->listed) sc_slab_list(s, cls);
        pthread_mutex_unlock(&sc_slab_lock);
    }
}

/* Give back the whole pages inside runs of free blocks of a slab in use, and every page past
 * its last block handed out: a slab that emptied starts again from its bottom (`used` = 0),
 * so the pages its earlier blocks dirtied lie above `used` -- one block allocated there before
 * a trim (a new pool's first block, say) would otherwise pin the whole slab. */
static void sc_slab_release_free_pages(sc_slab *s)
{
    unsigned char isfree[SC_SLAB_SLOTS];
    unsigned i, run;
    uintptr_t page = (uintptr_t) sysconf(_SC_PAGESIZE);
    uintptr_t tail = ((uintptr_t) (s->base + (size_t) s->used * s->block) + page - 1) & ~(page - 1);
    uintptr_t end = (uintptr_t) s + SC_SLAB_SIZE;
    if (tail < end) madvise((void*) tail, end - tail, MADV_DONTNEED);
    if (s->nfree == 0) return;
    memset(isfree, 0, s->used);
    for (i = 0; i < s->nfree; i++) isfree[s->stack[i]] = 1;
    for (i = 0; i < s->used; i = run) {
        uintptr_t lo, hi;
        if (!isfree[i]) { run = i + 1; continue; }
        for (run = i; run < s->used && isfree[run]; run++) ;
        lo = ((uintptr_t) (s->base + (size_t) i * s->block) + page - 1) & ~(page - 1);
        hi = (uintptr_t) (s->base + (size_t) run * s->block) & ~(page - 1);
        if (hi > lo) madvise((void*) lo, hi - lo, MADV_DONTNEED);
    }
}

static pj_pool_factory_policy sc_pool_policy_data;

/* The policy for pj_caching_pool_init(): the slabs, or pjlib's malloc policy when
 * SIPCORE_MALLOC_POOLS is set to a non-empty value other than "0". */
const pj_pool_factory_policy *sc_pool_policy(void)
{
    const char *env = getenv("SIPCORE_MALLOC_POOLS");
    const pj_pool_factory_policy *dflt = pj_pool_factory_get_default_policy();
    if (env && *env && strcmp(env, "0") != 0)
        return dflt;
    sc_pool_policy_data = *dflt;
    sc_pool_policy_data.block_alloc = &sc_block_alloc;
    sc_pool_policy_data.block_free = &sc_block_free;
    return &sc_pool_policy_data;
}

/* Unmap the empty slabs and give back the whole free pages of the others (see
 * sc_slab_release_free_pages); returns the number of slabs still mapped. */
size_t sc_pool_trim(void)
{
    unsigned cls;
    size_t left;
    pthread_mutex_lock(&sc_slab_lock);
    for (cls = 0; cls < SC_SLAB_CLASSES; cls++) {
        sc_slab *s = sc_slab_room[cls];
        while (s) {
            sc_slab *next = s->next;
            if (s->live == 0) {
                sc_slab_unlist(s, cls);
                munmap(s, SC_SLAB_SIZE);
                sc_slab_count--;
            } else {
                sc_slab_release_free_pages(s);
            }
            s = next;
        }
    }
    left = sc_slab_count;
    pthread_mutex_unlock(&sc_slab_lock);
    return left;
}

/* Give freed memory back to the system: the pool slabs and glibc's heap.  Every
 * finished transaction is kept for Timer K/J (5/32 s) and then freed; after a burst, the
 * allocators would otherwise keep the peak as RSS forever. */
void sc_trim_heap(void)
{
    sc_pool_trim();
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

/* Slabs mapped now (for tests and diagnostics). */
size_t sc_pool_slabs(void)
{
    size_t n;
    pthread_mutex_lock(&sc_slab_lock);
    n = sc_slab_count;
    pthread_mutex_unlock(&sc_slab_lock);
    return n;
}

/* Blocks in use per size class (class i holds blocks of (i + 1) * 256 bytes) copied into
 * live[0..n-1]; returns the number of classes.  For diagnostics and tests. */
size_t sc_pool_usage(size_t *live, size_t n)
{
    size_t i;
    pthread_mutex_lock(&sc_slab_lock);
    for (i = 0; i < n && i < SC_SLAB_CLASSES; i++) live[i] = sc_class_live[i];
    pthread_mutex_unlock(&sc_slab_lock);
    return SC_SLAB_CLASSES;
}
