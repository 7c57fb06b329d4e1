# SPDX-License-Identifier: MIT
#
# Reads the output of `wrk --latency` and prints one tab-separated line for bench/run.sh:
#   requests  req_per_s  p99_us  errors
# errors is socket errors (connect+read+write+timeout) plus non-2xx/3xx responses. A value wrk did
# not print is "-" so a broken run shows up in the table instead of as a zero.

# wrk prints times with units us, ms, s, m, h (src/units.c); converts "1.23ms" to microseconds.
function to_us(v,    n, u) {
    n = v + 0
    u = v
    sub(/^[0-9.]+/, "", u)
    if (u == "us") return n
    if (u == "ms") return n * 1000
    if (u == "s") return n * 1000000
    if (u == "m") return n * 60000000
    if (u == "h") return n * 3600000000
    return -1
}

BEGIN { requests = "-"; rps = "-"; p99 = "-"; errors = 0; in_dist = 0 }

/Latency Distribution/ { in_dist = 1; next }
in_dist && $1 == "99%" { p99 = to_us($2); if (p99 < 0) p99 = "-" }
in_dist && $1 !~ /%$/ { in_dist = 0 }
/ requests in / { requests = $1 }
/^Requests\/sec:/ { rps = $2 }
/Socket errors:/ {
    # "Socket errors: connect 0, read 1, write 0, timeout 2"
    for (i = 3; i <= NF; i += 2) { v = $(i + 1); gsub(/,/, "", v); errors += v }
}
/Non-2xx or 3xx responses:/ { errors += $NF }

END { printf "%s\t%s\t%s\t%d\n", requests, rps, p99, errors }
