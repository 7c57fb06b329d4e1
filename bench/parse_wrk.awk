# SPDX-License-Identifier: MIT
#
# Reads the output of `wrk --latency` and prints one tab-separated line for bench/run.sh:
#   requests  req_per_s  p99_us  errors  seconds
# errors is socket errors (connect+read+write+timeout) plus non-2xx/3xx responses; seconds is the
# run's length as wrk measured it. A value wrk did not print is "-" so a broken run shows up in
# the table instead of as a zero.

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

BEGIN { requests = "-"; rps = "-"; p99 = "-"; errors = 0; secs = "-"; in_dist = 0 }

/Latency Distribution/ { in_dist = 1; next }
in_dist && $1 == "99%" { p99 = to_us($2); if (p99 < 0) p99 = "-" }
in_dist && $1 !~ /%$/ { in_dist = 0 }
/ requests in / {
    # "412345 requests in 10.00s, 59.77MB read"
    requests = $1
    secs = to_us(substr($4, 1, length($4) - 1)) / 1000000
    if (secs < 0) secs = "-"
}
/^Requests\/sec:/ { rps = $2 }
/Socket errors:/ {
    # "Socket errors: connect 0, read 1, write 0, timeout 2"
    for (i = 3; i <= NF; i += 2) { v = $(i + 1); gsub(/,/, "", v); errors += v }
}
/Non-2xx or 3xx responses:/ { errors += $NF }

END { printf "%s\t%s\t%s\t%d\t%s\n", requests, rps, p99, errors, secs }
