/* status.c: the calling thread's error message, and the names of the error codes.
 *
 * Each thread owns one message buffer (thread-local storage), so failures on one
 * thread never overwrite the message another thread is about to read. Messages longer
 * than the buffer are cut. lt_seterr formats into a local buffer first, so a message
 * may quote the previous one: lt_seterr(rc, "open db: %s", lt_errmsg()) is safe. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "status.h"

#define LT_ERRMSG_CAP 512

static _Thread_local char tls_msg[LT_ERRMSG_CAP];

const char *lt_errmsg(void) {
    return tls_msg;
}

void lt_clearerr(void) {
    tls_msg[0] = '\0';
}

int lt_seterr(int code, const char *fmt, ...) {
    char tmp[LT_ERRMSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    memcpy(tls_msg, tmp, sizeof tmp);
    return code;
}

/* Thread-safe text of errnum into buf (GNU strerror_r may return a static string
 * instead of filling buf; the XSI variant fills buf and returns an int). */
static const char *errno_text(int errnum, char *buf, size_t cap) {
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    return strerror_r(errnum, buf, cap);
#else
    if (strerror_r(errnum, buf, cap) != 0) snprintf(buf, cap, "errno %d", errnum);
    return buf;
#endif
}

int lt_seterr_errno(int errnum, const char *fmt, ...) {
    char tmp[LT_ERRMSG_CAP];
    char ebuf[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    size_t used = (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1;
    snprintf(tmp + used, sizeof tmp - used, ": %s", errno_text(errnum, ebuf, sizeof ebuf));
    memcpy(tls_msg, tmp, sizeof tmp);
    int full = errnum == ENOSPC;
#ifdef EDQUOT
    full = full || errnum == EDQUOT;
#endif
    return full ? LT_ENOSPC : LT_EIO;
}

const char *lt_strerror(int code) {
    switch (code) {
    case LT_OK:        return "success";
    case LT_ENOTFOUND: return "key not found";
    case LT_ECORRUPT:  return "data corruption detected";
    case LT_EIO:       return "I/O error";
    case LT_EINVAL:    return "invalid argument";
    case LT_ENOMEM:    return "out of memory";
    case LT_ELOCKED:   return "database is locked by another process";
    case LT_EREADONLY: return "database is read-only";
    case LT_ECLOSED:   return "handle is closed";
    case LT_ECONFLICT: return "transaction conflict";
    case LT_ENOENT:    return "database does not exist";
    case LT_EVERSION:  return "unsupported format version";
    case LT_ENOSPC:    return "no space left on device";
    case LT_EBUSY:     return "database is read-only after a background error";
    case LT_EEXISTS:   return "key already exists";
    case LT_EFORKED:   return "database was opened in a parent process; open it again after fork";
    default:           return "unknown error code";
    }
}
