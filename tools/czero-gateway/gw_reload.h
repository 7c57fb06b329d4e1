/* SPDX-License-Identifier: MIT
 *
 * gw_reload.h: the gateway's process loop (gw_reload.c), kept apart from the config and routes
 * so gw_main.c stays a command line, and the pid file (gw_pid.c).
 */
#ifndef CZERO_GW_RELOAD_H
#define CZERO_GW_RELOAD_H
#include "gw.h"

/** Serve with `first` until SIGTERM/SIGINT; SIGHUP reloads `file` (a bad file keeps the old
 *  instance). Returns 0 once every instance has stopped and been freed. Main thread. */
int gw_run(const char *file, gw_instance_t *first);

/* gw_pid.c: the pid file and -s */
/** PidFile, or $XDG_RUNTIME_DIR (else /tmp)/czero-gateway-<Port>.pid, into buf; 0 or CZ_EARG. */
int gw_pid_path(const gw_conf_t *c, char *buf, size_t n);
/** Write this process's pid to path; 0 or -errno. */
int gw_pid_write(const char *path);
/** Remove path if it still holds this process's pid. */
void gw_pid_remove(const char *path);
/** -s cmd: send reload (SIGHUP) or stop (SIGTERM) to the czero-gateway whose pid path holds;
 *  prints what it did or why not. The exit status: 0, 1 or 2 (an unknown cmd). */
int gw_pid_signal(const char *path, const char *cmd);

#endif
