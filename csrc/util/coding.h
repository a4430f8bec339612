/* coding.h: fixed-width little-endian integers and varints, as stored on disk.
 * Encoders write into caller memory; decoders check bounds and return NULL (or 0)
 * on truncated input instead of reading past the end. */
#ifndef LT_CODING_H
#define LT_CODING_H

#include <stdint.h>
#include <string.h>
#include "slice.h"

#define LT_MAX_VARINT32 5
#define LT_MAX_VARINT64 10

static inline void lt_put_fixed32(char *p, uint32_t v) {
    unsigned char *u = (unsigned char *)p;
    u[0] = (unsigned char)v; u[1] = (unsigned char)(v >> 8);
    u[2] = (unsigned char)(v >> 16); u[3] = (unsigned char)(v >> 24);
}
static inline void lt_put_fixed64(char *p, uint64_t v) {
    lt_put_fixed32(p, (uint32_t)v);
    lt_put_fixed32(p + 4, (uint32_t)(v >> 32));
}
static inline uint32_t lt_get_fixed32(const char *p) {
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] | ((uint32_t)u[1] << 8) | ((uint32_t)u[2] << 16) |
           ((uint32_t)u[3] << 24);
}
static inline uint64_t lt_get_fixed64(const char *p) {
    return (uint64_t)lt_get_fixed32(p) | ((uint64_t)lt_get_fixed32(p + 4) << 32);
}

/* Write a varint at p; returns the byte after it. REQUIRES: room for the maximum. */
static inline char *lt_put_varint32(char *p, uint32_t v) {
    unsigned char *u = (unsigned char *)p;
    while (v >= 0x80) { *u++ = (unsigned char)(v | 0x80); v >>= 7; }
    *u++ = (unsigned char)v;
    return (char *)u;
}
static inline char *lt_put_varint64(char *p, uint64_t v) {
    unsigned char *u = (unsigned char *)p;
    while (v >= 0x80) { *u++ = (unsigned char)(v | 0x80); v >>= 7; }
    *u++ = (unsigned char)v;
    return (char *)u;
}
static inline int lt_varint_length(uint64_t v) {
    int n = 1;
    while (v >= 0x80) { v >>= 7; n++; }
    return n;
}

/* Decode a varint from [p, limit); returns the byte after it, or NULL if malformed. */
static inline const char *lt_get_varint32(const char *p, const char *limit, uint32_t *v) {
    uint32_t r = 0;
    for (int shift = 0; shift <= 28 && p < limit; shift += 7) {
        uint32_t b = (unsigned char)*p++;
        r |= (b & 0x7f) << shift;
        if (!(b & 0x80)) { *v = r; return p; }
    }
    return NULL;
}
static inline const char *lt_get_varint64(const char *p, const char *limit, uint64_t *v) {
    uint64_t r = 0;
    for (int shift = 0; shift <= 63 && p < limit; shift += 7) {
        uint64_t b = (unsigned char)*p++;
        r |= (b & 0x7f) << shift;
        if (!(b & 0x80)) { *v = r; return p; }
    }
    return NULL;
}

/* Slice-consuming forms: advance `in` past what they read; return 1 on success. */
static inline int lt_slice_get_varint32(lt_slice *in, uint32_t *v) {
    const char *p = lt_get_varint32(in->data, in->data + in->size, v);
    if (!p) return 0;
    in->size -= (size_t)(p - in->data); in->data = p;
    return 1;
}
static inline int lt_slice_get_varint64(lt_slice *in, uint64_t *v) {
    const char *p = lt_get_varint64(in->data, in->data + in->size, v);
    if (!p) return 0;
    in->size -= (size_t)(p - in->data); in->data = p;
    return 1;
}
static inline int lt_slice_get_lenprefixed(lt_slice *in, lt_slice *out) {
    uint32_t n;
    if (!lt_slice_get_varint32(in, &n) || n > in->size) return 0;
    out->data = in->data; out->size = n;
    in->data += n; in->size -= n;
    return 1;
}

#endif
