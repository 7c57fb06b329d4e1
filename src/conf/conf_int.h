/* SPDX-License-Identifier: MIT
 *
 * conf_int.h: private interface between the pieces of the configuration loader.
 *
 * yaml.c turns text into a libyaml document and libyaml's complaints into a cz_diag_t;
 * scalar.c converts one scalar text to a typed value (shared by YAML values and table
 * defaults, so both obey the same rules) and expands ${ENV}; load.c walks the field tables.
 * Nothing here is installed or part of the public API.
 */
#ifndef CZERO_CONF_INT_H
#define CZERO_CONF_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>
#include "czero/config.h"

/* 1-based positions from libyaml's 0-based marks. */
#define cz__ymark_line(m) ((int)(m).line + 1)
#define cz__ymark_col(m) ((int)(m).column + 1)

/** Parse buf into doc (first document of the stream). 0, or CZ_EINVAL_CONF with d holding
 *  libyaml's problem text and position. On success the caller owns doc (yaml_document_delete);
 *  doc's root is NULL for an empty stream. */
int cz__yaml_parse(const char *name, const char *buf, size_t len, yaml_document_t *doc,
                   cz_diag_t *d);

/** True for a plain scalar YAML reads as null: "", "~", "null", "Null", "NULL". */
bool cz__yaml_is_null(const yaml_node_t *n);

/** "a mapping", "a sequence", "null" or "\"text\"" (truncated) for "got ..." messages. */
const char *cz__yaml_describe(const yaml_node_t *n, char *buf, size_t size);

/** Expand ${VAR} / ${VAR:-def} / $${ in s[0..n). *out is malloc'd and NUL-terminated.
 *  0, CZ_ENOMEM, or CZ_EPARSE with msg explaining (unset variable, unterminated, bad name). */
int cz__env_expand(const char *s, size_t n, char **out, char *msg, size_t msgsize);

/* Scalar converters: 0, or CZ_EPARSE with msg set ("expected an integer, got \"abc\""). */
int cz__conv_int(const char *s, int64_t *v, char *msg, size_t msgsize);
int cz__conv_double(const char *s, double *v, char *msg, size_t msgsize);
int cz__conv_bool(const char *s, bool *v, char *msg, size_t msgsize);
int cz__conv_duration(const char *s, int64_t *ms, char *msg, size_t msgsize);
int cz__conv_size(const char *s, int64_t *bytes, char *msg, size_t msgsize);
/** Index of s in the NULL-terminated enums, or CZ_EPARSE with the allowed values listed. */
int cz__conv_enum(const char *s, const char *const *enums, int *idx, char *msg, size_t msgsize);

/** "1s", "1.5s", "250ms", "2m", "1h" for a millisecond count (bounds messages). */
const char *cz__fmt_duration(int64_t ms, char *buf, size_t size);
/** "64KiB", "1MiB" when exact, else the byte count. */
const char *cz__fmt_size(int64_t bytes, char *buf, size_t size);

#endif
