# SPDX-License-Identifier: MIT
#
# The table writer of `make bench`: turns bench/run.sh's results file into the Markdown HTTP table
# and the ratio/acceptance lines of docs/benchmarks.md. Input lines are tab-separated, either
#   <peer> run <round> <requests> <req/s> <p99 µs> <server cpu ns> <errors> <seconds> <steal %>
#   <peer> skip <reason>                                                    (peer not measured)
# Each column is the median over that peer's rounds, taken per column. Ratios compare the subject
# (czero) with every other peer; the acceptance is czero's CPU per request and p99 against nginx's
# from the same run. Written for POSIX awk (Debian's default is mawk: no asort, no gensub).
# Options for the TLS section (bench/tls.sh), all off by default:
#   -v unit=conn       labels the rows per connection instead of per request
#   -v check_p99=0     the acceptance leaves p99 out (shown, not judged)
#   -v min_rate=0.9    the acceptance is the subject's rate per core (1 / CPU per unit) against
#                      base's, at least min_rate, instead of CPU per unit at most base's
#   -v open_re=RE      a skip reason matching RE leaves the verdict open (default: "not built")

BEGIN {
    FS = "\t"
    # -v subject=... -v base=... compare another pair (the proxy workload: czero-gateway/nginx-proxy)
    if (subject == "") subject = "czero"
    if (base == "") base = "nginx"
    if (unit == "") unit = "req"
    if (check_p99 == "") check_p99 = 1
    if (open_re == "") open_re = "not built"
    npeers = 0
    # -v peers="a b c" fixes the row order; peers not listed follow in order of appearance.
    n = split(peers, pre, " ")
    for (i = 1; i <= n; i++) add_peer(pre[i])
}

function add_peer(p) {
    if (!(p in seen)) { seen[p] = 1; order[++npeers] = p; nrun[p] = 0 }
}

# Median of the n values in a[1..n]; sorts a in place (insertion sort, n is tiny).
function median(a, n,    i, j, t) {
    for (i = 2; i <= n; i++) {
        t = a[i]
        for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]
        a[j + 1] = t
    }
    if (n % 2) return a[(n + 1) / 2]
    return (a[n / 2] + a[n / 2 + 1]) / 2
}

function any_multi(    i) {
    for (i = 1; i <= npeers; i++) if (nrun[order[i]] > 1) return 1
    return 0
}

function fmt_ratio(x) { return sprintf("%.2f", x) }

$2 == "skip" { add_peer($1); skip[$1] = $3; next }
$2 == "run" {
    p = $1
    add_peer(p)
    if ($4 !~ /^[0-9]+$/ || $4 == 0 || $6 == "-" || $7 !~ /^[0-9]+$/) {
        bad[p]++
        next
    }
    k = ++nrun[p]
    rps[p, k] = $5
    p99[p, k] = $6
    cpu[p, k] = $7 / $4 / 1000          # ns over the run / requests -> µs per request
    err[p, k] = $8
    util[p, k] = ($9 > 0) ? $7 / ($9 * 1e9) * 100 : -1   # % of one core over wrk's run
    steal[p, k] = ($10 == "") ? "-" : $10
    next
}

END {
    for (i = 1; i <= npeers; i++) {
        p = order[i]
        n = nrun[p]
        if (n == 0) continue
        for (k = 1; k <= n; k++) t[k] = rps[p, k]
        m_rps[p] = median(t, n)
        for (k = 1; k <= n; k++) t[k] = p99[p, k]
        m_p99[p] = median(t, n)
        for (k = 1; k <= n; k++) t[k] = cpu[p, k]
        m_cpu[p] = median(t, n)
        for (k = 1; k <= n; k++) t[k] = err[p, k]
        m_err[p] = median(t, n)
        for (k = 1; k <= n; k++) t[k] = util[p, k]
        m_util[p] = median(t, n)
    }
    has_base = (base in m_cpu)
    printf "| server | %s/s | p99 µs | server CPU µs/%s | server CPU %% | CPU vs %s ", unit, unit,
        base
    print "| p99 vs " base " | errors | runs |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for (i = 1; i <= npeers; i++) {
        p = order[i]
        if (!(p in m_cpu)) {
            why = (p in skip) ? skip[p] : "no valid run (" bad[p] + 0 " broken)"
            printf "| %s | - | - | - | - | - | - | - | 0 (%s) |\n", p, why
            continue
        }
        rc = has_base ? fmt_ratio(m_cpu[p] / m_cpu[base]) : "-"
        rp = has_base ? fmt_ratio(m_p99[p] / m_p99[base]) : "-"
        cu = (m_util[p] >= 0) ? sprintf("%.1f", m_util[p]) : "-"
        printf "| %s | %.0f | %.0f | %.2f | %s | %s | %s | %d | %d |\n", p, m_rps[p], m_p99[p],
            m_cpu[p], cu, rc, rp, m_err[p], nrun[p]
    }
    print ""
    # The rounds behind each median, so a reader can judge the noise.
    if (any_multi()) {
        print "Per round (" unit "/s, p99 µs, server CPU µs/" unit ", host steal %):"
        print ""
        for (i = 1; i <= npeers; i++) {
            p = order[i]
            if (nrun[p] == 0) continue
            line = "- " p ":"
            for (k = 1; k <= nrun[p]; k++)
                line = line sprintf("%s %.0f, %.0f, %.2f, %s", k > 1 ? ";" : "", rps[p, k],
                                    p99[p, k], cpu[p, k], steal[p, k])
            print line
        }
        print ""
    }
    if (!(subject in seen)) {
        print "**Acceptance: NOT EVALUATED** (" subject " was not among the peers run)."
        exit 0
    }
    if (!(subject in m_cpu)) {
        why = (subject in skip) ? skip[subject] : "no valid run"
        print "Ratios: not computed, " subject " was not measured (" why ")."
        print ""
        # Only a demo that does not exist yet leaves the verdict open; one that was built but
        # did not start, answered wrongly or broke every run fails it.
        if (why ~ open_re) print "**Acceptance: NOT EVALUATED** (" why ")."
        else print "**Acceptance: FAIL** (" why ")."
        exit 0
    }
    print "Ratios (" subject " / peer; for CPU and p99 lower is better, for req/s higher):"
    print ""
    for (i = 1; i <= npeers; i++) {
        p = order[i]
        if (p == subject || !(p in m_cpu)) continue
        printf "- %s/%s: server CPU per %s %s, p99 %s, %s/s %s\n", subject, p,
            (unit == "req") ? "request" : "connection",
            fmt_ratio(m_cpu[subject] / m_cpu[p]), fmt_ratio(m_p99[subject] / m_p99[p]),
            unit, fmt_ratio(m_rps[subject] / m_rps[p])
    }
    print ""
    if (!has_base) {
        print "**Acceptance: NOT EVALUATED** (" base " was not measured)."
        exit 0
    }
    cr = m_cpu[subject] / m_cpu[base]
    pr = m_p99[subject] / m_p99[base]
    # Compare the printed values so the verdict matches what a reader sees.
    if (min_rate != "") {
        # rate per core = 1e6 / CPU µs per unit, so the rate ratio is base's CPU over the subject's
        cok = (fmt_ratio(1 / cr) + 0 >= min_rate + 0)
        printf "- %ss per second per core %s/%s = %s (1e6 / CPU µs per %s: %.0f vs %.0f; " \
            "must be >= %s): %s\n", (unit == "conn") ? "handshake" : unit, subject, base,
            fmt_ratio(1 / cr), unit, 1e6 / m_cpu[subject], 1e6 / m_cpu[base],
            fmt_ratio(min_rate), cok ? "PASS" : "FAIL"
    } else {
        cok = (fmt_ratio(cr) + 0 <= 1.0)
        printf "- CPU per %s %s/%s = %s (must be <= 1.00): %s\n",
            (unit == "req") ? "request" : unit, subject, base, fmt_ratio(cr), cok ? "PASS" : "FAIL"
    }
    pok = (m_p99[subject] <= m_p99[base])
    if (check_p99)
        printf "- p99 %s %.0f µs vs %s %.0f µs (ratio %s, must be <= 1.00): %s\n", subject,
            m_p99[subject], base, m_p99[base], fmt_ratio(pr), pok ? "PASS" : "FAIL"
    else
        printf "- p99 %s %.0f µs vs %s %.0f µs (ratio %s; shown, not part of this acceptance)\n",
            subject, m_p99[subject], base, m_p99[base], fmt_ratio(pr)
    if (!check_p99) pok = 1
    print ""
    printf "**Acceptance: %s**\n", (cok && pok) ? "PASS" : "FAIL"
}
