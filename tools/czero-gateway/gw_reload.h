/* SPDX-License-Identifier: MIT
 *
 * gw_reload.h: the gateway's process loop (gw_reload.c), kept apart from the config and routes
 * so main.c stays a command line.
 */
#ifndef CZERO_GW_RELOAD_H
#define CZERO_GW_RELOAD_H
#include "gw.h"

/** Serve with `first` until SIGTERM/SIGINT; SIGHUP reloads `file` (a bad file keeps the old
 *  instance). Returns 0 once every instance has stopped and been freed. Main thread. */
int gw_run(const char *file, gw_instance_t *first);

#endif
