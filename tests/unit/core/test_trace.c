/* SPDX-License-Identifier: MIT
 *
 * Unit tests of src/core/trace/span.c: W3C traceparent parse/format vectors (valid and invalid),
 * hex, id uniqueness and non-zero ids across threads, and the OpenTelemetry ratio sampler. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "czero/trace.h"

#define TP_OK "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static int parse(const char *s, cz_span_ctx_t *c) { return cz_traceparent_parse(cz_str_c(s), c); }

Test(traceparent, parses_the_spec_example)
{
    cz_span_ctx_t c;
    cr_assert_eq(parse(TP_OK, &c), 0);
    static const uint8_t tid[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                                    0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
    static const uint8_t sid[8] = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};
    cr_assert_arr_eq(c.trace_id, tid, 16);
    cr_assert_arr_eq(c.span_id, sid, 8);
    cr_assert_eq(c.flags, CZ_TRACE_FLAG_SAMPLED);
}

Test(traceparent, flags_keep_only_the_sampled_bit)
{
    cz_span_ctx_t c;
    cr_assert_eq(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", &c), 0);
    cr_assert_eq(c.flags, 0);
    cr_assert_eq(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03", &c), 0);
    cr_assert_eq(c.flags, CZ_TRACE_FLAG_SAMPLED);
    cr_assert_eq(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-fe", &c), 0);
    cr_assert_eq(c.flags, 0);
}

Test(traceparent, future_versions_may_append_fields)
{
    cz_span_ctx_t c;
    cr_assert_eq(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", &c), 0);
    cr_assert_eq(parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever", &c),
                 0);
    cr_assert_eq(c.flags, 1);
    cr_assert_eq(parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01what", &c),
                 CZ_EPARSE);
}

Test(traceparent, rejects_invalid_values_and_leaves_out_untouched)
{
    static const char *bad[] = {
        "",
        "00",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",        /* short */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",      /* v00 longer */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",       /* version ff */
        "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",       /* non-hex version */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",       /* upper case */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",       /* zero trace id */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",       /* zero span id */
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",       /* separators */
        "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
        "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",       /* shifted dash */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",       /* bad flags */
        "00-4bf92f3577b34da6a3ce929d0e0e47z6-00f067aa0ba902b7-01",       /* bad digit */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cz_span_ctx_t c;
        memset(&c, 0xab, sizeof c);
        cr_assert_eq(parse(bad[i], &c), CZ_EPARSE, "accepted [%s]", bad[i]);
        cr_assert_eq(c.flags, 0xab, "changed out for [%s]", bad[i]);
    }
    cz_span_ctx_t c;
    cr_assert_eq(cz_traceparent_parse(CZ_STR_NULL, &c), CZ_EPARSE);
}

Test(traceparent, format_round_trips)
{
    cz_span_ctx_t c, back;
    cr_assert_eq(parse(TP_OK, &c), 0);
    char buf[CZ_TRACEPARENT_LEN + 1];
    cr_assert_eq(cz_traceparent_format(&c, buf), 55);
    cr_assert_str_eq(buf, TP_OK);
    c.flags = 0;
    cz_traceparent_format(&c, buf);
    cr_assert_str_eq(buf, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    cz_trace_new_trace_id(c.trace_id);
    cz_trace_new_span_id(c.span_id);
    c.flags = 1;
    cz_traceparent_format(&c, buf);
    cr_assert_eq(parse(buf, &back), 0);
    cr_assert_arr_eq(&back, &c, sizeof c);
}

Test(trace, hex_is_lower_case)
{
    const uint8_t b[4] = {0x00, 0xab, 0x7f, 0xf0};
    char out[9] = {0};
    cz_trace_hex(b, 4, out);
    cr_assert_str_eq(out, "00ab7ff0");
}

Test(trace, hex_matches_printf_for_every_byte_and_length)
{
    uint8_t b[256 + 7];
    for (size_t i = 0; i < sizeof b; i++)
        b[i] = (uint8_t)(i * 167 + 13); /* every value, at every offset modulo 4 */
    for (size_t n = 0; n <= 9; n++) {
        for (size_t off = 0; off + n <= sizeof b; off++) {
            char got[20], want[20];
            memset(got, '#', sizeof got);
            for (size_t i = 0; i < n; i++)
                snprintf(want + 2 * i, 3, "%02x", b[off + i]);
            cz_trace_hex(b + off, n, got);
            cr_assert(memcmp(got, want, 2 * n) == 0, "n=%zu off=%zu", n, off);
            cr_assert_eq(got[2 * n], '#', "wrote past 2n for n=%zu", n); /* no overrun */
        }
    }
}

static int cmp16(const void *a, const void *b) { return memcmp(a, b, 16); }

static int cmp64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

Test(trace, ids_are_unique_and_never_zero)
{
    enum { N = 50000 };
    uint8_t(*ids)[16] = malloc(sizeof(*ids) * N);
    static const uint8_t zero[16];
    for (int i = 0; i < N; i++) {
        cz_trace_new_trace_id(ids[i]);
        cr_assert(memcmp(ids[i], zero, 16) != 0);
    }
    qsort(ids, N, 16, cmp16);
    for (int i = 1; i < N; i++)
        cr_assert(memcmp(ids[i - 1], ids[i], 16) != 0, "duplicate trace id");
    /* span ids: 8 bytes, compared as integers */
    uint64_t *sp = (uint64_t *)ids;
    for (int i = 0; i < N; i++) {
        cz_trace_new_span_id((uint8_t *)&sp[i]);
        cr_assert_neq(sp[i], 0);
    }
    qsort(sp, N, sizeof *sp, cmp64);
    for (int i = 1; i < N; i++)
        cr_assert_neq(sp[i - 1], sp[i], "duplicate span id");
    free(ids);
}

static void *thread_ids(void *arg)
{
    uint8_t *out = arg;
    cz_trace_new_trace_id(out);
    return NULL;
}

Test(trace, threads_have_their_own_seeds)
{
    uint8_t a[16], b[16], c[16];
    pthread_t t1, t2;
    pthread_create(&t1, NULL, thread_ids, a);
    pthread_create(&t2, NULL, thread_ids, b);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    cz_trace_new_trace_id(c);
    cr_assert(memcmp(a, b, 16) != 0 && memcmp(a, c, 16) != 0 && memcmp(b, c, 16) != 0);
}

static void id_with_low(uint8_t id[16], uint64_t low)
{
    memset(id, 0x11, 8);
    for (int i = 15; i >= 8; i--, low >>= 8)
        id[i] = (uint8_t)low;
}

Test(sampler, one_always_zero_never)
{
    cz_sampler_t s;
    uint8_t id[16];
    cz_sampler_init(&s, 1.0);
    id_with_low(id, UINT64_MAX);
    cr_assert(cz_sampler_sample(&s, id));
    cz_sampler_init(&s, 2.0);
    cr_assert(cz_sampler_sample(&s, id));
    cz_sampler_init(&s, 0.0);
    id_with_low(id, 0);
    cr_assert_not(cz_sampler_sample(&s, id));
    cz_sampler_init(&s, -1);
    cr_assert_not(cz_sampler_sample(&s, id));
}

Test(sampler, ratio_compares_the_low_half_of_the_id)
{
    /* fraction 0.25: bound 2^61 on (low >> 1), so low < 2^62 is sampled */
    cz_sampler_t s;
    cz_sampler_init(&s, 0.25);
    uint8_t id[16];
    id_with_low(id, (1ull << 62) - 1);
    cr_assert(cz_sampler_sample(&s, id));
    id_with_low(id, 1ull << 62);
    cr_assert_not(cz_sampler_sample(&s, id));
    id[0] ^= 0xff; /* the high half does not matter */
    cr_assert_not(cz_sampler_sample(&s, id));
}

Test(sampler, samples_about_the_fraction_of_random_ids)
{
    cz_sampler_t s;
    cz_sampler_init(&s, 0.1);
    int hit = 0;
    for (int i = 0; i < 10000; i++) {
        uint8_t id[16];
        cz_trace_new_trace_id(id);
        hit += cz_sampler_sample(&s, id);
    }
    /* mean 1000, sd 30: 6 sd either side */
    cr_assert(hit > 820 && hit < 1180, "sampled %d of 10000 at 0.1", hit);
}
