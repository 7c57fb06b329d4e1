/* SPDX-License-Identifier: MIT
 *
 * jwt.c: the jwt link of the middleware chain. Placeholder until the link is written: it applies
 * to no route, so the chain skips it.
 */
#include "mw_int.h"

const cz__mw_module_t cz__mw_jwt = {.name = "jwt"};
