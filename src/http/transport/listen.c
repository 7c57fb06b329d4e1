/* SPDX-License-Identifier: MIT
 *
 * listen.c: opening a server's listening sockets, and refusing a port another process holds.
 *
 * Every worker has its own SO_REUSEPORT socket (server.c), so the kernel spreads connections
 * over the workers. SO_REUSEPORT alone would also let a second process of the same user join
 * the port without a word, and the kernel would then split the traffic between two unrelated
 * programs. So before the first socket of an address is bound, a probe socket binds it without
 * SO_REUSEPORT: that bind fails with EADDRINUSE while anything listens there, whether or not it
 * set SO_REUSEPORT (SO_REUSEADDR on the probe still lets it past a dead process's TIME_WAIT
 * connections). The probe is skipped when this process itself listens on the address already
 * (another server of it: a gateway reload's successor, which also takes duplicates of the old
 * sockets, or its dev listener) and when the server opts in with ReusePort: true. Between the
 * probe's close and the first real bind lies a window of microseconds in which another process
 * setting SO_REUSEPORT could still join; a process that does not set it fails its own bind.
 * The accept path is not here (accept.c, h1/h1_conn.c).
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "http/http_int.h"
#include "czero/log.h"

typedef struct held {
    struct sockaddr_storage ss; /* family, address and port */
    int refs;                   /* servers of this process listening there */
    struct held *next;
} held_t;

static pthread_mutex_t held_mu = PTHREAD_MUTEX_INITIALIZER;
static held_t *held_list;

static int addr_of(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0) {
        *len = sizeof(struct sockaddr_in);
        return 0;
    }
    if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0) {
        *len = sizeof(struct sockaddr_in6);
        return 0;
    }
    return CZ_EARG;
}

static bool is_any(const struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr == htonl(INADDR_ANY);
    return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)a)->sin6_addr);
}

static int port_of(const struct sockaddr_storage *a)
{
    return a->ss_family == AF_INET ? ntohs(((const struct sockaddr_in *)a)->sin_port)
                                   : ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                  &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
}

/* The entry whose sockets a bind of a would share (same family and port, the same address or a
 * wildcard on either side), or the exact entry of a when exact. Under held_mu. */
static held_t *held_find(const struct sockaddr_storage *a, bool exact)
{
    for (held_t *h = held_list; h; h = h->next) {
        if (h->ss.ss_family != a->ss_family || port_of(&h->ss) != port_of(a))
            continue;
        if (same_addr(&h->ss, a) || (!exact && (is_any(&h->ss) || is_any(a))))
            return h;
    }
    return NULL;
}

static bool held_by_us(const struct sockaddr_storage *a)
{
    pthread_mutex_lock(&held_mu);
    bool found = held_find(a, false) != NULL;
    pthread_mutex_unlock(&held_mu);
    return found;
}

/* 0 when nothing listens on a, else -errno of a bind without SO_REUSEPORT (EADDRINUSE). */
static int probe(const struct sockaddr_storage *a, socklen_t len)
{
    int fd = socket(a->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1, rc = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)a, len) != 0)
        rc = -errno;
    close(fd);
    return rc;
}

int cz__listen_check(const char *host, int port, bool reuse_port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (addr_of(host, port, &ss, &len) != 0)
        return CZ_EARG;
    if (port == 0 || reuse_port || held_by_us(&ss))
        return 0;
    return probe(&ss, len);
}

int cz__listen_open(const char *host, int port, int *fd_out)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (addr_of(host, port, &ss, &len) != 0)
        return CZ_EARG;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 4096) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    *fd_out = fd;
    return 0;
}

int cz__listen_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    return port_of(&ss);
}

void cz__listen_hold(const char *host, int port, bool on)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (addr_of(host, port, &ss, &len) != 0)
        return;
    pthread_mutex_lock(&held_mu);
    held_t *h = held_find(&ss, true);
    if (on && h) {
        h->refs++;
    } else if (on && (h = calloc(1, sizeof *h))) { /* no memory: a later probe is stricter */
        h->ss = ss;
        h->refs = 1;
        h->next = held_list;
        held_list = h;
    } else if (!on && h && --h->refs == 0) {
        for (held_t **pp = &held_list; *pp; pp = &(*pp)->next)
            if (*pp == h) {
                *pp = h->next;
                break;
            }
        free(h);
    }
    pthread_mutex_unlock(&held_mu);
}

void cz__listen_log_error(const char *host, int port, int err)
{
    char msg[128];
    snprintf(msg, sizeof msg, "%s", cz_strerror(err));
    if (err < 0 && err > CZ__ERR_BASE) /* strerror's "Address already in use", as Go says it */
        msg[0] = (char)tolower((unsigned char)msg[0]);
    cz_log_error("listen on %s:%d: %s", host, port, msg);
}
