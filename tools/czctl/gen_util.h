/* SPDX-License-Identifier: MIT
 *
 * gen_util.h: what czctl's generators (gen_c*.c for C, gen_openapi.c for OpenAPI) both need
 * from a loaded .api, private to tools/czctl.
 */
#ifndef CZCTL_GEN_UTIL_H
#define CZCTL_GEN_UTIL_H

#include "api_ast.h"

/* The type declaration named `name` in any of api's files, or NULL (an outside type). */
const cz_api_typedecl_t *cz__gen_find_type(const cz_api_t *api, const char *name);
/* cz_api_load, with a failure's file:line:col message on stderr: 0, or 1 (the exit status). */
int cz__gen_load(cz_api_t **api, const char *file);

#endif
