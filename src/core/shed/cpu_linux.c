/* SPDX-License-Identifier: MIT
 *
 * cpu_linux.c: CPU usage in permille for the load shedder (go-zero core/stat).
 *
 * As go-zero core/stat/internal/{cpu_linux.go,cgroup_linux.go}: the CPU time the cgroup used
 * between two samples, divided by the machine's CPU time from /proc/stat, times cores / limit,
 * where limit is the smaller of the effective CPU count and the cgroup quota. cgroup v2 reads
 * cpu.stat/cpu.max/cpuset.cpus.effective at the mount root, v1 reads cpuacct.usage,
 * cpu.cfs_quota_us/cfs_period_us and cpuset.cpus. Where go-zero gives up (no cgroup), this falls
 * back to the machine's busy share from /proc/stat. A detached thread, started on first use,
 * samples every 250 ms and smooths with beta 0.95 (usage.go), roughly the last 5 s.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "czero/shedder.h"
#include "cpu_int.h"
#include "internal.h"

#define REFRESH_NS (250 * CZ_NS_PER_MS) /* usage.go: cpuRefreshInterval = 250ms */
#define BETA 0.95                       /* usage.go: beta */
#define CPU_TICKS 100                   /* cpu_linux.go: cpuTicks (USER_HZ) */
#define CPU_FIELDS 8                    /* cpu_linux.go: cpuFields ("cpu" + 7 counters) */
#define CPU_MAX 1000

static int read_text(const char *dir, const char *file, char *buf, size_t size)
{
    char path[512];
    snprintf(path, sizeof(path), "%s%s%s", dir, file ? "/" : "", file ? file : "");
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return 0;
}

static int read_u64(const char *dir, const char *file, uint64_t *v)
{
    char buf[64], *end;
    if (read_text(dir, file, buf, sizeof(buf)))
        return -1;
    long long x = strtoll(buf, &end, 10);
    if (end == buf)
        return -1;
    *v = x < 0 ? 0 : (uint64_t)x; /* go-zero parseUint: negative reads as 0 */
    return 0;
}

int cz__cpu_count_list(const char *list)
{
    unsigned char seen[1024] = {0};
    int n = 0;
    const char *p = list;
    while (*p) {
        char *end;
        long lo = strtol(p, &end, 10), hi;
        if (end == p || lo < 0 || lo >= 1024)
            return -1;
        hi = lo;
        p = end;
        if (*p == '-') {
            hi = strtol(p + 1, &end, 10);
            if (end == p + 1 || hi < lo || hi >= 1024)
                return -1;
            p = end;
        }
        for (long i = lo; i <= hi; i++)
            if (!seen[i]++)
                n++;
        if (*p == ',')
            p++;
        else if (*p)
            return -1;
    }
    return n;
}

/* Sum of the first seven "cpu" counters in ns (cpu_linux.go systemCpuUsage); *busy leaves out
 * idle and iowait, for the /proc/stat fallback. */
static int read_proc_stat(const char *path, uint64_t *system_ns, uint64_t *busy_ns)
{
    char buf[512];
    if (read_text(path, NULL, buf, sizeof(buf)) || strncmp(buf, "cpu ", 4) != 0)
        return -1;
    uint64_t v[CPU_FIELDS - 1], total = 0;
    char *p = buf + 4;
    for (int i = 0; i < CPU_FIELDS - 1; i++) {
        char *end;
        v[i] = strtoull(p, &end, 10);
        if (end == p)
            return -1;
        p = end;
        total += v[i];
    }
    *system_ns = total * CZ_NS_PER_SEC / CPU_TICKS;
    *busy_ns = (total - v[3] - v[4]) * CZ_NS_PER_SEC / CPU_TICKS;
    return 0;
}

/* CPU ns the cgroup has used so far. */
static int read_usage(const cz__cpu_sampler_t *s, uint64_t *ns)
{
    if (s->source == CZ__CPU_CGROUP1)
        return read_u64(s->root, "cpuacct/cpuacct.usage", ns);
    char buf[1024];
    if (read_text(s->root, "cpu.stat", buf, sizeof(buf)))
        return -1;
    const char *p = strstr(buf, "usage_usec ");
    if (!p || (p != buf && p[-1] != '\n'))
        return -1;
    *ns = strtoull(p + strlen("usage_usec "), NULL, 10) * 1000;
    return 0;
}

static double cgroup_quota(const cz__cpu_sampler_t *s)
{
    if (s->source == CZ__CPU_CGROUP2) {
        char buf[64];
        long long quota;
        unsigned long long period;
        if (read_text(s->root, "cpu.max", buf, sizeof(buf)) ||
            sscanf(buf, "%lld %llu", &quota, &period) != 2 || period == 0)
            return -1; /* includes "max 100000": no quota */
        return (double)quota / (double)period;
    }
    char buf[64];
    uint64_t period;
    if (read_text(s->root, "cpu/cpu.cfs_quota_us", buf, sizeof(buf)))
        return -1;
    long long quota = strtoll(buf, NULL, 10);
    if (quota <= 0 || read_u64(s->root, "cpu/cpu.cfs_period_us", &period) || period == 0)
        return -1;
    return (double)quota / (double)period;
}

int cz__cpu_sampler_init(cz__cpu_sampler_t *s, const char *root, const char *proc_stat)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->root, sizeof(s->root), "%s", root);
    snprintf(s->proc_stat, sizeof(s->proc_stat), "%s", proc_stat);
    uint64_t busy, usage;
    if (read_proc_stat(s->proc_stat, &s->pre_system, &busy))
        return s->source = CZ__CPU_NONE;

    char buf[1024];
    /* cgroup.controllers exists only at a v2 (unified) root; go-zero asks statfs the same. */
    if (read_text(s->root, "cgroup.controllers", buf, sizeof(buf)) == 0)
        s->source = CZ__CPU_CGROUP2;
    else
        s->source = CZ__CPU_CGROUP1;
    if (read_usage(s, &usage)) {
        s->source = CZ__CPU_PROCSTAT;
        s->pre_usage = busy;
        s->cores = 1;
        s->limit = 1;
        return s->source;
    }
    s->pre_usage = usage;
    const char *cpus =
        s->source == CZ__CPU_CGROUP2 ? "cpuset.cpus.effective" : "cpuset/cpuset.cpus";
    int n = read_text(s->root, cpus, buf, sizeof(buf)) ? -1 : cz__cpu_count_list(buf);
    if (n <= 0) {
        long on = sysconf(_SC_NPROCESSORS_ONLN);
        n = on > 0 ? (int)on : 1;
    }
    s->cores = (uint64_t)n;
    s->limit = n;
    double quota = cgroup_quota(s);
    if (quota > 0 && quota < s->limit)
        s->limit = quota;
    return s->source;
}

int64_t cz__cpu_sampler_refresh(cz__cpu_sampler_t *s)
{
    uint64_t system, busy, usage;
    if (s->source == CZ__CPU_NONE || read_proc_stat(s->proc_stat, &system, &busy))
        return 0;
    if (s->source == CZ__CPU_PROCSTAT)
        usage = busy;
    else if (read_usage(s, &usage))
        return 0;
    int64_t out = 0;
    if (usage > s->pre_usage && system > s->pre_system) {
        double u = (double)(usage - s->pre_usage) * (double)s->cores * CPU_MAX /
                   ((double)(system - s->pre_system) * s->limit);
        out = u > CPU_MAX ? CPU_MAX : (int64_t)u;
    }
    s->pre_usage = usage;
    s->pre_system = system;
    return out;
}

int64_t cz__cpu_smooth(int64_t prev, int64_t cur)
{
    return (int64_t)((double)prev * BETA + (double)cur * (1 - BETA));
}

static int64_t usage;          /* atomic, smoothed permille */
static int64_t override = -1;  /* atomic; < 0 = none */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static cz__cpu_sampler_t sampler; /* owned by the sampling thread after start */
static int source = CZ__CPU_NONE;

static void *sample_loop(void *arg)
{
    (void)arg;
    struct timespec ts = {0, (long)REFRESH_NS};
    for (;;) {
        nanosleep(&ts, NULL);
        int64_t cur = cz__cpu_sampler_refresh(&sampler);
        int64_t prev = __atomic_load_n(&usage, __ATOMIC_RELAXED);
        __atomic_store_n(&usage, cz__cpu_smooth(prev, cur), __ATOMIC_RELAXED);
    }
    return NULL;
}

static void start(void)
{
    source = cz__cpu_sampler_init(&sampler, "/sys/fs/cgroup", "/proc/stat");
    if (source == CZ__CPU_NONE)
        return;
    /* The sampler takes no signals: they stay with the threads that handle them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    if (pthread_create(&t, &attr, sample_loop, NULL) != 0)
        source = CZ__CPU_NONE;
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int64_t cz_cpu_usage(void)
{
    int64_t o = __atomic_load_n(&override, __ATOMIC_RELAXED);
    if (o >= 0)
        return o;
    pthread_once(&once, start);
    return __atomic_load_n(&usage, __ATOMIC_RELAXED);
}

int64_t cz__cpu_override(void) { return __atomic_load_n(&override, __ATOMIC_RELAXED); }

void cz_cpu_set_override(int64_t permille)
{
    __atomic_store_n(&override, permille < 0 ? -1 : permille, __ATOMIC_RELAXED);
}

const char *cz_cpu_source(void)
{
    static const char *const names[] = {"none", "cgroup2", "cgroup1", "procstat"};
    pthread_once(&once, start);
    return names[source];
}
