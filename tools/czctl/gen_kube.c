/* SPDX-License-Identifier: MIT
 *
 * gen_kube.c: `czctl kube deploy`, Kubernetes manifests for a czero service.
 *
 * Same flags, defaults and shape as goctl's (tools/goctl/kube/deployment.tpl): a Deployment,
 * a Service named NAME-svc (NodePort when -nodePort is given) and autoscaling on CPU and memory
 * at 80%. Three differences, each on purpose:
 * - the probes are HTTP GETs of /healthz on the dev listener (czero's DevServer, port 6060 by
 *   default) instead of goctl's TCP check of the service port, so a wedged service is restarted;
 * - one autoscaling/v2 HorizontalPodAutoscaler carries both metrics; goctl writes two, one of
 *   them autoscaling/v2beta2, which Kubernetes 1.26 removed, and two HPAs on one Deployment
 *   fight each other;
 * - the pod runs as non-root (the image from `czctl docker` has a numeric non-root user) and
 *   there is no hostPath timezone mount; -configMap mounts etc/ from a ConfigMap instead.
 * Values are checked before anything is written: names must be DNS-1123 labels, numbers in range.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd.h"

typedef struct kube {
    const char *name, *ns, *image, *out, *secret, *sa, *policy, *config_map;
    long replicas, revisions, port, target_port, node_port, dev_port;
    long req_cpu, req_mem, lim_cpu, lim_mem, min_rep, max_rep;
} kube_t;

static int usage_to(FILE *o)
{
    fputs("usage: czctl kube deploy -name N -namespace NS -image IMG -o FILE\n"
          "         [-replicas 3] [-revisions 5] [-port 8888] [-targetPort PORT] [-nodePort 0]\n"
          "         [-devPort 6060] [-requestCpu 500] [-requestMem 512] [-limitCpu 1000]\n"
          "         [-limitMem 1024] [-minReplicas 3] [-maxReplicas 10] [-secret NAME]\n"
          "         [-serviceAccount NAME] [-imagePullPolicy Always|IfNotPresent|Never]\n"
          "         [-configMap NAME]\n",
          o);
    return 2;
}

static int usage(void) { return usage_to(stderr); }

/* RFC 1123 label, what Kubernetes wants for names and namespaces. Service names get "-svc". */
static int dns_label(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (!n || n > max || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
            return 0;
    return 1;
}

/* An image reference: no spaces or quotes, so it can be printed as a YAML scalar. */
static int image_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == '"' || *s == '\'' || *s == '#' || *s == '\\')
            return 0;
    return 1;
}

static const struct {
    const char *flag;
    size_t off;
    long min, max;
} num_flags[] = {
    {"replicas", offsetof(kube_t, replicas), 0, 100000},
    {"revisions", offsetof(kube_t, revisions), 0, 1000},
    {"port", offsetof(kube_t, port), 1, 65535},
    {"targetPort", offsetof(kube_t, target_port), 0, 65535},
    {"nodePort", offsetof(kube_t, node_port), 0, 65535},
    {"devPort", offsetof(kube_t, dev_port), 1, 65535},
    {"requestCpu", offsetof(kube_t, req_cpu), 1, 1000000},
    {"requestMem", offsetof(kube_t, req_mem), 1, 10000000},
    {"limitCpu", offsetof(kube_t, lim_cpu), 1, 1000000},
    {"limitMem", offsetof(kube_t, lim_mem), 1, 10000000},
    {"minReplicas", offsetof(kube_t, min_rep), 1, 100000},
    {"maxReplicas", offsetof(kube_t, max_rep), 1, 100000},
};

static const struct {
    const char *flag;
    size_t off;
} str_flags[] = {
    {"name", offsetof(kube_t, name)},
    {"namespace", offsetof(kube_t, ns)},
    {"image", offsetof(kube_t, image)},
    {"o", offsetof(kube_t, out)},
    {"secret", offsetof(kube_t, secret)},
    {"serviceAccount", offsetof(kube_t, sa)},
    {"imagePullPolicy", offsetof(kube_t, policy)},
    {"configMap", offsetof(kube_t, config_map)},
};

/* Returns 0, or 1/2 (the exit code) after saying what is wrong. */
static int parse(kube_t *k, int argc, char **argv)
{
    *k = (kube_t){.replicas = 3, .revisions = 5, .port = 8888, .dev_port = 6060,
                  .req_cpu = 500, .req_mem = 512, .lim_cpu = 1000, .lim_mem = 1024,
                  .min_rep = 3, .max_rep = 10};
    for (int i = 0; i < argc; i++) {
        int done = 0;
        for (size_t j = 0; j < sizeof num_flags / sizeof num_flags[0] && !done; j++) {
            if (!cz__cmd_flag(argv[i], num_flags[j].flag))
                continue;
            if (i + 1 >= argc)
                return usage();
            char *end;
            errno = 0;
            long v = strtol(argv[++i], &end, 10);
            if (errno || end == argv[i] || *end || v < num_flags[j].min || v > num_flags[j].max) {
                fprintf(stderr, "czctl kube deploy: -%s: want an integer in %ld..%ld, got '%s'\n",
                        num_flags[j].flag, num_flags[j].min, num_flags[j].max, argv[i]);
                return 1;
            }
            *(long *)((char *)k + num_flags[j].off) = v;
            done = 1;
        }
        for (size_t j = 0; j < sizeof str_flags / sizeof str_flags[0] && !done; j++) {
            if (!cz__cmd_flag(argv[i], str_flags[j].flag))
                continue;
            if (i + 1 >= argc)
                return usage();
            *(const char **)((char *)k + str_flags[j].off) = argv[++i];
            done = 1;
        }
        if (!done) {
            fprintf(stderr, "czctl kube deploy: unexpected argument '%s'\n", argv[i]);
            return usage();
        }
    }
    if (!k->name || !k->ns || !k->image || !k->out) {
        fputs("czctl kube deploy: -name, -namespace, -image and -o are required\n", stderr);
        return usage();
    }
    const char *bad = NULL;
    if (!dns_label(k->name, 63 - 4)) /* leaves room for the -svc / -hpa suffixes */
        bad = "-name: want lower-case letters, digits and '-', at most 59";
    else if (!dns_label(k->ns, 63))
        bad = "-namespace: want lower-case letters, digits and '-', at most 63";
    else if (!image_ok(k->image))
        bad = "-image: want an image reference without spaces or quotes";
    else if (k->secret && !dns_label(k->secret, 253))
        bad = "-secret: want a DNS-1123 name";
    else if (k->sa && !dns_label(k->sa, 253))
        bad = "-serviceAccount: want a DNS-1123 name";
    else if (k->config_map && !dns_label(k->config_map, 253))
        bad = "-configMap: want a DNS-1123 name";
    else if (k->policy && strcmp(k->policy, "Always") && strcmp(k->policy, "IfNotPresent") &&
             strcmp(k->policy, "Never"))
        bad = "-imagePullPolicy: want Always, IfNotPresent or Never";
    else if (k->min_rep > k->max_rep)
        bad = "-minReplicas must not exceed -maxReplicas";
    else if (k->req_cpu > k->lim_cpu || k->req_mem > k->lim_mem)
        bad = "requests must not exceed limits";
    else if (k->node_port && (k->node_port < 30000 || k->node_port > 32767))
        bad = "-nodePort: want 30000..32767 (the default NodePort range)";
    else if (k->dev_port == (k->target_port ? k->target_port : k->port))
        bad = "-devPort must differ from the service port";
    if (bad) {
        fprintf(stderr, "czctl kube deploy: %s\n", bad);
        return 1;
    }
    if (!k->target_port)
        k->target_port = k->port;
    return 0;
}

static void probe(FILE *f, const char *kind, int delay, int period)
{
    fprintf(f,
            "          %s:\n"
            "            httpGet:\n"
            "              path: /healthz\n"
            "              port: dev\n"
            "            initialDelaySeconds: %d\n"
            "            periodSeconds: %d\n",
            kind, delay, period);
}

static void write_manifests(const kube_t *k, FILE *f)
{
    const char *n = k->name;
    fprintf(f, "# Code generated by czctl kube deploy. DO NOT EDIT: regenerate instead.\n");
    fprintf(f,
            "apiVersion: apps/v1\n"
            "kind: Deployment\n"
            "metadata:\n"
            "  name: %s\n"
            "  namespace: %s\n"
            "  labels:\n"
            "    app: %s\n"
            "spec:\n"
            "  replicas: %ld\n"
            "  revisionHistoryLimit: %ld\n"
            "  selector:\n"
            "    matchLabels:\n"
            "      app: %s\n"
            "  template:\n"
            "    metadata:\n"
            "      labels:\n"
            "        app: %s\n"
            "    spec:\n",
            n, k->ns, n, k->replicas, k->revisions, n, n);
    if (k->sa)
        fprintf(f, "      serviceAccountName: %s\n", k->sa);
    fprintf(f,
            "      securityContext:\n"
            "        runAsNonRoot: true\n"
            "      containers:\n"
            "        - name: %s\n"
            "          image: %s\n",
            n, k->image);
    if (k->policy)
        fprintf(f, "          imagePullPolicy: %s\n", k->policy);
    fprintf(f,
            "          ports:\n"
            "            - name: http\n"
            "              containerPort: %ld\n"
            "              protocol: TCP\n"
            "            - name: dev\n"
            "              containerPort: %ld\n"
            "              protocol: TCP\n",
            k->target_port, k->dev_port);
    probe(f, "readinessProbe", 5, 10);
    probe(f, "livenessProbe", 15, 20);
    fprintf(f,
            "          resources:\n"
            "            requests:\n"
            "              cpu: %ldm\n"
            "              memory: %ldMi\n"
            "            limits:\n"
            "              cpu: %ldm\n"
            "              memory: %ldMi\n"
            "          securityContext:\n"
            "            allowPrivilegeEscalation: false\n",
            k->req_cpu, k->req_mem, k->lim_cpu, k->lim_mem);
    if (k->config_map)
        fprintf(f,
                "          volumeMounts:\n"
                "            - name: config\n"
                "              mountPath: /app/etc\n"
                "              readOnly: true\n"
                "      volumes:\n"
                "        - name: config\n"
                "          configMap:\n"
                "            name: %s\n",
                k->config_map);
    if (k->secret)
        fprintf(f,
                "      imagePullSecrets:\n"
                "        - name: %s\n",
                k->secret);
    fprintf(f,
            "---\n"
            "apiVersion: v1\n"
            "kind: Service\n"
            "metadata:\n"
            "  name: %s-svc\n"
            "  namespace: %s\n"
            "  labels:\n"
            "    app: %s\n"
            "spec:\n",
            n, k->ns, n);
    if (k->node_port)
        fprintf(f, "  type: NodePort\n");
    fprintf(f,
            "  ports:\n"
            "    - name: http\n"
            "      port: %ld\n"
            "      targetPort: %ld\n"
            "      protocol: TCP\n",
            k->port, k->target_port);
    if (k->node_port)
        fprintf(f, "      nodePort: %ld\n", k->node_port);
    fprintf(f,
            "  selector:\n"
            "    app: %s\n"
            "---\n"
            "apiVersion: autoscaling/v2\n"
            "kind: HorizontalPodAutoscaler\n"
            "metadata:\n"
            "  name: %s-hpa\n"
            "  namespace: %s\n"
            "  labels:\n"
            "    app: %s\n"
            "spec:\n"
            "  scaleTargetRef:\n"
            "    apiVersion: apps/v1\n"
            "    kind: Deployment\n"
            "    name: %s\n"
            "  minReplicas: %ld\n"
            "  maxReplicas: %ld\n"
            "  metrics:\n",
            n, n, k->ns, n, n, k->min_rep, k->max_rep);
    const char *res[] = {"cpu", "memory"};
    for (int i = 0; i < 2; i++)
        fprintf(f,
                "    - type: Resource\n"
                "      resource:\n"
                "        name: %s\n"
                "        target:\n"
                "          type: Utilization\n"
                "          averageUtilization: 80\n",
                res[i]);
}

int cz_cmd_kube(int argc, char **argv)
{
    if (cz__cmd_wants_help(argc, argv))
        return usage_to(stdout), 0;
    if (argc < 1 || strcmp(argv[0], "deploy")) {
        if (argc >= 1)
            fprintf(stderr, "czctl kube: unknown command '%s'\n", argv[0]);
        return usage();
    }
    kube_t k;
    int rc = parse(&k, argc - 1, argv + 1);
    if (rc)
        return rc;
    int to_stdout = !strcmp(k.out, "-");
    FILE *f = to_stdout ? stdout : fopen(k.out, "w");
    if (!f) {
        fprintf(stderr, "czctl kube deploy: %s: %s\n", k.out, strerror(errno));
        return 1;
    }
    write_manifests(&k, f);
    if (ferror(f) || (!to_stdout && fclose(f) != 0)) {
        fprintf(stderr, "czctl kube deploy: %s: %s\n", k.out, strerror(errno));
        return 1;
    }
    return 0;
}
