/* SPDX-License-Identifier: MIT
 *
 * gen_util.c: the .api lookups and loading the C and OpenAPI generators share (gen_util.h).
 */
#include <stdio.h>
#include <string.h>
#include "gen_util.h"

const cz_api_typedecl_t *cz__gen_find_type(const cz_api_t *api, const char *name)
{
    for (const cz_api_file_t *f = api->files; f; f = f->next)
        for (const cz_api_stmt_t *s = f->stmts; s; s = s->next)
            if (s->kind == CZ_API_S_TYPE)
                for (const cz_api_typedecl_t *d = s->types; d; d = d->next)
                    if (!strcmp(d->name, name))
                        return d;
    return NULL;
}

int cz__gen_load(cz_api_t **api, const char *file)
{
    cz_diag_t d;
    if (cz_api_load(api, file, &d)) {
        char buf[800];
        fprintf(stderr, "%s\n", cz_diag_format(&d, buf, sizeof buf));
        return 1;
    }
    return 0;
}
