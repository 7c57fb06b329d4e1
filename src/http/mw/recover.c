/* SPDX-License-Identifier: MIT
 *
 * recover.c: the recover link's unwinding (go-zero rest/handler/recoverhandler.go): cz_panic()
 * logs the message with a backtrace and jumps to the innermost chain or blocking handler
 * running on this thread, which answers 500. The sigsetjmp itself sits in the frames that must
 * stay on the stack (exchange/dispatch.c around the chain, exchange/pool.c around a blocking
 * handler); outside any, cz_panic() aborts the process.
 */
#include <execinfo.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "http/http_int.h"
#include "czero/log.h"
#include "czero/panic.h"


__thread sigjmp_buf *cz__panic_target;

void cz_panic(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    void *frames[48];
    int n = backtrace(frames, 48);
    char **names = backtrace_symbols(frames, n);
    char stack[4096];
    size_t o = 0;
    for (int i = 1; names && i < n && o < sizeof stack - 1; i++) {
        int w = snprintf(stack + o, sizeof stack - o, "\n\t%s", names[i]);
        if (w < 0)
            break;
        o += (size_t)w;
    }
    stack[o < sizeof stack ? o : sizeof stack - 1] = '\0';
    free(names);
    /* go-zero recoverhandler: logx.ErrorStack(fmt.Sprintf("%v\n%s", result, debug.Stack())) */
    cz_log_error("%s%s", msg, stack);
    if (!cz__panic_target) {
        cz_log_severe("cz_panic outside a request: %s", msg);
        cz_log_flush();
        abort();
    }
    siglongjmp(*cz__panic_target, 1);
}
