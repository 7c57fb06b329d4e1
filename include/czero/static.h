/* SPDX-License-Identifier: MIT
 *
 * static.h: serving files from a directory (go-zero rest.WithFileServer, net/http.FileServer).
 *
 * cz_server_static() registers GET <prefix> plus a trailing "*path" wildcard segment (HEAD is
 * served by it too) as a blocking route, so opening and reading files happens on the blocking
 * pool, never on an event loop. The URL path is decoded and cleaned by the engine before routing,
 * so "..", "%2e%2e" and "//" can never leave the prefix; the file is then resolved with realpath()
 * and must lie inside the directory's own real path, so a symbolic link pointing out of it is
 * refused (403) while one staying inside works. Missing files are 404; so are directories without
 * an index.html and anything that is not a regular file (no directory listings, unlike net/http).
 *
 * Answers carry Content-Type (by file extension; application/octet-stream otherwise),
 * Last-Modified, Accept-Ranges: bytes and a weak ETag made of the size and modification time.
 * If-None-Match (or, without it, If-Modified-Since) matching gives 304. A single
 * "Range: bytes=a-b" / "a-" / "-n" gives 206 with Content-Range (If-Range with the current
 * Last-Modified keeps it; any other If-Range sends the whole file); a malformed or unsatisfiable
 * range gives 416 with "Content-Range: bytes * /size"; several ranges are ignored (the whole
 * file is sent, as RFC 9110 allows, rather than multipart/byteranges).
 *
 * The body is read into the request arena, so one answer holds at most CZ_STATIC_MAX_BODY bytes:
 * a larger file can still be fetched with ranges up to that size, and a plain GET of it is 500
 * (blocking handlers cannot stream; see the file's header comment).
 */
#ifndef CZERO_STATIC_H
#define CZERO_STATIC_H

#include "error.h"
#include "server.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest body one static answer carries (bytes). */
#define CZ_STATIC_MAX_BODY (32u << 20)

/** Serve the files below `dir` at URL prefix `url_prefix` ("/static"; "/" or "" for the whole
 *  site). Before cz_server_start(). Both strings are copied; `dir` is resolved now with
 *  realpath(). Returns 0, CZ_EARG (NULL argument, prefix not starting with '/'), -errno when
 *  dir cannot be resolved or -ENOTDIR when it is not a directory, CZ_EDUPLICATE when the prefix
 *  is already served, or CZ_ENOMEM. */
CZ_EXTERN int cz_server_static(cz_server_t *s, const char *url_prefix, const char *dir);

#ifdef __cplusplus
}
#endif
#endif
