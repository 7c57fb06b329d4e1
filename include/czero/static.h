/* SPDX-License-Identifier: MIT
 *
 * static.h: serving files from a directory (go-zero rest.WithFileServer, net/http.FileServer).
 *
 * cz_server_static() registers GET <prefix> plus a trailing "*path" wildcard segment (HEAD is
 * served by it too) as an async route: resolving, opening and reading files happens on the
 * loop's libuv threadpool, never on an event loop. The URL path is decoded and cleaned by the
 * engine before routing, so "..", "%2e%2e" and "//" can never leave the prefix; the file is then
 * resolved with realpath() and must lie inside the directory's own real path, so a symbolic link
 * pointing out of it is refused (403) while one staying inside works. Missing files are 404; so
 * are directories without an index.html and anything that is not a regular file (no directory
 * listings, unlike net/http).
 *
 * Answers carry Content-Type (by file extension; application/octet-stream otherwise),
 * Last-Modified, Accept-Ranges: bytes and a weak ETag made of the size and modification time.
 * If-None-Match (or, without it, If-Modified-Since) matching gives 304. A single
 * "Range: bytes=a-b" / "a-" / "-n" gives 206 with Content-Range (If-Range with the current
 * Last-Modified keeps it; any other If-Range sends the whole file); a malformed or unsatisfiable
 * range gives 416 with "Content-Range: bytes * /size"; several ranges are ignored (the whole
 * file is sent, as RFC 9110 allows, rather than multipart/byteranges).
 *
 * Files of any size are served. An answer up to CZ_STATIC_SMALL_BODY bytes is read whole and
 * sent with its head in one write; a larger one is streamed with its Content-Length in 128 KiB
 * reads, the next read waiting while more than 256 KiB are queued for a slow client, so the
 * memory a download holds is bounded whatever the file size (nginx and net/http.ServeContent
 * behave the same way). HEAD answers carry the Content-Length and read nothing. A client that
 * goes away, a write timeout or a server stop ends the download and closes the file; a file that
 * fails or shrinks mid-answer cuts the connection (the client sees a short body, never a
 * complete-looking one). The route has no handler Timeout: WriteTimeout (no progress writing to
 * the client) limits a stalled download instead.
 */
#ifndef CZERO_STATIC_H
#define CZERO_STATIC_H

#include "error.h"
#include "server.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Answers up to this many bytes are read whole into the request arena and sent in one write;
 * larger ones are streamed. */
#define CZ_STATIC_SMALL_BODY (64u << 10)

/** Serve the files below `dir` at URL prefix `url_prefix` ("/static"; "/" or "" for the whole
 *  site). Before cz_server_start(). Both strings are copied; `dir` is resolved now with
 *  realpath(). Returns 0, CZ_EARG (NULL argument, prefix not starting with '/'), -errno
 *  when dir cannot be resolved or -ENOTDIR when it is not a directory, CZ_EDUPLICATE when the
 *  prefix is already served, or CZ_ENOMEM. Files are opened and read on libuv's threadpool
 *  (UV_THREADPOOL_SIZE threads, shared with DNS lookups) for the request's loop. */
CZ_EXTERN int cz_server_static(cz_server_t *s, const char *url_prefix, const char *dir);

#ifdef __cplusplus
}
#endif
#endif
