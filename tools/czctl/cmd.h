/* SPDX-License-Identifier: MIT
 *
 * cmd.h: czctl's subcommands that live outside main.c, one entry point each.
 *
 * main.c parses the command word and hands the rest of argv to these functions: argv[0] is
 * the first argument after the command words (`czctl api openapi -api x.api` calls
 * cz_cmd_openapi(2, {"-api", "x.api"})). Each returns the process exit code: 0 success, 1 the
 * input is wrong or a file cannot be written (a message on stderr), 2 usage. Flags take one or
 * two dashes, as goctl's do.
 */
#ifndef CZCTL_CMD_H
#define CZCTL_CMD_H

#include <string.h>

/** `czctl api openapi -api FILE [-o out.json|out.yaml]`: the OpenAPI 3.0.3 document of the
 *  service (stdout without -o; YAML when the -o name ends in .yaml or .yml). */
int cz_cmd_openapi(int argc, char **argv);

/** `czctl docker -go NAME.c|-name NAME [-port 8888] [-exe NAME] [-version 12] ...`: writes a
 *  multi-stage Dockerfile (see gen_docker.c for every flag). */
int cz_cmd_docker(int argc, char **argv);

/** `czctl kube deploy -name N -namespace NS -image IMG -o FILE [...]`: writes a Deployment, a
 *  Service and a HorizontalPodAutoscaler (see gen_kube.c for every flag). */
int cz_cmd_kube(int argc, char **argv);

/** `czctl api swagger`: goctl's name and flags (-api FILE [-dir DIR] [-filename NAME]
 *  [-yaml]) for the same OpenAPI 3.0.3 document as `api openapi` (goctl writes Swagger 2.0). */
int cz_cmd_swagger(int argc, char **argv);

/* 1 when arg is -name or --name. */
static inline int cz__cmd_flag(const char *arg, const char *name)
{
    if (arg[0] != '-')
        return 0;
    arg += arg[1] == '-' ? 2 : 1;
    return !strcmp(arg, name);
}

/* 1 when an argument asks for help: -h, -help, --help (then usage goes to stdout, exit 0). */
static inline int cz__cmd_wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (cz__cmd_flag(argv[i], "h") || cz__cmd_flag(argv[i], "help"))
            return 1;
    return 0;
}

#endif
