/* The demo service's route table (routes.c), shared by main.c and the integration tests. */
#ifndef CZERO_DEMO_H
#define CZERO_DEMO_H
#include <stddef.h>
#include "czero/server.h"
extern const cz_route_t demo_routes[];
extern const size_t demo_nroutes;
#endif
