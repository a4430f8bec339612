/* buf.c: the growable byte buffer (lt_buf in slice.h).
 *
 * Capacity grows by doubling (from 64 bytes), so n appends cost O(n) amortised. Every
 * function either succeeds or returns LT_ENOMEM with the buffer exactly as it was. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coding.h"
#include "slice.h"
#include "status.h"

#define LT_BUF_MIN_CAP 64

int lt_buf_reserve(lt_buf *b, size_t extra) {
    if (extra <= b->cap - b->size) return LT_OK;
    if (extra > SIZE_MAX - b->size)
        return lt_seterr(LT_ENOMEM, "buffer: cannot grow %zu bytes by %zu", b->size, extra);
    size_t need = b->size + extra;
    size_t cap = b->cap ? b->cap : LT_BUF_MIN_CAP;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) { cap = need; break; }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) return lt_seterr(LT_ENOMEM, "buffer: out of memory growing to %zu bytes", cap);
    b->data = p;
    b->cap = cap;
    return LT_OK;
}

int lt_buf_append(lt_buf *b, const void *p, size_t n) {
    if (n == 0) return LT_OK;
    int rc = lt_buf_reserve(b, n);
    if (rc) return rc;
    memcpy(b->data + b->size, p, n);
    b->size += n;
    return LT_OK;
}

int lt_buf_append_byte(lt_buf *b, unsigned char c) {
    int rc = lt_buf_reserve(b, 1);
    if (rc) return rc;
    b->data[b->size++] = (char)c;
    return LT_OK;
}

int lt_buf_append_varint32(lt_buf *b, uint32_t v) {
    int rc = lt_buf_reserve(b, LT_MAX_VARINT32);
    if (rc) return rc;
    char *end = lt_put_varint32(b->data + b->size, v);
    b->size = (size_t)(end - b->data);
    return LT_OK;
}

int lt_buf_append_varint64(lt_buf *b, uint64_t v) {
    int rc = lt_buf_reserve(b, LT_MAX_VARINT64);
    if (rc) return rc;
    char *end = lt_put_varint64(b->data + b->size, v);
    b->size = (size_t)(end - b->data);
    return LT_OK;
}

int lt_buf_append_fixed32(lt_buf *b, uint32_t v) {
    int rc = lt_buf_reserve(b, 4);
    if (rc) return rc;
    lt_put_fixed32(b->data + b->size, v);
    b->size += 4;
    return LT_OK;
}

int lt_buf_append_fixed64(lt_buf *b, uint64_t v) {
    int rc = lt_buf_reserve(b, 8);
    if (rc) return rc;
    lt_put_fixed64(b->data + b->size, v);
    b->size += 8;
    return LT_OK;
}

int lt_buf_append_lenprefixed(lt_buf *b, const void *p, size_t n) {
    if (n > UINT32_MAX)
        return lt_seterr(LT_EINVAL, "buffer: length-prefixed field of %zu bytes is too long", n);
    /* Reserve for both parts first, so a failure leaves the buffer unchanged. */
    int rc = lt_buf_reserve(b, (size_t)lt_varint_length(n) + n);
    if (rc) return rc;
    char *end = lt_put_varint32(b->data + b->size, (uint32_t)n);
    b->size = (size_t)(end - b->data);
    if (n) memcpy(b->data + b->size, p, n);
    b->size += n;
    return LT_OK;
}

void lt_buf_free(lt_buf *b) {
    free(b->data);
    b->data = NULL;
    b->size = 0;
    b->cap = 0;
}
