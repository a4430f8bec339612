/* status.h: setting the calling thread's error message.
 * Every failing path sets a message with lt_seterr and returns the same code, so the
 * Python layer can raise an exception that says what failed and where. */
#ifndef LT_STATUS_H
#define LT_STATUS_H

#include "../include/lightning.h"

/* printf-style; returns `code` so callers can write `return lt_seterr(LT_EIO, ...)`. */
int lt_seterr(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* As lt_seterr with ": strerror(errnum)" appended; maps ENOSPC to LT_ENOSPC. */
int lt_seterr_errno(int errnum, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Clear this thread's message (called at API entry points). */
void lt_clearerr(void);

#endif
