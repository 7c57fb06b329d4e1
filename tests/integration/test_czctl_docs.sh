#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_czctl_docs.sh: czctl's documents checked by real validators, not by czctl's own idea of
# them. Every valid .api under tests/czctl/ becomes OpenAPI (JSON and YAML) that
# @seriousme/openapi-schema-validator accepts; `czctl kube deploy` manifests (every option, and
# the defaults) pass kubernetes-models' schemas for apps/v1 Deployment, v1 Service and
# autoscaling/v2 HorizontalPodAutoscaler; each validator first rejects a broken document, so a
# validator that accepts everything fails the test. The Dockerfile goes through hadolint when it
# is installed (it is not in Debian); otherwise through a structural check, and its HEALTHCHECK
# command is run for real against the demo's dev listener (and must fail on a closed port).
# examples/deploy/ must be what czctl generates today. The npm packages are installed once into
# ~/.cache/czero-npm (CZ_NPM_CACHE), outside the repository; without npm or the registry the
# validator part is skipped with a message. Argument: the build directory.
set -euo pipefail
BUILD=${1:?build dir}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
CZCTL="$BUILD/czctl"
CACHE=${CZ_NPM_CACHE:-${HOME:-/tmp}/.cache/czero-npm}
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
[ -x "$CZCTL" ] || fail "no czctl in $BUILD"

# ---- examples/deploy is czctl's output, byte for byte
(cd "$tmp" && "$CZCTL" docker -name demo -exe czero-demo -intree -etc examples/deploy/etc \
    -o Dockerfile >/dev/null)
cmp -s "$tmp/Dockerfile" "$SRC/examples/deploy/Dockerfile" \
    || fail "examples/deploy/Dockerfile is stale: regenerate it (see examples/deploy/README.md)"
cmp -s "$tmp/Dockerfile.dockerignore" "$SRC/examples/deploy/Dockerfile.dockerignore" \
    || fail "examples/deploy/Dockerfile.dockerignore is stale"
"$CZCTL" kube deploy -name demo -namespace czero -image '${REGISTRY}/czero/demo:${TAG_NAME}' \
    -imagePullPolicy Always -secret registry-cred -configMap demo-etc -o "$tmp/demo-k8s.yaml"
cmp -s "$tmp/demo-k8s.yaml" "$SRC/examples/deploy/k8s/demo.yaml" \
    || fail "examples/deploy/k8s/demo.yaml is stale"
echo "ok: examples/deploy matches czctl's output"

# ---- Dockerfile: hadolint, or a structural check
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
devport=$(free_port)
mkdir -p "$tmp/svc"
: > "$tmp/svc/svc.c"
"$CZCTL" docker -go "$tmp/svc/svc.c" -port "$port" -devPort "$devport" >/dev/null
df="$tmp/svc/Dockerfile"
if command -v hadolint >/dev/null; then
    hadolint "$df" || fail "hadolint"
    hadolint "$SRC/examples/deploy/Dockerfile" || fail "hadolint examples/deploy/Dockerfile"
    echo "ok: hadolint"
else
    echo "note: hadolint is not installed (not in Debian); structural check instead"
fi
# joined logical lines (continuations folded), comments dropped
logical=$(sed -e '/^[[:space:]]*#/d' "$df" | sed -e ':a' -e '/\\$/N; s/\\\n//; ta')
while IFS= read -r l; do
    [ -z "$l" ] && continue
    kw=${l%% *}
    case "$kw" in
        FROM|RUN|CMD|LABEL|EXPOSE|ENV|ADD|COPY|ENTRYPOINT|VOLUME|USER|WORKDIR|ARG|ONBUILD|STOPSIGNAL|HEALTHCHECK|SHELL) ;;
        *) fail "not a Dockerfile instruction: $l" ;;
    esac
done <<< "$logical"
[ "$(grep -c '^FROM ' <<< "$logical")" = 2 ] || fail "want two stages"
grep -q '^FROM debian:${DEBIAN_VERSION} AS builder$' <<< "$logical" || fail "builder stage"
runtime=$(sed -n '/-slim$/,$p' <<< "$logical")
grep -q '^USER 10001:10001$' <<< "$runtime" || fail "non-root user in the runtime stage"
grep -q "^EXPOSE $port\$" <<< "$runtime" || fail "EXPOSE $port"
cmd=$(grep '^CMD ' <<< "$runtime" | tail -n 1)
json_args() { python3 -c 'import json, sys; print("|".join(json.loads(sys.argv[1])))' "$1"; }
[ "$(json_args "${cmd#CMD }")" = './svc|-f|etc/svc.yaml' ] || fail "CMD: $cmd"
hc=$(grep '^HEALTHCHECK ' <<< "$runtime")
hcjson=${hc#*CMD }
args=$(json_args "$hcjson") || fail "HEALTHCHECK CMD is not a JSON array: $hc"
[ "${args%%|*}" = /bin/bash ] || fail "HEALTHCHECK runs bash: $hc"
script=${args#/bin/bash|-c|}
# the health check itself, against the demo's dev listener
cat > "$tmp/demo.yaml" <<YAML
Name: demo
Host: 127.0.0.1
Port: $port
Log:
  Mode: console
  Level: error
Auth:
  AccessSecret: test-secret-of-enough-length-123
DevServer:
  Enabled: true
  Host: 127.0.0.1
  Port: $devport
YAML
"$BUILD/czero-demo" -f "$tmp/demo.yaml" > "$tmp/demo.out" 2>&1 &
pid=$!
for _ in $(seq 50); do bash -c "$script" 2>/dev/null && break; sleep 0.1; done
bash -c "$script" || fail "HEALTHCHECK against a live dev listener: $(cat "$tmp/demo.out")"
kill $pid; wait $pid 2>/dev/null || true
pid=
if bash -c "$script" 2>/dev/null; then fail "HEALTHCHECK passes with nothing listening"; fi
echo "ok: Dockerfile structure and HEALTHCHECK"

# ---- the real validators
VERSIONS=(@seriousme/openapi-schema-validator@2.11.0 kubernetes-models@4.5.1 js-yaml@4.1.0)
have_pkgs() {
    [ -f "$CACHE/node_modules/@seriousme/openapi-schema-validator/package.json" ] &&
    [ -f "$CACHE/node_modules/kubernetes-models/package.json" ] &&
    [ -f "$CACHE/node_modules/js-yaml/package.json" ]
}
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "SKIP: node/npm not installed: OpenAPI and Kubernetes schema checks not run"
    exit 0
fi
mkdir -p "$CACHE"
(
    flock 9 # ctest may run this for two build trees at once
    if ! have_pkgs; then
        [ -f "$CACHE/package.json" ] || echo '{"private": true}' > "$CACHE/package.json"
        timeout 300 npm install --prefix "$CACHE" --no-audit --no-fund --silent "${VERSIONS[@]}" \
            >/dev/null 2>&1 || true
    fi
) 9> "$CACHE/.lock"
if ! have_pkgs; then
    echo "SKIP: npm could not install ${VERSIONS[*]} (registry unreachable?)"
    exit 0
fi

cat > "$tmp/openapi.mjs" <<'JS'
import { pathToFileURL } from "node:url";
const cache = process.env.CACHE;
const { Validator } = await import(pathToFileURL(
    `${cache}/node_modules/@seriousme/openapi-schema-validator/index.js`).href);
let bad = 0;
for (const f of process.argv.slice(2)) {
    const v = new Validator();
    const r = await v.validate(f);
    if (!r.valid) {
        bad++;
        console.log(`invalid: ${f}: ${JSON.stringify(r.errors).slice(0, 600)}`);
    }
}
process.exit(bad ? 1 : 0);
JS
cat > "$tmp/kube.mjs" <<'JS'
import fs from "node:fs";
import { createRequire } from "node:module";
const require = createRequire(`${process.env.CACHE}/`);
const yaml = require("js-yaml");
const { Deployment } = require("kubernetes-models/apps/v1");
const { Service } = require("kubernetes-models/v1");
const { HorizontalPodAutoscaler } = require("kubernetes-models/autoscaling/v2");
const kinds = { "apps/v1 Deployment": Deployment, "v1 Service": Service,
                "autoscaling/v2 HorizontalPodAutoscaler": HorizontalPodAutoscaler };
let bad = 0;
for (const f of process.argv.slice(2)) {
    const docs = yaml.loadAll(fs.readFileSync(f, "utf8"));
    const seen = docs.map((d) => `${d.apiVersion} ${d.kind}`).sort().join(", ");
    if (seen !== Object.keys(kinds).sort().join(", ")) {
        bad++;
        console.log(`${f}: want one of each of ${Object.keys(kinds)}, got ${seen}`);
    }
    for (const d of docs) {
        const K = kinds[`${d.apiVersion} ${d.kind}`];
        try {
            if (K) new K(d).validate();
        } catch (e) {
            bad++;
            console.log(`invalid: ${f}: ${d.kind}: ${String(e.message).slice(0, 600)}`);
        }
    }
}
process.exit(bad ? 1 : 0);
JS
export CACHE

# OpenAPI: every valid .api, as JSON and as YAML
docs=()
while IFS= read -r api; do
    base=$(basename "$api" .api)
    "$CZCTL" api openapi -api "$api" -o "$tmp/$base.json" || fail "czctl api openapi $api"
    "$CZCTL" api openapi -api "$api" -o "$tmp/$base.yaml" || fail "czctl api openapi $api (yaml)"
    docs+=("$tmp/$base.json" "$tmp/$base.yaml")
done < <(find "$SRC/tests/czctl" -name '*.api' -not -path '*/bad/*' | sort)
[ ${#docs[@]} -ge 16 ] || fail "expected at least 8 .api files, found $((${#docs[@]} / 2))"
python3 - "$tmp/mall.json" "$tmp/broken.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
del doc["info"]["version"]
json.dump(doc, open(sys.argv[2], "w"))
PY
if node "$tmp/openapi.mjs" "$tmp/broken.json" >/dev/null; then
    fail "the OpenAPI validator accepts a document without info.version"
fi
node "$tmp/openapi.mjs" "${docs[@]}" || fail "OpenAPI validation"
echo "ok: ${#docs[@]} OpenAPI documents valid (@seriousme/openapi-schema-validator)"

# Kubernetes: every option, the defaults, the committed example
"$CZCTL" kube deploy -name greet -namespace apps -image reg.io/greet:1.2 -o "$tmp/all.yaml" \
    -replicas 2 -revisions 7 -port 8080 -targetPort 8888 -nodePort 30080 -requestCpu 250 \
    -requestMem 128 -limitCpu 2000 -limitMem 256 -minReplicas 2 -maxReplicas 6 -secret regcred \
    -serviceAccount greet-sa -imagePullPolicy IfNotPresent -configMap greet-etc
"$CZCTL" kube deploy -name greet -namespace apps -image reg.io/greet:1.2 -o "$tmp/defaults.yaml"
sed 's/containerPort: 8888/containerPort: "8888"/' "$tmp/defaults.yaml" > "$tmp/broken.yaml"
if node "$tmp/kube.mjs" "$tmp/broken.yaml" >/dev/null; then
    fail "kubernetes-models accepts a string containerPort"
fi
node "$tmp/kube.mjs" "$tmp/all.yaml" "$tmp/defaults.yaml" "$SRC/examples/deploy/k8s/demo.yaml" \
    || fail "Kubernetes schema validation"
echo "ok: manifests valid (kubernetes-models)"
