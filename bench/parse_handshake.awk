# SPDX-License-Identifier: MIT
#
# Reads the output of czero-tls-handshake (bench/tls_handshake_main.c) and prints the same
# tab-separated line as bench/parse_wrk.awk, for bench/tls.sh:
#   connections  per_second  p99_us  errors  seconds
# errors adds the offered sessions the server did not resume and the reuses in full mode to the
# failed connections, so a broken resumption shows in the table. A run that printed no result
# line reads "-" (a broken run, never a zero).

/^connections=/ {
    for (i = 1; i <= NF; i++) {
        eq = index($i, "=")
        if (eq > 0) v[substr($i, 1, eq - 1)] = substr($i, eq + 1)
    }
    ok = 1
}

END {
    if (!ok) { printf "-\t-\t-\t0\t-\n"; exit }
    printf "%s\t%s\t%s\t%d\t%s\n", v["connections"], v["rate"], v["p99_us"],
        v["errors"] + v["unresumed"] + v["unexpected_reuse"], v["seconds"]
}
