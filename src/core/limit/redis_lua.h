/* SPDX-License-Identifier: MIT
 *
 * redis_lua.h: the Lua scripts behind the Redis store of each limiter kind, kept next to the C
 * that calls them as go-zero keeps periodscript.lua beside periodlimit.go. Each script makes one
 * decision atomically and returns go-zero's internal code: 0 over quota, 1 allowed, 2 hit quota.
 *
 * Differences from go-zero, and why:
 *   - period: INCRBY n instead of 1 (takes of n units) and PEXPIRE in ms (sub-second periods);
 *   - token: time in ms and tokens in milli-tokens, so refills are exact integers in Lua's
 *     doubles instead of go-zero's whole seconds; the stored timestamp never moves backwards
 *     when hosts' clocks disagree; the TTL has a floor (go-zero's floor(fill_time*2) can be 0,
 *     which SETEX rejects);
 *   - leaky: not in go-zero (the seed leaves it as homework); one hash {water, ts} that expires
 *     when the bucket would be empty.
 * Callers pass the time (wall ms) like go-zero, so all hosts must keep their clocks in sync.
 */
#ifndef CZERO_LIMIT_REDIS_LUA_H
#define CZERO_LIMIT_REDIS_LUA_H

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

/* KEYS[1] tokens (milli-tokens), KEYS[2] last refill (wall ms).
 * ARGV: rate (tokens/s), burst, now (wall ms), n. ms * tokens/s = milli-tokens. */
static const char cz__lua_token[] __attribute__((unused)) =
    "local rate = tonumber(ARGV[1])\n"
    "local cap = tonumber(ARGV[2]) * 1000\n"
    "local now = tonumber(ARGV[3])\n"
    "local req = tonumber(ARGV[4]) * 1000\n"
    "local ttl = math.max(1, math.ceil(cap / rate * 2))\n"
    "local tokens = tonumber(redis.call('GET', KEYS[1])) or cap\n"
    "local last = tonumber(redis.call('GET', KEYS[2])) or 0\n"
    "local filled = math.min(cap, tokens + math.max(0, now - last) * rate)\n"
    "local code = 0\n"
    "if filled >= req then\n"
    "    filled = filled - req\n"
    "    if filled > 0 then code = 1 else code = 2 end\n"
    "end\n"
    "redis.call('PSETEX', KEYS[1], ttl, filled)\n"
    "redis.call('PSETEX', KEYS[2], ttl, math.max(last, now))\n"
    "return code\n";

/* KEYS[1] hash {water (milli-units), ts (wall ms)}. ARGV: rate (units/s), capacity, now, n. */
static const char cz__lua_leaky[] __attribute__((unused)) =
    "local rate = tonumber(ARGV[1])\n"
    "local cap = tonumber(ARGV[2]) * 1000\n"
    "local now = tonumber(ARGV[3])\n"
    "local req = tonumber(ARGV[4]) * 1000\n"
    "local st = redis.call('HMGET', KEYS[1], 'water', 'ts')\n"
    "local water = tonumber(st[1]) or 0\n"
    "local last = tonumber(st[2]) or now\n"
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
    "redis.call('HSET', KEYS[1], 'water', water, 'ts', now)\n"
    "redis.call('PEXPIRE', KEYS[1], math.ceil(water / rate) + 1)\n"
    "return code\n";

#endif
