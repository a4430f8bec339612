/* block.c: reading one block of prefix-compressed entries (format in block.h):
 * validation of the restart array at parse time, and a cursor that seeks by binary
 * search over restart points, steps forward entry by entry, and steps back by
 * re-scanning from the previous restart point.
 *
 * Safety: the restart array is checked once (offsets strictly increasing, the first
 * at 0, all inside the entry area); every entry is bounds-checked as it is decoded
 * (its three varints, its shared prefix against the previous key, its key and value
 * against the entry area). Malformed input gives LT_ECORRUPT, never a read outside
 * the block. A cursor is not thread-safe; any number of cursors may share a block. */
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "../util/coding.h"
#include "../util/status.h"

struct lt_block {
    const char *data;
    size_t size;
    uint32_t end;        /* offset of the restart array */
    uint32_t nrestarts;
    int owned;
    /* lt_block_build_fence: per restart point, the 8 bytes of its user key after the
     * prefix all of them share (lcp bytes at lcp_key), big-endian, zero-padded; NULL
     * when not built. Seeks then bisect this dense array first. */
    uint64_t *fence;
    const char *lcp_key;
    uint32_t lcp;
    char what[];         /* names the block in messages */
};

int lt_block_new(const char *data, size_t size, int owned, const char *what, lt_block **out) {
    int rc = LT_ECORRUPT;
    *out = NULL;
    if (size < 4 || size > UINT32_MAX) {
        lt_seterr(rc, "%s: bad block size %zu", what, size);
        goto fail;
    }
    uint32_t n = lt_get_fixed32(data + size - 4);
    if (n > (size - 4) / 4) {
        lt_seterr(rc, "%s: restart count %u too large for a %zu-byte block", what, n, size);
        goto fail;
    }
    uint32_t end = (uint32_t)(size - 4 - 4 * (size_t)n);
    if ((end == 0) != (n == 0)) {
        lt_seterr(rc, "%s: %u restart points for %u bytes of entries", what, n, end);
        goto fail;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r = lt_get_fixed32(data + end + 4 * (size_t)i);
        uint32_t prev = i ? lt_get_fixed32(data + end + 4 * (size_t)(i - 1)) : 0;
        if (r >= end || (i == 0 ? r != 0 : r <= prev)) {
            lt_seterr(rc, "%s: bad restart point %u (offset %u)", what, i, r);
            goto fail;
        }
    }
    size_t wlen = strlen(what);
    lt_block *b = malloc(sizeof *b + wlen + 1);
    if (!b) {
        rc = lt_seterr(LT_ENOMEM, "%s: out of memory", what);
        goto fail;
    }
    b->data = data;
    b->size = size;
    b->end = end;
    b->nrestarts = n;
    b->owned = owned;
    b->fence = NULL;
    b->lcp_key = NULL;
    b->lcp = 0;
    memcpy(b->what, what, wlen + 1);
    *out = b;
    return LT_OK;
fail:
    if (owned) free((void *)data);
    return rc;
}

size_t lt_block_size(const lt_block *b) { return b->size; }

void lt_block_free(lt_block *b) {
    if (!b) return;
    free(b->fence);
    if (b->owned) free((void *)b->data);
    free(b);
}

/* ---- cursor ------------------------------------------------------------------------ */

static inline uint32_t restart_at(const lt_block_cursor *c, uint32_t i) {
    return lt_get_fixed32(c->data + c->end + 4 * (size_t)i);
}

/* Decode the header of the entry at p; returns its key delta, or NULL if malformed. */
static inline const char *decode_entry(const char *p, const char *limit, uint32_t *shared,
                                       uint32_t *unshared, uint32_t *vlen) {
    if (limit - p < 3) return NULL;
    const unsigned char *u = (const unsigned char *)p;
    if ((u[0] | u[1] | u[2]) < 0x80) { /* the common case: three one-byte varints */
        *shared = u[0];
        *unshared = u[1];
        *vlen = u[2];
        p += 3;
    } else {
        if (!(p = lt_get_varint32(p, limit, shared))) return NULL;
        if (!(p = lt_get_varint32(p, limit, unshared))) return NULL;
        if (!(p = lt_get_varint32(p, limit, vlen))) return NULL;
    }
    size_t room = (size_t)(limit - p);
    if (*unshared > room || *vlen > room - *unshared) return NULL;
    return p;
}

/* Internal-key order (user key bytewise, then the 8-byte trailer descending), inlined
 * into the cursor when it is the cursor's comparator. Keys shorter than 8 bytes
 * (only in malformed blocks) compare bytewise instead of being read out of bounds. */
static inline __attribute__((always_inline)) int ikey_cmp_inline(lt_slice a, lt_slice b) {
    if (a.size < 8 || b.size < 8) return lt_slice_cmp(a, b);
    size_t ua = a.size - 8, ub = b.size - 8, n = ua < ub ? ua : ub, i = 0;
    const unsigned char *p = (const unsigned char *)a.data, *q = (const unsigned char *)b.data;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, y;
        memcpy(&x, p + i, 8);
        memcpy(&y, q + i, 8);
        if (x != y) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            x = __builtin_bswap64(x); /* compare as big-endian numbers = bytewise */
            y = __builtin_bswap64(y);
#endif
            return x < y ? -1 : 1;
        }
    }
    for (; i < n; i++)
        if (p[i] != q[i]) return p[i] < q[i] ? -1 : 1;
    if (ua != ub) return ua < ub ? -1 : 1;
    uint64_t ta = lt_get_fixed64(a.data + ua), tb = lt_get_fixed64(b.data + ub);
    return (ta < tb) - (ta > tb);
}

int lt_block_ikey_cmp(lt_slice a, lt_slice b) { return ikey_cmp_inline(a, b); }

/* ---- fence: a dense array over the restart keys ------------------------------------ */

/* The 8 bytes at p[0:n) (n may be less: zero-padded) as a big-endian number, so that
 * numeric order is bytewise order of the windows. */
static inline uint64_t window8(const char *p, size_t n) {
    unsigned char w[8] = {0};
    memcpy(w, p, n < 8 ? n : 8);
    uint64_t x;
    memcpy(&x, w, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    return x;
}

/* The user key of the whole key stored at restart i, or 0 (a malformed entry). */
static int restart_user_key(const lt_block *b, uint32_t i, lt_slice *uk) {
    uint32_t off = lt_get_fixed32(b->data + b->end + 4 * (size_t)i), shared, unshared, vlen;
    const char *p = decode_entry(b->data + off, b->data + b->end, &shared, &unshared, &vlen);
    if (!p || shared != 0 || unshared < 8) return 0;
    *uk = lt_slice_make(p, unshared - 8);
    return 1;
}

int lt_block_build_fence(lt_block *b) {
    uint32_t n = b->nrestarts;
    lt_slice first, last, uk;
    if (b->fence || n < 16) return LT_OK;       /* small blocks: bisection is cheap */
    if (!restart_user_key(b, 0, &first) || !restart_user_key(b, n - 1, &last))
        return LT_OK;                           /* malformed: seeks will report it */
    /* keys are sorted, so what the first and last share, every key shares */
    size_t lcp = 0, m = first.size < last.size ? first.size : last.size;
    while (lcp < m && first.data[lcp] == last.data[lcp]) lcp++;
    uint64_t *f = malloc(sizeof *f * n);
    if (!f) return lt_seterr(LT_ENOMEM, "%s: out of memory", b->what);
    for (uint32_t i = 0; i < n; i++) {
        if (!restart_user_key(b, i, &uk) || uk.size < lcp ||
            memcmp(uk.data, first.data, lcp) != 0 ||
            (i && window8(uk.data + lcp, uk.size - lcp) < f[i - 1])) {
            free(f);                            /* not sorted as promised: no fence */
            return LT_OK;
        }
        f[i] = window8(uk.data + lcp, uk.size - lcp);
    }
    b->fence = f;
    b->lcp_key = first.data;
    b->lcp = (uint32_t)lcp;
    return LT_OK;
}

/* The restart range [*lo, *hi] that must hold the last restart whose key is below
 * the internal key `target` (see lt_block_cursor_seek), narrowed with the fence:
 * a restart whose window is below the target's has a smaller user key, one whose
 * window is above it a larger one; only equal windows need whole keys compared. */
static void fence_range(const lt_block *b, lt_slice target, uint32_t *lo, uint32_t *hi) {
    uint32_t n = b->nrestarts;
    size_t tn = target.size - 8, lcp = b->lcp;
    int c = memcmp(target.data, b->lcp_key, tn < lcp ? tn : lcp);
    if (c < 0 || (c == 0 && tn < lcp)) { *lo = *hi = 0; return; }   /* below all */
    if (c > 0) { *lo = *hi = n - 1; return; }                         /* above all */
    uint64_t t = window8(target.data + lcp, tn - lcp);
    const uint64_t *f = b->fence;
    uint32_t a = 0, z = n;                      /* a = first window >= t */
    while (a < z) {
        uint32_t mid = a + (z - a) / 2;
        if (f[mid] < t) a = mid + 1;
        else z = mid;
    }
    uint32_t e = a;                             /* e = first window > t */
    z = n;
    while (e < z) {
        uint32_t mid = e + (z - e) / 2;
        if (f[mid] <= t) e = mid + 1;
        else z = mid;
    }
    *lo = a ? a - 1 : 0;
    *hi = e ? e - 1 : 0;
}

static inline __attribute__((always_inline)) int cursor_cmp(const lt_block_cursor *c,
                                                             lt_slice a, lt_slice b) {
    return c->cmp == lt_block_ikey_cmp ? ikey_cmp_inline(a, b) : c->cmp(a, b);
}

static void corrupt(lt_block_cursor *c, uint32_t off) {
    c->status = lt_seterr(LT_ECORRUPT, "%s: malformed entry at block offset %u",
                          c->block->what, off);
    c->cur = c->end;
}

void lt_block_cursor_init(lt_block_cursor *c, const lt_block *b, lt_cmp_fn cmp) {
    c->block = b;
    c->data = b->data;
    c->end = b->end;
    c->nrestarts = b->nrestarts;
    c->cmp = cmp;
    c->cur = c->next = b->end;
    c->status = LT_OK;
    c->key = lt_slice_make(c->small, 0);
    c->value = lt_slice_make(c->small, 0);
    c->kbuf = c->small;
    c->kcap = sizeof c->small;
}

void lt_block_cursor_done(lt_block_cursor *c) {
    if (c->kbuf != c->small) free(c->kbuf);
    c->kbuf = c->small;
    c->kcap = sizeof c->small;
}

/* Make room for a key of `need` bytes whose first `shared` bytes are the current key's. */
static int grow_key(lt_block_cursor *c, size_t need, size_t shared) {
    size_t ncap = need < 256 ? 512 : 2 * need;
    char *nb = malloc(ncap);
    if (!nb) {
        c->status = lt_seterr(LT_ENOMEM, "%s: out of memory for a %zu-byte key",
                              c->block->what, need);
        c->cur = c->end;
        return 0;
    }
    if (shared) memcpy(nb, c->key.data, shared);
    if (c->kbuf != c->small) free(c->kbuf);
    c->kbuf = nb;
    c->kcap = ncap;
    c->key.data = nb;
    return 1;
}

/* Make the entry at `off` current (off == end: not valid). Returns 1 if valid. */
static inline __attribute__((always_inline)) int parse_at(lt_block_cursor *c, uint32_t off) {
    uint32_t shared, unshared, vlen;
    if (off >= c->end) {
        c->cur = c->end;
        return 0;
    }
    const char *p = decode_entry(c->data + off, c->data + c->end, &shared, &unshared, &vlen);
    if (!p || shared > c->key.size) {
        corrupt(c, off);
        return 0;
    }
    if (shared == 0) {
        c->key = lt_slice_make(p, unshared); /* whole key: no copy */
    } else {
        size_t need = (size_t)shared + unshared;
        if (need > c->kcap && !grow_key(c, need, shared)) return 0;
        if (c->key.data != c->kbuf) memcpy(c->kbuf, c->key.data, shared);
        memcpy(c->kbuf + shared, p, unshared);
        c->key = lt_slice_make(c->kbuf, need);
    }
    c->value = lt_slice_make(p + unshared, vlen);
    c->cur = off;
    c->next = (uint32_t)(p + unshared + vlen - c->data);
    return 1;
}

/* Position before the first entry of a restart run (the next parse starts it). */
static void start_run(lt_block_cursor *c) {
    c->key.size = 0;
}

void lt_block_cursor_seek_first(lt_block_cursor *c) {
    if (c->status || c->nrestarts == 0) { c->cur = c->end; return; }
    start_run(c);
    parse_at(c, 0);
}

void lt_block_cursor_seek_last(lt_block_cursor *c) {
    if (c->status || c->nrestarts == 0) { c->cur = c->end; return; }
    start_run(c);
    if (!parse_at(c, restart_at(c, c->nrestarts - 1))) return;
    while (c->next < c->end) {
        if (!parse_at(c, c->next)) return;
    }
}

void lt_block_cursor_seek(lt_block_cursor *c, lt_slice target) {
    if (c->status || c->nrestarts == 0) { c->cur = c->end; return; }
    /* Binary search for the last restart point whose key is < target. Restart keys
     * are stored whole, so they are compared in place. */
    uint32_t lo = 0, hi = c->nrestarts - 1;
    if (c->block->fence && c->cmp == lt_block_ikey_cmp && target.size >= 8) {
        fence_range(c->block, target, &lo, &hi);
    } else if (c->nrestarts <= 32) {
        /* A data block is usually cold in the CPU cache: ask for the lines of every
         * restart key at once (they then arrive together) instead of one miss per
         * bisection step. */
        for (uint32_t i = 0; i < c->nrestarts; i++)
            __builtin_prefetch(c->data + restart_at(c, i));
    }
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo + 1) / 2;
        uint32_t off = restart_at(c, mid), shared, unshared, vlen;
        const char *p = decode_entry(c->data + off, c->data + c->end, &shared, &unshared, &vlen);
        if (!p || shared != 0) {
            corrupt(c, off);
            return;
        }
        if (cursor_cmp(c, lt_slice_make(p, unshared), target) < 0) lo = mid;
        else hi = mid - 1;
    }
    start_run(c);
    if (!parse_at(c, restart_at(c, lo))) return;
    while (cursor_cmp(c, c->key, target) < 0) {
        if (!parse_at(c, c->next)) return;
    }
}

void lt_block_cursor_next(lt_block_cursor *c) {
    parse_at(c, c->next);
}

void lt_block_cursor_prev(lt_block_cursor *c) {
    uint32_t orig = c->cur;
    /* the last restart point before the current entry */
    uint32_t lo = 0, hi = c->nrestarts;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (restart_at(c, mid) < orig) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) { c->cur = c->end; return; } /* the first entry: nothing before it */
    uint32_t ri = lo - 1;
    start_run(c);
    if (!parse_at(c, restart_at(c, ri))) return;
    while (c->next < orig) {
        if (!parse_at(c, c->next)) return;
    }
    if (c->next != orig) corrupt(c, c->cur); /* entries overlap the one we came from */
}

/* ---- iterator ---------------------------------------------------------------------- */

typedef struct block_iter {
    lt_iter base;
    void (*release)(void *);
    void *arg;
    lt_block_cursor c; /* last: holds the inline key buffer */
} block_iter;

#define BI(it) (&((block_iter *)(it))->c)

static int bi_valid(lt_iter *it) { return lt_block_cursor_valid(BI(it)); }
static void bi_seek_first(lt_iter *it) { lt_block_cursor_seek_first(BI(it)); }
static void bi_seek_last(lt_iter *it) { lt_block_cursor_seek_last(BI(it)); }
static void bi_seek(lt_iter *it, lt_slice t) { lt_block_cursor_seek(BI(it), t); }
static void bi_next(lt_iter *it) { lt_block_cursor_next(BI(it)); }
static void bi_prev(lt_iter *it) { lt_block_cursor_prev(BI(it)); }
static lt_slice bi_key(lt_iter *it) { return BI(it)->key; }
static lt_slice bi_value(lt_iter *it) { return BI(it)->value; }
static int bi_status(lt_iter *it) { return BI(it)->status; }

static void bi_destroy(lt_iter *it) {
    block_iter *bi = (block_iter *)it;
    lt_block_cursor_done(&bi->c);
    if (bi->release) bi->release(bi->arg);
    free(bi);
}

static const lt_iter_vtbl block_iter_vtbl = {
    bi_valid, bi_seek_first, bi_seek_last, bi_seek, bi_next, bi_prev,
    bi_key, bi_value, bi_status, bi_destroy,
};

lt_iter *lt_block_iter(const lt_block *b, lt_cmp_fn cmp, void (*release)(void *), void *arg) {
    block_iter *bi = malloc(sizeof *bi);
    if (!bi) {
        lt_seterr(LT_ENOMEM, "%s: out of memory for an iterator", b->what);
        return NULL;
    }
    bi->base.v = &block_iter_vtbl;
    bi->release = release;
    bi->arg = arg;
    lt_block_cursor_init(&bi->c, b, cmp);
    return &bi->base;
}
