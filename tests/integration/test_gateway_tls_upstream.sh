#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# czero-gateway to https:// upstreams served by a real nginx on loopback, with the test PKI of
# tests/support/tls_certs.sh: a request through https answers 200; the node's name is checked
# (a certificate for another name -> 502, and the log names the node and OpenSSL's reason); an
# upstream without CACertFile verifies against the system's CAs, which do not know the test CA
# (502); InsecureSkipVerify passes; mTLS: nginx with ssl_verify_client on serves the gateway with
# CertFile/CertKeyFile and refuses it without (nginx's 400 "No required SSL certificate"); a
# second connection of a pool resumes the first one's session (nginx logs $ssl_session_reused
# "r"); an upstream node that closes its idle connections is not reused after close_notify.
. "$(dirname "${BASH_SOURCE[0]}")/lib_gateway.sh"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || fail "nginx is not installed"
[ -x "$GW" ] || fail "no $GW"
pki=$tmp/pki
bash "$(dirname "$0")/../support/tls_certs.sh" "$pki" || fail "tls_certs.sh"

pa=$(free_port); pw=$(free_port); pm=$(free_port); gport=$(free_port)
mkdir -p "$tmp/ngx/www"
cat > "$tmp/ngx/nginx.conf" <<NGX
daemon off;
master_process off;
worker_processes 1;
pid $tmp/ngx/nginx.pid;
error_log $tmp/ngx/error.log info;
events { worker_connections 256; }
http {
    client_body_temp_path $tmp/ngx/cb; proxy_temp_path $tmp/ngx/p; fastcgi_temp_path $tmp/ngx/f;
    uwsgi_temp_path $tmp/ngx/u; scgi_temp_path $tmp/ngx/s;
    log_format tls '\$server_port \$ssl_session_reused \$connection \$ssl_server_name \$status \$ssl_client_s_dn';
    access_log $tmp/ngx/access.log tls;
    ssl_protocols TLSv1.2 TLSv1.3;
    server {   # a.pem: a.test, localhost, 127.0.0.1
        listen 127.0.0.1:$pa ssl;
        ssl_certificate $pki/a.pem; ssl_certificate_key $pki/a.key;
        keepalive_timeout 1s;   # closes idle connections with close_notify
        location / { return 200 "a\n"; }
        location /files/ {      # PUT stores, GET serves: big bodies both ways
            root $tmp/ngx/www; dav_methods PUT; create_full_put_path on;
            client_max_body_size 64m;
        }
    }
    server {   # wrong.pem: wrong.test only
        listen 127.0.0.1:$pw ssl;
        ssl_certificate $pki/wrong.pem; ssl_certificate_key $pki/wrong.key;
        location / { return 200 "wrong\n"; }
    }
    server {   # mTLS: a client certificate signed by the test CA is required
        listen 127.0.0.1:$pm ssl;
        ssl_certificate $pki/a.pem; ssl_certificate_key $pki/a.key;
        ssl_client_certificate $pki/ca.pem; ssl_verify_client on;
        location / { return 200 "mtls \$ssl_client_s_dn\n"; }
    }
}
NGX
"$NGINX" -p "$tmp/ngx" -c "$tmp/ngx/nginx.conf" -e "$tmp/ngx/error.log" > "$tmp/nginx.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  curl -sk -o /dev/null "https://127.0.0.1:$pa/" && break; sleep 0.05
done

cat > "$tmp/gw.yaml" <<YAML
Name: gw-tls
Host: 127.0.0.1
Port: $gport
Workers: 1
Log: {Mode: console, Encoding: plain, Stat: false}
Middlewares: {Log: false, Shedding: false}
MaxBytes: 67108864
Upstreams:
  - Name: ok
    Nodes: [{Addr: "https://localhost:$pa"}]
    Tls: {CACertFile: $pki/ca.pem}
  - Name: byip
    Nodes: [{Addr: "https://127.0.0.1:$pa"}]
    Tls: {CACertFile: $pki/ca.pem}
  - Name: fresh
    Nodes: [{Addr: "https://localhost:$pa"}]
    Pool: {Size: 0}
    Tls: {CACertFile: $pki/ca.pem}
  - Name: wrongname
    Nodes: [{Addr: "https://localhost:$pw"}]
    Tls: {CACertFile: $pki/ca.pem}
    Outlier: {MaxFails: 0}
  - Name: noca
    Nodes: [{Addr: "https://localhost:$pa"}]
    Outlier: {MaxFails: 0}
  - Name: insecure
    Nodes: [{Addr: "https://localhost:$pw"}]
    Tls: {InsecureSkipVerify: true}
  - Name: mtls
    Nodes: [{Addr: "https://localhost:$pm"}]
    Tls: {CACertFile: $pki/ca.pem, CertFile: $pki/client.pem, CertKeyFile: $pki/client.key}
  - Name: mtls-nocert
    Nodes: [{Addr: "https://localhost:$pm"}]
    Tls: {CACertFile: $pki/ca.pem}
Routes:
  - {Prefix: /ok, Upstream: ok}
  - {Prefix: /files, Upstream: ok}
  - {Prefix: /byip, Upstream: byip}
  - {Prefix: /fresh, Upstream: fresh}
  - {Prefix: /wrongname, Upstream: wrongname}
  - {Prefix: /noca, Upstream: noca}
  - {Prefix: /insecure, Upstream: insecure}
  - {Prefix: /mtls-nocert, Upstream: mtls-nocert}
  - {Prefix: /mtls, Upstream: mtls}
YAML
out=$("$GW" -t -f "$tmp/gw.yaml" 2>&1) || fail "gateway config does not check: $out"
"$GW" -f "$tmp/gw.yaml" > "$tmp/gw.log" 2>&1 &
pids+=($!)
wait_up "http://127.0.0.1:$gport/ok"

get() { curl -s -o "$tmp/body" -w '%{http_code}' -H 'Host: gw' "http://127.0.0.1:$gport$1"; }

for _ in 1 2 3; do
  [ "$(get /ok)" = 200 ] || fail "/ok: $(cat "$tmp/body")"
done
grep -qx a "$tmp/body" || fail "/ok body: $(cat "$tmp/body")"
grep -q "^$pa \. [0-9]* localhost 200" "$tmp/ngx/access.log" ||
  fail "no SNI localhost: $(cat "$tmp/ngx/access.log")"
conns=$(grep "^$pa \. [0-9]* localhost " "$tmp/ngx/access.log" | awk '{print $3}' | sort -u | wc -l)
[ "$conns" = 1 ] || fail "3 requests to /ok took $conns connections: $(cat "$tmp/ngx/access.log")"
ok "https upstream answers 200 through the gateway, SNI localhost sent, pooled connection reused"

[ "$(get /byip)" = 200 ] || fail "/byip: $(cat "$tmp/body")"
ok "a node addressed by IP is checked against the certificate's IP SAN"

code=$(get /wrongname)
[ "$code" = 502 ] || fail "/wrongname: $code $(cat "$tmp/body")"
sleep 0.2
grep -q "upstream wrongname: TLS to localhost:$pw failed: .*certificate verify failed.*hostname mismatch" \
  "$tmp/gw.log" || fail "no verification log line: $(grep -i tls "$tmp/gw.log")"
ok "a certificate for another name: 502, logged with node and reason"

code=$(get /noca)
[ "$code" = 502 ] || fail "/noca: $code"
sleep 0.2
grep -q "upstream noca: TLS to localhost:$pa failed: .*certificate verify failed" "$tmp/gw.log" ||
  fail "no noca log line: $(grep -i tls "$tmp/gw.log")"
ok "without CACertFile the system CAs do not trust the private CA: 502"

[ "$(get /insecure)" = 200 ] || fail "/insecure: $(cat "$tmp/body")"
grep -qx wrong "$tmp/body" || fail "/insecure body"
ok "InsecureSkipVerify passes"

[ "$(get /mtls)" = 200 ] || fail "/mtls: $(cat "$tmp/body")"
grep -q "mtls .*CN=client" "$tmp/body" || fail "/mtls body: $(cat "$tmp/body")"
code=$(get /mtls-nocert)
[ "$code" = 400 ] || fail "/mtls-nocert: $code $(cat "$tmp/body")"
grep -q "No required SSL certificate" "$tmp/body" || fail "/mtls-nocert body: $(cat "$tmp/body")"
ok "mTLS: nginx serves the client certificate, refuses without (400 No required SSL certificate)"

before=$(wc -l < "$tmp/ngx/access.log")
for _ in 1 2 3; do
  [ "$(get /fresh)" = 200 ] || fail "/fresh: $(cat "$tmp/body")"
done
sleep 0.2
fresh=$(tail -n +"$((before + 1))" "$tmp/ngx/access.log" | awk '{print $2}' | tr -d '\n')
# each upstream has its own context (and session cache): the first handshake of "fresh" is full
[ "$fresh" = ".rr" ] || fail "session reuse across the pool: nginx saw '$fresh' (want .rr)"
ok "connections after the first resume the session (nginx \$ssl_session_reused: . r r)"

[ "$(get /ok)" = 200 ] || fail "/ok before idle close"
c1=$(tail -1 "$tmp/ngx/access.log" | awk '{print $3}')
sleep 1.5   # nginx's keepalive_timeout 1s ends the pooled connection (close_notify, FIN)
[ "$(get /ok)" = 200 ] || fail "/ok after nginx closed the idle connection: $(cat "$tmp/body")"
sleep 0.2
c2=$(tail -1 "$tmp/ngx/access.log" | awk '{print $3}')
r2=$(tail -1 "$tmp/ngx/access.log" | awk '{print $2}')
[ "$c1" != "$c2" ] || fail "the closed connection was reused"
[ "$r2" = r ] || fail "the new connection did not resume: $(tail -1 "$tmp/ngx/access.log")"
ok "a pooled connection the node closed (close_notify) is not reused; the next one resumes"

# 6 MiB up (a streamed request body: TLS writes under the client's water marks) and down at a
# limited rate (the gateway pauses reading the upstream: what the session holds is parsed on
# resume, not left waiting for more bytes from the socket)
head -c 6291456 /dev/urandom > "$tmp/big"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: gw' -T "$tmp/big" \
  "http://127.0.0.1:$gport/files/big")
[ "$code" = 201 ] || [ "$code" = 204 ] || fail "PUT 6 MiB over TLS: $code"
cmp -s "$tmp/big" "$tmp/ngx/www/files/big" || fail "nginx stored something else"
curl -s --limit-rate 4M -o "$tmp/big.back" -H 'Host: gw' "http://127.0.0.1:$gport/files/big" ||
  fail "GET 6 MiB over TLS"
cmp -s "$tmp/big" "$tmp/big.back" || fail "the body came back different"
ok "6 MiB up (streamed) and down (rate-limited reader) through TLS arrive intact"

echo "passed: $passed"
