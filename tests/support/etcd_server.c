/* SPDX-License-Identifier: MIT
 *
 * etcd_server.c: runs etcd as a child process for tests (see etcd_server.h).
 * Waiting with short sleeps is fine here: this is process setup, not the behaviour under test.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <jansson.h>
#include "czero/codec.h"
#include "etcd_server.h"
#include "http_client.h"
#include "proc.h"

int cz_test_etcd_available(void) { return cz_test_in_path("etcd"); }

/* One blocking JSON POST (or GET when body is NULL); the response in *r. 0 or -1. */
static int request(int port, const char *path, const char *body, tc_resp_t *r)
{
    memset(r, 0, sizeof *r);
    tc_conn_t *c = malloc(sizeof *c);
    if (!c || tc_connect(c, port, 1000) != 0) {
        free(c);
        return -1;
    }
    int rc;
    if (body)
        rc = tc_sendf(c, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                      path, strlen(body), body);
    else
        rc = tc_sendf(c, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    if (rc == 0)
        rc = tc_read(c, r, false);
    else
        memset(r, 0, sizeof *r);
    tc_close(c);
    free(c);
    return rc;
}

static int healthy(void *arg)
{
    int port = *(const int *)arg;
    tc_resp_t r;
    int ok = request(port, "/health", NULL, &r) == 0 && r.status == 200 &&
             strstr(r.body, "\"true\"") != NULL;
    tc_resp_free(&r);
    return ok;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

int cz_test_etcd_restart(cz_test_etcd_t *e, int wipe)
{
    if (!cz_test_etcd_available())
        return -ENOENT;
    char data[192], log[192], client[128], peer[64], cluster[96];
    char cert[192], key[192], ca[192];
    snprintf(cert, sizeof cert, "%s/peer.pem", e->pki);
    snprintf(key, sizeof key, "%s/peer.key", e->pki);
    snprintf(ca, sizeof ca, "%s/ca.pem", e->pki);
    snprintf(data, sizeof data, "%s/data", e->dir);
    snprintf(log, sizeof log, "%s/etcd.log", e->dir);
    if (wipe)
        nftw(data, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (e->tls_port)
        snprintf(client, sizeof client, "http://127.0.0.1:%d,https://127.0.0.1:%d", e->port,
                 e->tls_port);
    else
        snprintf(client, sizeof client, "http://127.0.0.1:%d", e->port);
    snprintf(peer, sizeof peer, "http://127.0.0.1:%d", e->peer_port);
    snprintf(cluster, sizeof cluster, "default=%s", peer);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        /* a test that crashes or times out must not leave etcd running */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        int in = open("/dev/null", O_RDONLY), out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (in >= 0)
            dup2(in, 0);
        if (out >= 0) {
            dup2(out, 1);
            dup2(out, 2);
        }
        if (e->tls_port)
            execlp("etcd", "etcd", "--name", "default", "--data-dir", data,
                   "--listen-client-urls", client, "--advertise-client-urls", client,
                   "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                   "--initial-cluster", cluster, "--logger", "zap", "--log-level", "warn",
                   "--cert-file", cert, "--key-file", key,
                   e->client_auth ? "--trusted-ca-file" : "--log-outputs",
                   e->client_auth ? ca : "stderr",
                   e->client_auth ? "--client-cert-auth" : "--log-outputs=stderr",
                   e->extra[0] ? e->extra : "--log-outputs=stderr", (char *)NULL);
        else
            execlp("etcd", "etcd", "--name", "default", "--data-dir", data,
                   "--listen-client-urls", client, "--advertise-client-urls", client,
                   "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                   "--initial-cluster", cluster, "--logger", "zap", "--log-level", "warn",
                   (char *)NULL);
        _exit(127);
    }
    e->pid = pid;
    int rc = cz_test_proc_wait(&e->pid, healthy, &e->port, 1000);
    if (rc == -ETIMEDOUT)
        cz_test_etcd_kill(e);
    return rc;
}

static int start(cz_test_etcd_t *e, const char *pki, int client_auth)
{
    memset(e, 0, sizeof *e);
    if (pki) {
        snprintf(e->pki, sizeof e->pki, "%s", pki);
        e->client_auth = client_auth;
    }
    if (!cz_test_etcd_available())
        return -ENOENT;
    snprintf(e->dir, sizeof e->dir, "/tmp/cz-etcd-XXXXXX");
    if (!mkdtemp(e->dir))
        return -errno;
    int rc = -1;
    for (int tries = 0; tries < 5 && rc < 0; tries++) { /* another process may grab a port */
        e->port = cz_test_free_port();
        e->peer_port = cz_test_free_port();
        if (e->port < 0 || e->peer_port < 0 || e->port == e->peer_port)
            continue;
        if (pki) {
            e->tls_port = cz_test_free_port();
            if (e->tls_port < 0 || e->tls_port == e->port || e->tls_port == e->peer_port)
                continue;
            snprintf(e->tls_host, sizeof e->tls_host, "https://localhost:%d", e->tls_port);
        }
        snprintf(e->host, sizeof e->host, "127.0.0.1:%d", e->port);
        rc = cz_test_etcd_restart(e, 1);
    }
    return rc;
}

int cz_test_etcd_start(cz_test_etcd_t *e) { return start(e, NULL, 0); }

int cz_test_etcd_start_tls(cz_test_etcd_t *e, const char *pki, int client_auth)
{
    return start(e, pki, client_auth);
}

int cz_test_etcd_auth_enable(const cz_test_etcd_t *e, const char *user, const char *pass)
{
    char b[256];
    const char *steps[4][2] = {
        {"/v3/auth/user/add", NULL},
        {"/v3/auth/role/add", "{\"name\":\"root\"}"},
        {"/v3/auth/user/grant", NULL},
        {"/v3/auth/enable", "{}"},
    };
    for (int i = 0; i < 4; i++) {
        if (i == 0)
            snprintf(b, sizeof b, "{\"name\":\"%s\",\"password\":\"%s\"}", user, pass);
        else if (i == 2)
            snprintf(b, sizeof b, "{\"user\":\"%s\",\"role\":\"root\"}", user);
        else
            snprintf(b, sizeof b, "%s", steps[i][1]);
        tc_resp_t r;
        int rc = request(e->port, steps[i][0], b, &r);
        int ok = rc == 0 && r.status == 200;
        if (!ok)
            fprintf(stderr, "etcd %s: %d %s\n", steps[i][0], r.status, r.body ? r.body : "");
        tc_resp_free(&r);
        if (!ok)
            return -1;
    }
    return 0;
}

void cz_test_etcd_stop(cz_test_etcd_t *e) { cz_test_proc_signal(&e->pid, SIGTERM); }

void cz_test_etcd_freeze(cz_test_etcd_t *e)
{
    if (e->pid > 0)
        kill(e->pid, SIGSTOP);
}

void cz_test_etcd_thaw(cz_test_etcd_t *e)
{
    if (e->pid > 0)
        kill(e->pid, SIGCONT);
}
void cz_test_etcd_kill(cz_test_etcd_t *e) { cz_test_proc_signal(&e->pid, SIGKILL); }

void cz_test_etcd_free(cz_test_etcd_t *e)
{
    cz_test_etcd_stop(e);
    if (e->dir[0])
        nftw(e->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    e->dir[0] = 0;
}

static char *b64(const char *s)
{
    char *o = malloc(cz_base64_encoded_len(strlen(s), 0) + 1);
    cz_base64_encode(o, s, strlen(s), 0);
    return o;
}

int cz_test_etcd_values(const cz_test_etcd_t *e, const char *prefix, char (*out)[64], int max)
{
    char *k = b64(prefix), *end = strdup(prefix);
    end[strlen(end) - 1]++;
    char *ke = b64(end), body[512];
    snprintf(body, sizeof body, "{\"key\":\"%s\",\"range_end\":\"%s\"}", k, ke);
    free(k);
    free(end);
    free(ke);
    tc_resp_t r;
    int n = -1;
    if (request(e->port, "/v3/kv/range", body, &r) == 0 && r.status == 200) {
        json_t *j = json_loads(r.body, 0, NULL);
        json_t *kvs = json_object_get(j, "kvs"), *kv;
        size_t i;
        n = 0;
        json_array_foreach(kvs, i, kv) {
            const char *v = json_string_value(json_object_get(kv, "value"));
            size_t dn = 0;
            char tmp[256];
            if (n < max && v && strlen(v) < 300 &&
                cz_base64_decode(tmp, &dn, v, strlen(v), 0) == 0 && dn < 64) {
                memcpy(out[n], tmp, dn);
                out[n][dn] = 0;
                n++;
            }
        }
        json_decref(j);
    }
    tc_resp_free(&r);
    return n;
}

int cz_test_etcd_put(const cz_test_etcd_t *e, const char *key, const char *value)
{
    char *k = b64(key), *v = b64(value), body[512];
    snprintf(body, sizeof body, "{\"key\":\"%s\",\"value\":\"%s\"}", k, v);
    free(k);
    free(v);
    tc_resp_t r;
    int rc = request(e->port, "/v3/kv/put", body, &r) == 0 && r.status == 200 ? 0 : -1;
    tc_resp_free(&r);
    return rc;
}
