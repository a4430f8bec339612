/* slice.h: a pointer-and-length view of bytes, and the bytewise key order.
 * A slice never owns its bytes; whoever hands one out states how long they live. */
#ifndef LT_SLICE_H
#define LT_SLICE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct lt_slice {
    const char *data;
    size_t size;
} lt_slice;

static inline lt_slice lt_slice_make(const void *p, size_t n) {
    lt_slice s = { (const char *)p, n };
    return s;
}

/* Bytewise comparison: <0, 0, >0 like memcmp; a proper prefix sorts first. */
static inline int lt_slice_cmp(lt_slice a, lt_slice b) {
    size_t n = a.size < b.size ? a.size : b.size;
    int r = n ? memcmp(a.data, b.data, n) : 0;
    if (r == 0) r = (a.size > b.size) - (a.size < b.size);
    return r;
}

static inline int lt_slice_eq(lt_slice a, lt_slice b) {
    return a.size == b.size && (a.size == 0 || memcmp(a.data, b.data, a.size) == 0);
}

/* A growable byte buffer (the owning counterpart of a slice). */
typedef struct lt_buf {
    char *data;
    size_t size;
    size_t cap;
} lt_buf;

/* Each returns LT_OK or LT_ENOMEM; on failure the buffer is unchanged. */
int  lt_buf_reserve(lt_buf *b, size_t extra);
int  lt_buf_append(lt_buf *b, const void *p, size_t n);
int  lt_buf_append_byte(lt_buf *b, unsigned char c);
int  lt_buf_append_varint32(lt_buf *b, uint32_t v);
int  lt_buf_append_varint64(lt_buf *b, uint64_t v);
int  lt_buf_append_fixed32(lt_buf *b, uint32_t v);
int  lt_buf_append_fixed64(lt_buf *b, uint64_t v);
/* varint32 length followed by the bytes */
int  lt_buf_append_lenprefixed(lt_buf *b, const void *p, size_t n);
static inline void lt_buf_clear(lt_buf *b) { b->size = 0; }
void lt_buf_free(lt_buf *b); /* frees and zeroes; the buffer may be reused */

#endif
