/* SPDX-License-Identifier: MIT
 *
 * span.c: W3C Trace Context ids (https://www.w3.org/TR/trace-context/): traceparent parse and
 * format, random ids, and OpenTelemetry's trace-id-ratio sampler that go-zero configures
 * (core/trace/agent.go: ParentBased(TraceIDRatioBased(c.Sampler))).
 *
 * Everything here runs on the request path, so ids come from a per-thread xoshiro256**
 * generator seeded once per thread from getrandom(2): no syscall, lock or allocation after that.
 * The ids need to be unique, not secret.
 */
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include "czero/trace.h"

/* Two characters per byte value: the tail (and builds without SSE2) copy 2 bytes per byte. */
static const char hex_pairs[513] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
    "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

void cz_trace_hex(const uint8_t *b, size_t n, char *out)
{
    size_t i = 0;
#ifdef __SSE2__
    /* Every request formats three ids (40 bytes), so eight bytes at a time with SSE2 (baseline
     * on x86-64): split the nibbles, interleave high before low, add '0' and 39 more for a-f.
     * ~1.5 instructions a byte against ~7 for the table. */
    const __m128i low4 = _mm_set1_epi8(0x0f), nine = _mm_set1_epi8(9);
    const __m128i zero = _mm_set1_epi8('0'), af = _mm_set1_epi8('a' - '0' - 10);
    for (; i + 8 <= n; i += 8) {
        __m128i v = _mm_loadl_epi64((const __m128i *)(const void *)(b + i));
        __m128i d = _mm_unpacklo_epi8(_mm_and_si128(_mm_srli_epi16(v, 4), low4),
                                      _mm_and_si128(v, low4));
        d = _mm_add_epi8(_mm_add_epi8(d, zero), _mm_and_si128(_mm_cmpgt_epi8(d, nine), af));
        _mm_storeu_si128((__m128i *)(void *)(out + 2 * i), d);
    }
#endif
    for (; i < n; i++)
        memcpy(out + 2 * i, hex_pairs + 2 * b[i], 2);
}

/* Lower-case hex digit value + 1 (the spec's HEXDIGLC); 0 for anything else. */
static const uint8_t hex_val1[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,
    ['6'] = 7,  ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
    ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

static inline int hexv(char c) { return (int)hex_val1[(unsigned char)c] - 1; }

static bool unhex(const char *p, size_t n, uint8_t *out)
{
    unsigned bad = 0, any = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned hi = hex_val1[(unsigned char)p[2 * i]], lo = hex_val1[(unsigned char)p[2 * i + 1]];
        bad |= (hi == 0) | (lo == 0); /* no branch per digit: one check at the end */
        out[i] = (uint8_t)((hi - 1) << 4 | ((lo - 1) & 15));
        any |= out[i];
    }
    return !bad && any != 0; /* all-zero ids are invalid */
}

int cz_traceparent_parse(cz_str_t s, cz_span_ctx_t *out)
{
    if (!s.p || s.n < CZ_TRACEPARENT_LEN)
        return CZ_EPARSE;
    const char *p = s.p;
    int v1 = hexv(p[0]), v2 = hexv(p[1]);
    if (v1 < 0 || v2 < 0 || p[2] != '-' || p[35] != '-' || p[52] != '-')
        return CZ_EPARSE;
    int version = v1 << 4 | v2;
    if (version == 0xff)
        return CZ_EPARSE;
    /* version 00 is exactly 55 characters; a later version may append "-..." (spec 3.2.4) */
    if (version == 0 ? s.n != CZ_TRACEPARENT_LEN
                     : (s.n > CZ_TRACEPARENT_LEN && p[CZ_TRACEPARENT_LEN] != '-'))
        return CZ_EPARSE;
    cz_span_ctx_t c;
    uint8_t flags;
    if (!unhex(p + 3, 16, c.trace_id) || !unhex(p + 36, 8, c.span_id))
        return CZ_EPARSE;
    int f1 = hexv(p[53]), f2 = hexv(p[54]);
    if (f1 < 0 || f2 < 0)
        return CZ_EPARSE;
    flags = (uint8_t)(f1 << 4 | f2);
    c.flags = flags & CZ_TRACE_FLAG_SAMPLED;
    *out = c;
    return 0;
}

size_t cz_traceparent_format(const cz_span_ctx_t *c, char buf[CZ_TRACEPARENT_LEN + 1])
{
    buf[0] = '0';
    buf[1] = '0';
    buf[2] = '-';
    cz_trace_hex(c->trace_id, 16, buf + 3);
    buf[35] = '-';
    cz_trace_hex(c->span_id, 8, buf + 36);
    buf[52] = '-';
    buf[53] = '0';
    buf[54] = (c->flags & CZ_TRACE_FLAG_SAMPLED) ? '1' : '0';
    buf[55] = '\0';
    return CZ_TRACEPARENT_LEN;
}

/* ---- ids: xoshiro256** (Blackman & Vigna, public-domain algorithm) per thread ---- */

static __thread uint64_t rng[4];
static __thread bool rng_seeded;

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_seed(void)
{
    uint64_t seed[4] = {0};
    if (getrandom(seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed) {
        /* no entropy yet (early boot): time, pid and this thread's address still differ */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        x ^= (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)&rng;
        for (int i = 0; i < 4; i++)
            seed[i] ^= splitmix64(&x);
    }
    memcpy(rng, seed, sizeof rng);
    if (!(rng[0] | rng[1] | rng[2] | rng[3])) /* the one state xoshiro cannot leave */
        rng[0] = 0x9e3779b97f4a7c15ull;
    rng_seeded = true;
}

static inline uint64_t rng_next(void)
{
    if (__builtin_expect(!rng_seeded, 0))
        rng_seed();
    uint64_t r = rotl(rng[1] * 5, 7) * 9;
    uint64_t t = rng[1] << 17;
    rng[2] ^= rng[0];
    rng[3] ^= rng[1];
    rng[1] ^= rng[2];
    rng[0] ^= rng[3];
    rng[2] ^= t;
    rng[3] = rotl(rng[3], 45);
    return r;
}

void cz_trace_new_trace_id(uint8_t id[16])
{
    uint64_t a, b;
    do {
        a = rng_next();
        b = rng_next();
    } while (!(a | b));
    memcpy(id, &a, 8);
    memcpy(id + 8, &b, 8);
}

void cz_trace_new_span_id(uint8_t id[8])
{
    uint64_t a;
    do
        a = rng_next();
    while (!a);
    memcpy(id, &a, 8);
}

/* ---- sampler ---- */

void cz_sampler_init(cz_sampler_t *s, double fraction)
{
    memset(s, 0, sizeof *s);
    if (!(fraction > 0)) /* also NaN */
        s->never = true;
    else if (fraction >= 1)
        s->always = true;
    else
        s->bound = (uint64_t)(fraction * (double)(1ull << 63)); /* traceIDUpperBound */
}

bool cz_sampler_sample(const cz_sampler_t *s, const uint8_t trace_id[16])
{
    if (s->always)
        return true;
    if (s->never)
        return false;
    uint64_t x = 0;
    for (int i = 8; i < 16; i++)
        x = x << 8 | trace_id[i];
    return (x >> 1) < s->bound;
}
