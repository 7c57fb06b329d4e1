/* SPDX-License-Identifier: MIT
 *
 * gw_pid.c: the gateway's pid file and `czero-gateway -s reload|stop` (nginx's pid and -s).
 *
 * The running gateway writes its pid to PidFile once it listens and removes the file when it
 * exits (only while the file still names it). `-s` loads the same configuration to find the
 * file, checks that the pid in it is a live czero-gateway (a stale file, or one planted in a
 * shared /tmp, must not make it signal some other process) and sends SIGHUP or SIGTERM. So
 * `-s` signals exactly the gateway that config started, where `kill $(pgrep -f ...)` hit every
 * gateway on the host. The default path holds the Port, so gateways on different ports run
 * side by side. Not the signal handling itself (gw_reload.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "gw_reload.h"

int gw_pid_path(const gw_conf_t *c, char *buf, size_t n)
{
    int w;
    if (c->pid_file && *c->pid_file) {
        w = snprintf(buf, n, "%s", c->pid_file);
    } else {
        const char *dir = getenv("XDG_RUNTIME_DIR"); /* per user; /tmp is everyone's */
        w = snprintf(buf, n, "%s/czero-gateway-%ld.pid", dir && *dir ? dir : "/tmp",
                     (long)c->rest.port);
    }
    return w > 0 && (size_t)w < n ? 0 : CZ_EARG;
}

int gw_pid_write(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    char line[32];
    int n = snprintf(line, sizeof line, "%ld\n", (long)getpid());
    int rc = write(fd, line, (size_t)n) == n ? 0 : -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    return rc;
}

/* The pid path holds, or 0 (no file, not a number). */
static long read_pid(const char *path, int *err)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        *err = -errno;
        return 0;
    }
    long pid = 0;
    if (fscanf(f, "%ld", &pid) != 1 || pid <= 0)
        pid = 0;
    fclose(f);
    *err = pid ? 0 : CZ_EPARSE;
    return pid;
}

void gw_pid_remove(const char *path)
{
    int err;
    if (read_pid(path, &err) == (long)getpid()) /* a successor's file stays */
        unlink(path);
}

/* Whether pid runs a program named czero-gateway (its /proc comm). */
static bool is_gateway(long pid)
{
    char p[64], comm[64] = "";
    snprintf(p, sizeof p, "/proc/%ld/comm", pid);
    FILE *f = fopen(p, "re");
    if (!f)
        return false;
    bool ok = fgets(comm, sizeof comm, f) != NULL;
    fclose(f);
    comm[strcspn(comm, "\n")] = 0;
    return ok && strcmp(comm, "czero-gateway") == 0;
}

int gw_pid_signal(const char *path, const char *cmd)
{
    int sig = strcmp(cmd, "reload") == 0 ? SIGHUP : strcmp(cmd, "stop") == 0 ? SIGTERM : 0;
    if (!sig) {
        fprintf(stderr, "czero-gateway: -s %s: the signals are reload and stop\n", cmd);
        return 2;
    }
    int err;
    long pid = read_pid(path, &err);
    if (!pid) {
        fprintf(stderr, "czero-gateway: -s %s: pid file %s: %s (is the gateway running?)\n", cmd,
                path, err == CZ_EPARSE ? "no pid in it" : cz_strerror(err));
        return 1;
    }
    if (kill((pid_t)pid, 0) != 0 || !is_gateway(pid)) {
        fprintf(stderr, "czero-gateway: -s %s: pid %ld from %s is not a running czero-gateway "
                        "(a stale pid file?)\n", cmd, pid, path);
        return 1;
    }
    if (kill((pid_t)pid, sig) != 0) {
        fprintf(stderr, "czero-gateway: -s %s: pid %ld: %s\n", cmd, pid, strerror(errno));
        return 1;
    }
    printf("czero-gateway: sent %s to pid %ld (%s)\n", cmd, pid, path);
    return 0;
}
