/* A small blocking HTTP/1.1 test client over real sockets: send raw bytes, read responses one by
 * one (pipelined responses stay buffered), parse them with llhttp in response mode. */
#ifndef CZ_TEST_HTTP_CLIENT_H
#define CZ_TEST_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#define TC_MAX_HEADERS 32

typedef struct tc_resp {
    int status;
    int nheaders;
    char name[TC_MAX_HEADERS][64];
    char value[TC_MAX_HEADERS][512];
    char *body;        /* malloc'd, NUL-terminated; free with tc_resp_free */
    size_t body_len;
    bool chunked;
    bool keep_alive;
} tc_resp_t;

typedef struct tc_conn {
    int fd;
    char buf[1 << 16];
    size_t len;
} tc_conn_t;

/** Connect to 127.0.0.1:port with a receive timeout (ms). Returns 0 or -1. */
int tc_connect(tc_conn_t *c, int port, int timeout_ms);
void tc_close(tc_conn_t *c);
/** Send all bytes; -1 when the peer is gone. */
int tc_send(tc_conn_t *c, const void *data, size_t n);
int tc_sendf(tc_conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Read one response. head: the request was HEAD (no body follows). Returns 0, or -1 on
 *  timeout/EOF/parse error before a whole response arrived. */
int tc_read(tc_conn_t *c, tc_resp_t *r, bool head);
/** True when the server closed the connection (EOF or reset) within timeout_ms with no more
 *  data (buffered data counts as "not closed"). */
bool tc_closed(tc_conn_t *c, int timeout_ms);
/** Case-insensitive header lookup; NULL when absent. */
const char *tc_header(const tc_resp_t *r, const char *name);
void tc_resp_free(tc_resp_t *r);
/** One request on a new connection: "GET /x" style line, optional extra headers and body. */
int tc_get(int port, const char *path, tc_resp_t *r);
/** Milliseconds from a monotonic clock. */
long tc_now_ms(void);

#endif
