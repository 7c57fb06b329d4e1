/* SPDX-License-Identifier: MIT
 *
 * cpu_int.h: the CPU usage sampler behind cz_cpu_usage() (private to czero and its tests).
 *
 * Split out of cpu_linux.c so tests can point a sampler at a fake cgroup/proc tree and check the
 * arithmetic exactly, without a background thread or the real machine's load.
 */
#ifndef CZERO_SHED_CPU_INT_H
#define CZERO_SHED_CPU_INT_H

#include <stdint.h>

enum { CZ__CPU_NONE = 0, CZ__CPU_CGROUP2, CZ__CPU_CGROUP1, CZ__CPU_PROCSTAT };

typedef struct cz__cpu_sampler {
    int source;            /* CZ__CPU_* */
    char root[192];        /* cgroup mount point, normally /sys/fs/cgroup */
    char proc_stat[192];   /* normally /proc/stat */
    uint64_t cores;        /* effective CPUs */
    double limit;          /* min(cores, quota) in CPUs */
    uint64_t pre_usage;    /* cgroup: CPU ns used; procstat: busy ns */
    uint64_t pre_system;   /* all CPUs' ns from /proc/stat */
} cz__cpu_sampler_t;

/** Detect the source under root/proc_stat and take the first reading. Returns the source. */
int cz__cpu_sampler_init(cz__cpu_sampler_t *s, const char *root, const char *proc_stat);
/** Usage in permille (0..1000) since the previous reading; 0 when nothing can be read. */
int64_t cz__cpu_sampler_refresh(cz__cpu_sampler_t *s);
/** go-zero usage.go smoothing: prev * 0.95 + cur * 0.05, truncated. */
int64_t cz__cpu_smooth(int64_t prev, int64_t cur);
/** Number of CPUs in a cpuset list such as "0-3,5" (duplicates counted once); -1 if malformed. */
int cz__cpu_count_list(const char *list);

#endif
