/* SPDX-License-Identifier: MIT
 *
 * gen_docker.c: `czctl docker`, a multi-stage Dockerfile for a czero service.
 *
 * goctl's docker command (tools/goctl/docker) builds a static Go binary on golang:alpine and
 * copies it into scratch. A czero service links libuv, libyaml, jansson, hiredis and OpenSSL
 * dynamically, so the shape differs: the builder stage is debian:12 with czero's build
 * dependencies (scripts/deps.sh), where czero itself is built and installed from its source
 * tree, or taken as an installed prefix (-prefix); the service is then built against it
 * (its CMakeLists finds czero under CZERO_PREFIX). The runtime stage is debian:12-slim with only
 * the shared libraries, a numeric non-root user (Kubernetes' runAsNonRoot can check it), the
 * config from etc/ at /app/etc (baked in as a default; mount a directory or ConfigMap over it),
 * EXPOSE of the service port and a HEALTHCHECK that GETs /healthz on the dev listener with
 * bash's /dev/tcp, so the image needs no curl. czero has no public registry image yet, so its
 * tree reaches the build as a named BuildKit context: `--build-context czero=DIR`.
 * -intree is for czero's own examples (examples/deploy): the build context is then the czero
 * checkout and the program is one of its targets.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd.h"

typedef struct docker {
    char name[128];
    const char *exe, *version, *prefix, *etc, *out;
    char dir[1024]; /* where the Dockerfile goes by default: the -go file's directory */
    long port, dev_port;
    int intree;
} docker_t;

static int usage_to(FILE *o)
{
    fputs("usage: czctl docker -go NAME.c|-name NAME [-exe NAME] [-port 8888] [-devPort 6060]\n"
          "         [-version 12] [-prefix DIR] [-etc etc] [-intree] [-o Dockerfile]\n",
          o);
    return 2;
}

static int usage(void) { return usage_to(stderr); }

/* A name or path that goes into the Dockerfile verbatim: no spaces, quotes or escapes. */
static int word_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("._-/+", *s))
            return 0;
    return 1;
}

static int parse_port(const char *flag, const char *v, long *out)
{
    char *end;
    errno = 0;
    long p = strtol(v, &end, 10);
    if (errno || end == v || *end || p < 1 || p > 65535) {
        fprintf(stderr, "czctl docker: -%s: want a port 1..65535, got '%s'\n", flag, v);
        return 1;
    }
    *out = p;
    return 0;
}

static int parse(docker_t *d, int argc, char **argv)
{
    const char *go = NULL, *name = NULL;
    *d = (docker_t){.version = "12", .etc = "etc", .port = 8888, .dev_port = 6060};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (cz__cmd_flag(a, "intree")) {
            d->intree = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "czctl docker: unexpected argument '%s'\n", a);
            return usage();
        }
        i++;
        if (cz__cmd_flag(a, "go"))
            go = v;
        else if (cz__cmd_flag(a, "name"))
            name = v;
        else if (cz__cmd_flag(a, "exe"))
            d->exe = v;
        else if (cz__cmd_flag(a, "version"))
            d->version = v;
        else if (cz__cmd_flag(a, "prefix"))
            d->prefix = v;
        else if (cz__cmd_flag(a, "etc"))
            d->etc = v;
        else if (cz__cmd_flag(a, "o"))
            d->out = v;
        else if (cz__cmd_flag(a, "port")) {
            if (parse_port("port", v, &d->port))
                return 1;
        } else if (cz__cmd_flag(a, "devPort")) {
            if (parse_port("devPort", v, &d->dev_port))
                return 1;
        } else {
            fprintf(stderr, "czctl docker: unexpected argument '%s'\n", a);
            return usage();
        }
    }
    if (!go == !name) {
        fputs("czctl docker: give one of -go NAME.c or -name NAME\n", stderr);
        return usage();
    }
    snprintf(d->dir, sizeof d->dir, ".");
    if (go) {
        size_t n = strlen(go);
        if (n < 3 || strcmp(go + n - 2, ".c")) {
            fprintf(stderr, "czctl docker: -go: want the service's main file NAME.c, got '%s'\n",
                    go);
            return 1;
        }
        char tmp[1024];
        snprintf(tmp, sizeof tmp, "%s", go);
        snprintf(d->dir, sizeof d->dir, "%s", dirname(tmp));
        snprintf(tmp, sizeof tmp, "%s", go);
        snprintf(d->name, sizeof d->name, "%.*s", (int)(strlen(basename(tmp)) - 2),
                 basename(tmp));
    } else {
        snprintf(d->name, sizeof d->name, "%s", name);
    }
    if (!d->exe)
        d->exe = d->name;
    const char *bad = NULL;
    if (!word_ok(d->name) || strchr(d->name, '/'))
        bad = "the service name: want letters, digits, '.', '_' or '-'";
    else if (!word_ok(d->exe) || strchr(d->exe, '/'))
        bad = "-exe: want letters, digits, '.', '_' or '-'";
    else if (!word_ok(d->version))
        bad = "-version: want a Debian image tag such as 12 or bookworm";
    else if (d->prefix && (!word_ok(d->prefix) || d->prefix[0] != '/'))
        bad = "-prefix: want an absolute path";
    else if (!word_ok(d->etc) || d->etc[0] == '/')
        bad = "-etc: want a directory relative to the build context";
    else if (d->port == d->dev_port)
        bad = "-devPort must differ from -port";
    else if (d->intree && d->prefix)
        bad = "-intree builds czero from the context; it takes no -prefix";
    if (bad) {
        fprintf(stderr, "czctl docker: %s\n", bad);
        return 1;
    }
    return 0;
}

/* Debian 12's package names; scripts/deps.sh lists the same set for development. */
#define BUILD_DEPS                                                                               \
    "build-essential cmake pkg-config ca-certificates \\\n"                                    \
    "        libuv1-dev node-llhttp libhiredis-dev libyaml-dev libjansson-dev libssl-dev "      \
    "zlib1g-dev"
#define RUN_DEPS "libuv1 libyaml-0-2 libjansson4 libhiredis0.14 libssl3 zlib1g ca-certificates"

static void write_dockerfile(const docker_t *d, FILE *f)
{
    const char *n = d->name, *exe = d->exe;
    fprintf(f, "# syntax=docker/dockerfile:1\n"
               "# Code generated by czctl docker. DO NOT EDIT: regenerate instead.\n#\n");
    if (d->intree)
        fprintf(f, "# Build from the root of the czero checkout:\n"
                   "#   docker build -f <this file> -t %s:latest .\n",
                n);
    else
        fprintf(f, "# Build from the service directory, with czero's %s as the context \"czero\":\n"
                   "#   docker build --build-context czero=%s -t %s:latest .\n",
                d->prefix ? "installed prefix" : "source tree",
                d->prefix ? d->prefix : "/path/to/czero", n);
    fprintf(f,
            "# Run (the config's Host must be 0.0.0.0, and its DevServer enabled on "
            "0.0.0.0:%ld for\n"
            "# the health check):\n"
            "#   docker run -p %ld:%ld -v \"$PWD/%s:/app/etc:ro\" %s:latest\n\n"
            "ARG DEBIAN_VERSION=%s\n\n"
            "FROM debian:${DEBIAN_VERSION} AS builder\n"
            "SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\n"
            "# Distribution packages follow the base image's release: no version pins.\n"
            "# hadolint ignore=DL3008\n"
            "RUN apt-get update \\\n"
            "    && apt-get install -y --no-install-recommends \\\n"
            "        " BUILD_DEPS " \\\n"
            "    && rm -rf /var/lib/apt/lists/*\n",
            d->dev_port, d->port, d->port, d->etc, n, d->version);
    if (d->intree) {
        /* only what the library and programs need: the build trees of a checkout stay out */
        fprintf(f,
                "WORKDIR /src/czero\n"
                "COPY CMakeLists.txt ./\n"
                "COPY cmake cmake\n"
                "COPY include include\n"
                "COPY src src\n"
                "COPY tools tools\n"
                "COPY examples examples\n"
                "RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCZ_TESTS=OFF \\\n"
                "    && cmake --build build -j\"$(nproc)\" --target %s \\\n"
                "    && install -D -m 0755 build/%s /out/%s\n\n",
                exe, exe, exe);
    } else {
        if (d->prefix)
            fprintf(f, "COPY --from=czero . %s\n", d->prefix);
        else
            fprintf(f,
                    "COPY --from=czero CMakeLists.txt /src/czero/\n"
                    "COPY --from=czero cmake /src/czero/cmake\n"
                    "COPY --from=czero include /src/czero/include\n"
                    "COPY --from=czero src /src/czero/src\n"
                    "COPY --from=czero tools /src/czero/tools\n"
                    "COPY --from=czero examples /src/czero/examples\n"
                    "RUN cmake -S /src/czero -B /src/czero/build -DCMAKE_BUILD_TYPE=Release "
                    "-DCZ_TESTS=OFF \\\n"
                    "    && cmake --build /src/czero/build -j\"$(nproc)\" \\\n"
                    "    && cmake --install /src/czero/build --prefix /opt/czero\n");
        fprintf(f,
                "WORKDIR /src/app\n"
                "COPY . .\n"
                "RUN rm -rf build \\\n"
                "    && cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCZERO_PREFIX=%s \\\n"
                "    && cmake --build build -j\"$(nproc)\" --target %s \\\n"
                "    && install -D -m 0755 build/%s /out/%s\n\n",
                d->prefix ? d->prefix : "/opt/czero", exe, exe, exe);
    }
    fprintf(f,
            "FROM debian:${DEBIAN_VERSION}-slim\n"
            "# hadolint ignore=DL3008\n"
            "RUN apt-get update \\\n"
            "    && apt-get install -y --no-install-recommends \\\n"
            "        " RUN_DEPS " \\\n"
            "    && rm -rf /var/lib/apt/lists/* \\\n"
            "    && useradd --system --uid 10001 --user-group --no-create-home \\\n"
            "        --shell /usr/sbin/nologin czero\n"
            "WORKDIR /app\n"
            "COPY --from=builder /out/%s /app/%s\n"
            "COPY %s /app/etc\n"
            "USER 10001:10001\n"
            "EXPOSE %ld\n"
            "HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \\\n"
            "    CMD [\"/bin/bash\", \"-c\", \"exec 3<>/dev/tcp/127.0.0.1/%ld "
            "&& printf 'GET /healthz HTTP/1.0\\\\r\\\\n\\\\r\\\\n' >&3 "
            "&& head -n 1 <&3 | grep -q ' 200 '\"]\n"
            "CMD [\"./%s\", \"-f\", \"etc/%s.yaml\"]\n",
            exe, exe, d->etc, d->port, d->dev_port, exe, n);
}

/* Build contexts send everything not ignored; the build trees of a checkout are large. */
static void write_ignore(FILE *f)
{
    fputs("# Code generated by czctl docker. DO NOT EDIT: regenerate instead.\n"
          ".git\nbuild\nbuild-*\n**/*.o\n",
          f);
}

static int write_file(const char *path, const docker_t *d, int ignore)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "czctl docker: %s: %s\n", path, strerror(errno));
        return 1;
    }
    if (ignore)
        write_ignore(f);
    else
        write_dockerfile(d, f);
    if (ferror(f) | (fclose(f) != 0)) {
        fprintf(stderr, "czctl docker: %s: %s\n", path, strerror(errno));
        return 1;
    }
    return 0;
}

int cz_cmd_docker(int argc, char **argv)
{
    if (cz__cmd_wants_help(argc, argv))
        return usage_to(stdout), 0;
    docker_t d;
    int rc = parse(&d, argc, argv);
    if (rc)
        return rc;
    if (d.out && !strcmp(d.out, "-")) {
        write_dockerfile(&d, stdout);
        return ferror(stdout) ? 1 : 0;
    }
    char path[1100], ign[1200];
    if (d.out)
        snprintf(path, sizeof path, "%s", d.out);
    else
        snprintf(path, sizeof path, "%s/Dockerfile", d.dir);
    /* BuildKit reads <Dockerfile>.dockerignore next to the Dockerfile before the context's */
    snprintf(ign, sizeof ign, "%s.dockerignore", path);
    if (write_file(path, &d, 0) || write_file(ign, &d, 1))
        return 1;
    printf("%s\n%s\n", path, ign);
    return 0;
}
