/* pjlib and pjlib-util, as sipcore's Python side uses them.
 *
 * cdef-only: read by cffi's cdef, never by a C compiler.  Copies of pjproject's declarations,
 * trimmed to what src/ uses; partial structs ({ ...; }) and `#define X ...` let the compiler
 * fill in pjproject's layouts and values (they follow config_site.h).  The C side of the cffi
 * module includes the real headers (sipcore.h) and cffi checks these copies against them. */

typedef int pj_status_t;
typedef int pj_bool_t;
typedef long pj_ssize_t;
typedef unsigned long pj_size_t;
typedef unsigned int pj_uint32_t;
typedef unsigned short pj_uint16_t;
typedef unsigned char pj_uint8_t;
typedef int pj_int32_t;

#define PJ_SUCCESS ...
#define PJ_LOG_SENDER_WIDTH ...

typedef struct pj_str_t { char *ptr; pj_ssize_t slen; } pj_str_t;
typedef struct pj_time_val { long sec; long msec; } pj_time_val;

typedef struct pj_pool_t pj_pool_t;
typedef struct pj_pool_factory { ...; } pj_pool_factory;
typedef struct pj_pool_factory_policy pj_pool_factory_policy;
typedef struct pj_caching_pool { pj_pool_factory factory; ...; } pj_caching_pool;
typedef struct pj_ioqueue_t pj_ioqueue_t;
typedef struct pj_timer_heap_t pj_timer_heap_t;

typedef union pj_sockaddr { ...; } pj_sockaddr;
typedef struct pj_timer_entry { ...; } pj_timer_entry;

/* partial enums ({ ..., ... }): the members used, their values from the compiler */
typedef enum pj_ssl_sock_proto {
    PJ_SSL_SOCK_PROTO_TLS1, PJ_SSL_SOCK_PROTO_TLS1_1, PJ_SSL_SOCK_PROTO_TLS1_2,
    PJ_SSL_SOCK_PROTO_TLS1_3, PJ_SSL_SOCK_PROTO_SSL23, ...
} pj_ssl_sock_proto;

pj_status_t pj_init(void);
void pj_srand(unsigned int seed);
void pj_shutdown(void);
const char *pj_get_version(void);

void pj_caching_pool_init(pj_caching_pool *ch_pool, const pj_pool_factory_policy *policy,
                          pj_size_t max_capacity);
void pj_caching_pool_destroy(pj_caching_pool *ch_pool);
void *pj_pool_alloc(pj_pool_t *pool, pj_size_t size);

void pj_log_set_level(int level);

pj_str_t pj_strerror(pj_status_t statcode, char *buf, pj_size_t bufsize);

int pj_AF_INET(void);
pj_status_t pj_getdefaultipinterface(int af, pj_sockaddr *addr);
char *pj_sockaddr_print(const pj_sockaddr *addr, char *buf, int size, unsigned flags);

/* pjlib-util */
pj_status_t pjlib_util_init(void);
