/* Shared test helpers (see support.h). */
#include "support.h"
