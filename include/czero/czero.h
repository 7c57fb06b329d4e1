/* SPDX-License-Identifier: MIT
 *
 * czero.h: the umbrella header; includes every public czero header and nothing else.
 */
#ifndef CZERO_CZERO_H
#define CZERO_CZERO_H
#include "error.h"
#include "clock.h"
#include "str.h"
#include "arena.h"
#include "config.h"
#include "log.h"
#include "request.h"
#include "response.h"
#include "server.h"
#include "middleware.h"
#include "panic.h"
#include "bind.h"
#include "httpx.h"
#include "cors.h"
#include "jwt.h"
#include "trace.h"
#include "metrics.h"
#include "static.h"
#include "breaker.h"
#include "shedder.h"
#include "limiter.h"
#include "balancer.h"
#include "window.h"
#include "singleflight.h"
#include "redis.h"
#include "router.h"
#include "tls.h"
#endif
