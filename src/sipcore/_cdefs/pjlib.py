"""pjlib: init/shutdown, pools, logging, errors, sockets addresses, time."""

INCLUDES = """
#include <pjlib.h>
"""

TYPES = """
typedef int pj_status_t;
typedef int pj_bool_t;
typedef long pj_ssize_t;
typedef unsigned long pj_size_t;
typedef unsigned int pj_uint32_t;
typedef unsigned short pj_uint16_t;
typedef unsigned char pj_uint8_t;
typedef int pj_int32_t;
typedef int pj_sock_t;

#define PJ_SUCCESS ...
#define PJ_EPENDING ...
#define PJ_ERR_MSG_SIZE ...
#define PJ_LOG_SENDER_WIDTH ...

typedef struct pj_str_t { char *ptr; pj_ssize_t slen; } pj_str_t;
typedef struct pj_time_val { long sec; long msec; } pj_time_val;

typedef struct pj_pool_t pj_pool_t;
typedef struct pj_pool_factory { ...; } pj_pool_factory;
typedef struct pj_caching_pool { pj_pool_factory factory; ...; } pj_caching_pool;
typedef struct pj_ioqueue_t pj_ioqueue_t;
typedef struct pj_timer_heap_t pj_timer_heap_t;

typedef union pj_sockaddr { ...; } pj_sockaddr;
typedef struct pj_timer_entry { ...; } pj_timer_entry;

typedef enum pj_ssl_sock_proto {
    PJ_SSL_SOCK_PROTO_DEFAULT, PJ_SSL_SOCK_PROTO_SSL2, PJ_SSL_SOCK_PROTO_SSL3,
    PJ_SSL_SOCK_PROTO_TLS1, PJ_SSL_SOCK_PROTO_TLS1_1, PJ_SSL_SOCK_PROTO_TLS1_2,
    PJ_SSL_SOCK_PROTO_TLS1_3, PJ_SSL_SOCK_PROTO_SSL23, ...
} pj_ssl_sock_proto;
"""

FUNCTIONS = """
pj_status_t pj_init(void);
void pj_srand(unsigned int seed);
void pj_shutdown(void);
pj_status_t pjlib_util_init(void);
const char *pj_get_version(void);

void pj_caching_pool_init(pj_caching_pool *ch_pool, const void *policy, pj_size_t max_capacity);
void pj_caching_pool_destroy(pj_caching_pool *ch_pool);
void pj_pool_release(pj_pool_t *pool);

void pj_log_set_level(int level);
int pj_log_get_level(void);

pj_str_t pj_strerror(pj_status_t statcode, char *buf, pj_size_t bufsize);

int pj_AF_INET(void);
int pj_AF_INET6(void);
pj_status_t pj_getdefaultipinterface(int af, pj_sockaddr *addr);
char *pj_sockaddr_print(const pj_sockaddr *addr, char *buf, int size, unsigned flags);
"""

CUSTOMIZATIONS = ""
