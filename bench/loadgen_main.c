/* SPDX-License-Identifier: MIT
 *
 * loadgen_main.c: `czero-loadgen`, the open-loop load generator of tests/support/loadgen.h as a
 * command, for `make bench`'s overload section (wrk is closed-loop and wrk2 is not available).
 *
 *   czero-loadgen PORT PATH RATE SECONDS [MAX_CONNS]
 *
 * prints one line: scheduled ok s503 s429 other errors goodput p50_ms p99_ms max_ms
 */
#include <stdio.h>
#include <stdlib.h>
#include "loadgen.h"

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: czero-loadgen PORT PATH RATE SECONDS [MAX_CONNS]\n");
        return 2;
    }
    lg_conf_t c = {.port = atoi(argv[1]), .path = argv[2], .rate = atof(argv[3]),
                   .seconds = atof(argv[4]), .max_conns = argc > 5 ? atoi(argv[5]) : 0};
    lg_result_t r;
    if (lg_run(&c, &r) != 0) {
        fprintf(stderr, "czero-loadgen: cannot run\n");
        return 1;
    }
    printf("%llu %llu %llu %llu %llu %llu %.1f %.2f %.2f %.2f\n", (unsigned long long)r.scheduled,
           (unsigned long long)r.ok, (unsigned long long)r.s503, (unsigned long long)r.s429,
           (unsigned long long)r.other, (unsigned long long)r.errors, r.goodput, r.p50_ms,
           r.p99_ms, r.max_ms);
    return 0;
}
