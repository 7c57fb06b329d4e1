#!/usr/bin/env bash
# TLS on the server (issue 14, points 2 and 5) with real clients against czero-demo: curl over
# TLS 1.2 and 1.3, ALPN, SNI picking the certificate, session resumption ("Reused"), a wrong
# host name and an expired certificate refused by curl, mTLS required, plain HTTP answered 400
# and closed, a client stalling mid-handshake closed at HeaderTimeout, handshake failures on
# /metrics, a bad or missing KeyFile/CertFile stopping start-up with the path and OpenSSL's
# reason (exit 1), and a certificate reload under load with no failed request, new connections
# seeing the new certificate while an old keep-alive connection goes on.
. "$(dirname "${BASH_SOURCE[0]}")/lib_gateway.sh"
PY=/usr/bin/python3

bash "$(dirname "${BASH_SOURCE[0]}")/../support/tls_certs.sh" "$tmp/pki" || fail "tls_certs.sh"
pki=$tmp/pki
cp "$pki/a.pem" "$tmp/cur.pem"
cp "$pki/a.key" "$tmp/cur.key"

# conf NAME PORT DEVPORT CERT KEY [EXTRA YAML...]
conf() {
  local name=$1 port=$2 dev=$3 cert=$4 key=$5
  shift 5
  {
    cat <<YAML
Name: $name
Host: 127.0.0.1
Port: $port
Workers: 2
HeaderTimeout: 1s
CertFile: $cert
KeyFile: $key
Log: {Mode: console, Encoding: plain, Stat: false, Level: debug}
Auth: {AccessSecret: tls-test-secret-0123456789abcdef}
DevServer: {Enabled: true, Host: 127.0.0.1, Port: $dev}
YAML
    for l in "$@"; do echo "$l"; done
  } > "$tmp/$name.yaml"
}

p=$(free_port) pd=$(free_port)
conf main "$p" "$pd" "$tmp/cur.pem" "$tmp/cur.key" \
  "Tls: {Certificates: [{CertFile: $pki/b.pem, KeyFile: $pki/b.key}], WatchInterval: 200ms}"
"$DEMO" -f "$tmp/main.yaml" > "$tmp/main.log" 2>&1 &
pids+=($!)
wait_up "http://127.0.0.1:$pd/healthz"
url=https://localhost:$p/hello
CURL=(curl -s --max-time 5 --cacert "$pki/ca.pem")

# ---- the basics: TLS 1.2, TLS 1.3, ALPN ----
for v in 1.2 1.3; do
  got=$("${CURL[@]}" --tlsv$v --tls-max $v -w ' %{http_code}' "$url")
  [ "$got" = '{"message":"hello"} 200' ] || fail "TLS $v GET /hello: $got"
  ok "curl over TLS $v: GET /hello 200"
done
out=$(echo | openssl s_client -connect "127.0.0.1:$p" -alpn http/1.1 -CAfile "$pki/ca.pem" 2>&1)
grep -q "ALPN protocol: http/1.1" <<<"$out" || fail "no ALPN http/1.1: $out"
ok "openssl s_client -alpn http/1.1: ALPN protocol: http/1.1"

# ---- bodies both ways, a slow reader (writes queue behind the socket), pipelining ----
head -c 1000000 /dev/urandom > "$tmp/big.bin"
got=$("${CURL[@]}" --max-time 20 --limit-rate 2M -X POST --data-binary @"$tmp/big.bin" \
  -H 'Content-Type: application/octet-stream' -o "$tmp/echo.bin" -w '%{http_code}' "https://localhost:$p/echo")
[ "$got" = 200 ] && cmp -s "$tmp/big.bin" "$tmp/echo.bin" || fail "1 MB echo over TLS, read slowly: $got"
ok "POST /echo 1 MB over TLS, answer read at 2 MB/s: the same bytes back"
got=$($PY - "$p" "$pki/ca.pem" <<'PY'
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="localhost")
s.sendall(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n" * 3)
data = b""
while data.count(b"HTTP/1.1 200 OK") < 3 or not data.endswith(b"}"):
    d = s.recv(65536)
    if not d: break
    data += d
print(data.count(b"HTTP/1.1 200 OK"))
PY
)
[ "$got" = 3 ] || fail "3 pipelined requests in one TLS record: $got answers"
ok "3 pipelined requests in one TLS record: 3 answers"

# ---- SNI picks the certificate ----
subject() { # SNI-NAME: the subject the server shows for that name
  echo | openssl s_client -connect "127.0.0.1:$p" -servername "$1" 2>/dev/null |
    sed -n 's/^subject=//p'
}
for pair in "a.test:CN = a.test, O = czero" "b.test:CN = b.test, O = czero" \
            "x.b.test:CN = b.test, O = czero" "other.test:CN = a.test, O = czero"; do
  name=${pair%%:*} want=${pair#*:}
  got=$(subject "$name")
  [ "$got" = "$want" ] || fail "SNI $name: subject '$got', want '$want'"
  ok "SNI $name: certificate $want"
done

# ---- session resumption, TLS 1.3 and 1.2 ----
for v in tls1_3 tls1_2; do
  sleep 0.5 | openssl s_client -$v -connect "127.0.0.1:$p" -CAfile "$pki/ca.pem" \
    -sess_out "$tmp/sess" > /dev/null 2>&1
  out=$(sleep 0.3 | openssl s_client -$v -connect "127.0.0.1:$p" -CAfile "$pki/ca.pem" \
    -sess_in "$tmp/sess" 2>&1)
  grep -q "^Reused, " <<<"$out" || fail "$v: session not resumed: $(grep -E '^(New|Reused)' <<<"$out")"
  ok "$v: second connection with -sess_in: Reused"
done

# ---- a host name the certificate does not cover ----
"${CURL[@]}" --resolve "other.test:$p:127.0.0.1" -o /dev/null "https://other.test:$p/hello"
rc=$?
[ "$rc" = 60 ] || fail "wrong host name: curl exit $rc, want 60 (certificate does not match)"
ok "https://other.test (certificate for a.test, localhost): curl refuses it (exit 60)"

# ---- plain HTTP on the TLS port: 400, then the connection closes ----
out=$(curl -s -i --max-time 5 "http://127.0.0.1:$p/hello" | tr -d '\r')
grep -q "^HTTP/1.1 400 Bad Request" <<<"$out" || fail "plain HTTP: $out"
grep -q "^Connection: close" <<<"$out" || fail "plain HTTP: no Connection: close: $out"
grep -q "The plain HTTP request was sent to HTTPS port" <<<"$out" || fail "plain HTTP body: $out"
ok "plain HTTP to the TLS port: 400 The plain HTTP request was sent to HTTPS port, closed"
# without the client's FIN: closed at HeaderTimeout all the same
got=$($PY - "$p" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
t0, data = time.time(), b""
s.settimeout(5)
while True:
    d = s.recv(4096)
    if not d: break
    data += d
print(data.split(b"\r\n")[0].decode(), "closed after %.1f s" % (time.time() - t0))
PY
)
case $got in "HTTP/1.1 400 Bad Request closed after "[0-2].*) ;; *) fail "plain HTTP, no FIN: $got" ;; esac
ok "plain HTTP, client keeps its side open: $got"

# ---- a client stalling mid-handshake: closed at HeaderTimeout (1 s) ----
got=$($PY - "$p" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
# the first 9 bytes of a ClientHello: record header announcing 512 bytes, handshake header
s.sendall(bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc]))
t0 = time.time()
s.settimeout(5)
try:
    d = s.recv(4096)
    print("closed" if not d else "got %d bytes" % len(d), "after %.1f s" % (time.time() - t0))
except socket.timeout:
    print("still open after 5 s")
PY
)
case $got in "closed after "[1-2].*) ;; *) fail "stalled handshake: $got" ;; esac
ok "half a ClientHello: $got (HeaderTimeout 1s)"

# ---- handshake failures: counted on /metrics, logged at debug ----
metric() { curl -s "http://127.0.0.1:$pd/metrics" | awk -v k="$1" '$1 == k {print $2}'; }
failed=$(metric 'czero_tls_handshakes_total{result="failed"}')
[ "${failed:-0}" -ge 1 ] || fail "czero_tls_handshakes_total failed = '$failed', want >= 1 (the stall)"
plain=$(metric 'czero_tls_handshakes_total{result="plaintext"}')
[ "${plain:-0}" -ge 2 ] || fail "plaintext = '$plain', want >= 2"
okc=$(metric 'czero_tls_handshakes_total{result="ok"}')
resumed=$(metric 'czero_tls_handshakes_resumed_total')
[ "${resumed:-0}" -ge 2 ] || fail "resumed = '$resumed', want >= 2"
ok "/metrics: handshakes ok $okc, failed $failed, plaintext $plain, resumed $resumed"
grep -q "TLS handshake with 127.0.0.1:[0-9]* failed: not completed" "$tmp/main.log" ||
  fail "no debug line for the stalled handshake"
ok "the stalled handshake logged at debug"

# ---- an expired certificate; mTLS required ----
pe=$(free_port) pm=$(free_port)
conf expired "$pe" "$(free_port)" "$pki/expired.pem" "$pki/expired.key"
pmd=$(free_port)
conf mtls "$pm" "$pmd" "$pki/a.pem" "$pki/a.key" \
  "Tls: {CAFile: $pki/ca.pem, ClientAuth: required}"
"$DEMO" -f "$tmp/expired.yaml" > "$tmp/expired.log" 2>&1 &
pids+=($!)
"$DEMO" -f "$tmp/mtls.yaml" > "$tmp/mtls.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$pe") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$pm") 2>/dev/null && break
  sleep 0.05
done
"${CURL[@]}" -o /dev/null "https://localhost:$pe/hello"
rc=$?
[ "$rc" = 60 ] || fail "expired certificate: curl exit $rc, want 60"
out=$("${CURL[@]}" -v -o /dev/null "https://localhost:$pe/hello" 2>&1)
grep -qi "expired" <<<"$out" || fail "curl does not say expired: $(tail -3 <<<"$out")"
ok "expired server certificate: curl refuses it (exit 60, certificate has expired)"
"${CURL[@]}" -o /dev/null "https://localhost:$pm/hello"
rc=$?
[ "$rc" != 0 ] || fail "mTLS required, no client certificate: curl succeeded"
got=$("${CURL[@]}" --cert "$pki/client.pem" --key "$pki/client.key" -w ' %{http_code}' "https://localhost:$pm/hello")
[ "$got" = '{"message":"hello"} 200' ] || fail "mTLS with a client certificate: $got"
ok "ClientAuth required: no client certificate fails (curl exit $rc), with one 200"
mfailed=$(curl -s "http://127.0.0.1:$pmd/metrics" | awk '$1 == "czero_tls_handshakes_total{result=\"failed\"}" {print $2}')
[ "${mfailed:-0}" -ge 1 ] || fail "mTLS refusal not counted: failed = '$mfailed'"
grep -Eq "TLS handshake with 127.0.0.1:[0-9]+ failed: .*certificate" "$tmp/mtls.log" ||
  fail "no debug line with OpenSSL's reason for the refused client: $(grep TLS "$tmp/mtls.log")"
ok "the refused client: counted (failed $mfailed), logged: $(grep -Eo 'failed: .*certificate[a-z ]*' "$tmp/mtls.log" | head -1)"

# ---- bad files stop start-up: path and OpenSSL's reason, exit 1 ----
start_refused() { # WHAT WANT-REGEX CONF
  local what=$1 want=$2 rc
  timeout 10 "$DEMO" -f "$tmp/$3.yaml" > "$tmp/refused.out" 2>&1
  rc=$?
  [ "$rc" = 1 ] || fail "$what: exit $rc, not 1: $(tail -3 "$tmp/refused.out")"
  grep -Eq "$want" "$tmp/refused.out" || fail "$what: no '$want' in: $(cat "$tmp/refused.out")"
  ok "$what: exit 1, $(grep -Eo "$want" "$tmp/refused.out" | head -1)"
}
conf badkey "$(free_port)" "$(free_port)" "$pki/a.pem" "$pki/b.key"
start_refused "KeyFile of another certificate" "KeyFile $pki/b.key does not match CertFile $pki/a.pem: [a-z ]+" badkey
conf nocert "$(free_port)" "$(free_port)" "$tmp/missing.pem" "$pki/a.key"
start_refused "a missing CertFile" "CertFile $tmp/missing.pem: No such file or directory" nocert
echo "not a key" > "$tmp/garbage.key"
conf garbagekey "$(free_port)" "$(free_port)" "$pki/a.pem" "$tmp/garbage.key"
start_refused "a KeyFile that is not a key" "KeyFile $tmp/garbage.key: [A-Za-z ]+" garbagekey

# ---- certificate reload under load ----
# a keep-alive connection opened before the reload, asked again after it
$PY - "$p" "$pki/ca.pem" "$tmp/ka.go" > "$tmp/ka.out" 2>&1 <<'PY' &
import os, socket, ssl, sys, time
port, ca, go = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
subj = dict(x[0] for x in s.getpeercert()["subject"])
def get():
    s.sendall(b"GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"}"):
        d = s.recv(4096)
        if not d: break
        data += d
    return data.split(b"\r\n")[0].decode()
first = get()
print("ready", flush=True)
for _ in range(200):
    if os.path.exists(go): break
    time.sleep(0.05)
print(first, "|", get(), "|", subj.get("organizationName"), flush=True)
PY
kapid=$!
pids+=($kapid)
for _ in $(seq 100); do grep -q ready "$tmp/ka.out" && break; sleep 0.05; done
# the load: new connections back to back while the files change
(for i in $(seq 150); do
   "${CURL[@]}" -o /dev/null -w '%{http_code}\n' "$url"
 done > "$tmp/load.out") &
loadpid=$!
sleep 0.3
# the certificate first, the key a moment later: in between the pair does not match, and the
# watch must keep the old one (logged) until the key arrives
cp "$pki/a2.pem" "$tmp/new.pem" && mv "$tmp/new.pem" "$tmp/cur.pem"
sleep 0.5
cp "$pki/a2.key" "$tmp/new.key" && mv "$tmp/new.key" "$tmp/cur.key"
seen=""
for _ in $(seq 50); do
  seen=$(echo | openssl s_client -connect "127.0.0.1:$p" -servername a.test 2>/dev/null | sed -n 's/^subject=//p')
  [ "$seen" = "CN = a.test, O = czero reloaded" ] && break
  sleep 0.1
done
[ "$seen" = "CN = a.test, O = czero reloaded" ] || fail "after the reload new connections see '$seen'"
ok "new connections see the new certificate ($seen)"
wait "$loadpid"
n=$(wc -l < "$tmp/load.out")
bad=$(grep -vc '^200$' "$tmp/load.out")
[ "$n" = 150 ] && [ "$bad" = 0 ] || fail "under load: $n requests, $bad not 200: $(sort "$tmp/load.out" | uniq -c)"
ok "150 requests on new connections during the reload: all 200"
touch "$tmp/ka.go"
wait "$kapid"
got=$(tail -1 "$tmp/ka.out")
[ "$got" = "HTTP/1.1 200 OK | HTTP/1.1 200 OK | czero" ] || fail "keep-alive connection across the reload: $got"
ok "a keep-alive connection from before the reload still works, on the old certificate"
grep -q "TLS: certificates of 127.0.0.1:$p reloaded" "$tmp/main.log" || fail "no reload line in the log"
reloads=$(metric 'czero_tls_reloads_total{result="ok"}')
[ "${reloads:-0}" -ge 1 ] || fail "czero_tls_reloads_total ok = '$reloads'"
rfail=$(metric 'czero_tls_reloads_total{result="failed"}')
ok "reload logged; /metrics: reloads ok $reloads, failed $rfail (the mismatched moment)"

# ---- the gateway over TLS: X-Forwarded-Proto https; SIGHUP keeps the ticket keys ----
up=$(free_port) gp=$(free_port)
$PY - "$up" > "$tmp/up.log" 2>&1 <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = ("proto=%s" % self.headers.get("X-Forwarded-Proto")).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(b)))
        self.end_headers(); self.wfile.write(b)
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
pids+=($!)
cat > "$tmp/gw.yaml" <<YAML
Name: gw
Host: 127.0.0.1
Port: $gp
CertFile: $pki/a.pem
KeyFile: $pki/a.key
Log: {Mode: console, Encoding: plain, Stat: false}
Upstreams: [{Name: a, Nodes: [{Addr: 127.0.0.1:$up}]}]
Routes: [{Path: /x, Upstream: a}]
YAML
"$GW" -f "$tmp/gw.yaml" > "$tmp/gw.log" 2>&1 &
gwpid=$!
pids+=($gwpid)
got=""
for _ in $(seq 100); do
  got=$("${CURL[@]}" "https://localhost:$gp/x") && [ "$got" = "proto=https" ] && break
  sleep 0.05
done
[ "$got" = "proto=https" ] || fail "gateway over TLS: upstream saw '$got'"
ok "gateway over TLS: the upstream sees X-Forwarded-Proto: https"
sleep 0.5 | openssl s_client -connect "127.0.0.1:$gp" -CAfile "$pki/ca.pem" -sess_out "$tmp/gsess" > /dev/null 2>&1
kill -HUP "$gwpid"
for _ in $(seq 100); do grep -q "reload 1" "$tmp/gw.log" && break; sleep 0.05; done
grep -q "reload 1" "$tmp/gw.log" || fail "gateway did not reload"
out=$(sleep 0.3 | openssl s_client -connect "127.0.0.1:$gp" -CAfile "$pki/ca.pem" -sess_in "$tmp/gsess" 2>&1)
grep -q "^Reused, " <<<"$out" || fail "gateway: session from before SIGHUP not resumed"
got=$("${CURL[@]}" "https://localhost:$gp/x")
[ "$got" = "proto=https" ] || fail "gateway after SIGHUP: '$got'"
ok "gateway SIGHUP: new instance serves TLS, a session from before resumes (Reused)"

echo "all $passed checks passed"
