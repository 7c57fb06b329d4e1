/* SPDX-License-Identifier: MIT
 *
 * redis_limit_lua.h: the Lua scripts behind the Redis store of each limiter kind, kept next to
 * the C that calls them (redis_limit.c) as go-zero keeps periodscript.lua beside periodlimit.go.
 * Each script makes one decision atomically and returns go-zero's internal code: 0 over quota,
 * 1 allowed, 2 hit quota.
 *
 * All values are integers (ms, milli-units) well below 2^53, so Lua's doubles hold them exactly
 * and %d formats them without loss. Differences from go-zero, and why:
 *   - period: INCRBY n instead of 1 (takes of n units) and PEXPIRE in ms (sub-second periods);
 *   - token: time in ms and tokens in milli-tokens, so refills are exact integers in Lua's
 *     doubles instead of go-zero's whole seconds; the stored timestamp never moves backwards
 *     when hosts' clocks disagree; the TTL has a floor (go-zero's floor(fill_time*2) can be 0,
 *     which SETEX rejects); one key "{key}.bucket" instead of go-zero's {key}.tokens/{key}.ts;
 *   - leaky: not in go-zero (the seed leaves it as homework); one key "{key}.leaky" that expires
 *     when the bucket would be empty.
 * Callers pass the time (wall ms) like go-zero, so all hosts must keep their clocks in sync.
 */
#ifndef CZERO_REDIS_LIMIT_LUA_H
#define CZERO_REDIS_LIMIT_LUA_H

/* KEYS[1] counter. ARGV: quota, window (ms), n. */
static const char cz__lua_period[] __attribute__((unused)) =
    "local limit = tonumber(ARGV[1])\n"
    "local n = tonumber(ARGV[3])\n"
    "local current = redis.call('INCRBY', KEYS[1], n)\n"
    "if current == n then\n"
    "    redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
    "end\n"
    "if current < limit then\n"
    "    return 1\n"
    "elseif current == limit then\n"
    "    return 2\n"
    "else\n"
    "    return 0\n"
    "end\n";

/* KEYS[1] "tokens ts": milli-tokens and the last refill (wall ms) in one string, so a decision
 * costs one GET and one SET (two keys with SETEX, as go-zero, ran ~25% slower).
 * ARGV: rate (tokens/s), burst, now (wall ms), n. ms * tokens/s = milli-tokens. */
static const char cz__lua_token[] __attribute__((unused)) =
    "local rate = tonumber(ARGV[1])\n"
    "local cap = tonumber(ARGV[2]) * 1000\n"
    "local now = tonumber(ARGV[3])\n"
    "local req = tonumber(ARGV[4]) * 1000\n"
    "local tokens, last = cap, 0\n"
    "local st = redis.call('GET', KEYS[1])\n"
    "if st then\n"
    "    local t, l = string.match(st, '^(%d+) (%d+)$')\n"
    "    tokens, last = tonumber(t) or cap, tonumber(l) or 0\n"
    "end\n"
    "local filled = math.min(cap, tokens + math.max(0, now - last) * rate)\n"
    "local code = 0\n"
    "if filled >= req then\n"
    "    filled = filled - req\n"
    "    if filled > 0 then code = 1 else code = 2 end\n"
    "end\n"
    "redis.call('SET', KEYS[1], string.format('%d %d', filled, math.max(last, now)),\n"
    "           'PX', math.max(1, math.ceil(cap / rate * 2)))\n"
    "return code\n";

/* KEYS[1] "water ts": milli-units and the last drain (wall ms).
 * ARGV: rate (units/s), capacity, now (wall ms), n. Expires when the bucket would be empty. */
static const char cz__lua_leaky[] __attribute__((unused)) =
    "local rate = tonumber(ARGV[1])\n"
    "local cap = tonumber(ARGV[2]) * 1000\n"
    "local now = tonumber(ARGV[3])\n"
    "local req = tonumber(ARGV[4]) * 1000\n"
    "local water, last = 0, now\n"
    "local st = redis.call('GET', KEYS[1])\n"
    "if st then\n"
    "    local w, l = string.match(st, '^(%d+) (%d+)$')\n"
    "    water, last = tonumber(w) or 0, tonumber(l) or now\n"
    "end\n"
    "if now > last then\n"
    "    water = math.max(0, water - (now - last) * rate)\n"
    "else\n"
    "    now = last\n"
    "end\n"
    "local code = 0\n"
    "if water + req <= cap then\n"
    "    water = water + req\n"
    "    if water < cap then code = 1 else code = 2 end\n"
    "end\n"
    "redis.call('SET', KEYS[1], string.format('%d %d', water, now),\n"
    "           'PX', math.ceil(water / rate) + 1)\n"
    "return code\n";

#endif
