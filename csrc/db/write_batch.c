/* write_batch.c: building, combining and decoding write batches (format in
 * write_batch.h). Batches are plain byte strings so that the log record written at
 * commit is the batch itself, and recovery replays it with the same decoder. */
#include <stdlib.h>
#include "write_batch.h"
#include "dbformat.h"
#include "../util/coding.h"
#include "../util/status.h"

static int ensure_header(lt_batch *b) {
    if (b->rep.size >= LT_BATCH_HEADER) return LT_OK;
    int rc = lt_buf_reserve(&b->rep, LT_BATCH_HEADER);
    if (rc) return lt_seterr(rc, "batch: out of memory");
    memset(b->rep.data, 0, LT_BATCH_HEADER);
    b->rep.size = LT_BATCH_HEADER;
    return LT_OK;
}

int lt_batch_new(lt_batch **out) {
    lt_batch *b = calloc(1, sizeof *b);
    if (!b || ensure_header(b)) { free(b); return lt_seterr(LT_ENOMEM, "batch: out of memory"); }
    *out = b;
    return LT_OK;
}

void lt_batch_free(lt_batch *b) {
    if (!b) return;
    lt_buf_free(&b->rep);
    free(b);
}

void lt_batch_clear(lt_batch *b) {
    if (ensure_header(b) == LT_OK) {
        memset(b->rep.data, 0, LT_BATCH_HEADER);
        b->rep.size = LT_BATCH_HEADER;
    }
}

uint32_t lt_batch_count(const lt_batch *b) {
    return b->rep.size >= LT_BATCH_HEADER ? lt_get_fixed32(b->rep.data + 8) : 0;
}
size_t lt_batch_size(const lt_batch *b) { return b->rep.size; }
uint64_t lt_batch_seq(const lt_batch *b) { return lt_get_fixed64(b->rep.data); }
void lt_batch_set_seq(lt_batch *b, uint64_t seq) { lt_put_fixed64(b->rep.data, seq); }

static int check_sizes(size_t klen, size_t vlen) {
    if (klen > LT_MAX_KEY_SIZE)
        return lt_seterr(LT_EINVAL, "key of %zu bytes exceeds the limit of %u bytes", klen,
                         LT_MAX_KEY_SIZE);
    if (vlen > LT_MAX_VALUE_SIZE)
        return lt_seterr(LT_EINVAL, "value of %zu bytes exceeds the limit of %u bytes", vlen,
                         LT_MAX_VALUE_SIZE);
    return LT_OK;
}

static int add_record(lt_batch *b, int type, const void *key, size_t klen, const void *val,
                      size_t vlen) {
    int rc = check_sizes(klen, vlen);
    if (rc) return rc;
    if ((rc = ensure_header(b))) return rc;
    size_t before = b->rep.size;
    if (lt_buf_reserve(&b->rep, 1 + 2 * LT_MAX_VARINT32 + klen + vlen))
        return lt_seterr(LT_ENOMEM, "batch: out of memory");
    char *p = b->rep.data + b->rep.size;
    *p++ = (char)type;
    p = lt_put_varint32(p, (uint32_t)klen);
    if (klen) memcpy(p, key, klen);
    p += klen;
    if (type == LT_TYPE_VALUE) {
        p = lt_put_varint32(p, (uint32_t)vlen);
        if (vlen) memcpy(p, val, vlen);
        p += vlen;
    }
    b->rep.size = before + (size_t)(p - (b->rep.data + before));
    lt_put_fixed32(b->rep.data + 8, lt_batch_count(b) + 1);
    return LT_OK;
}

int lt_batch_put(lt_batch *b, const void *key, size_t klen, const void *val, size_t vlen) {
    return add_record(b, LT_TYPE_VALUE, key, klen, val, vlen);
}

int lt_batch_delete(lt_batch *b, const void *key, size_t klen) {
    return add_record(b, LT_TYPE_DELETION, key, klen, NULL, 0);
}

int lt_batch_put_packed(lt_batch *b, const void *buf, size_t len, size_t n) {
    const char *p = buf, *end = p + len;
    size_t before = b->rep.size;
    uint32_t count_before = lt_batch_count(b);
    for (size_t i = 0; i < n; i++) {
        if (end - p < 9) goto bad;
        int op = (unsigned char)p[0];
        uint32_t kl = lt_get_fixed32(p + 1), vl = lt_get_fixed32(p + 5);
        p += 9;
        if (op > 1 || (size_t)(end - p) < (size_t)kl + vl) goto bad;
        int rc = add_record(b, op ? LT_TYPE_VALUE : LT_TYPE_DELETION, p, kl, p + kl, vl);
        if (rc) { b->rep.size = before; lt_put_fixed32(b->rep.data + 8, count_before); return rc; }
        p += (size_t)kl + vl;
    }
    if (p != end) goto bad;
    return LT_OK;
bad:
    if (b->rep.size >= LT_BATCH_HEADER) {
        b->rep.size = before < LT_BATCH_HEADER ? LT_BATCH_HEADER : before;
        lt_put_fixed32(b->rep.data + 8, count_before);
    }
    return lt_seterr(LT_EINVAL, "batch: malformed packed buffer at record %zu", (size_t)0 + n);
}

int lt_batch_append(lt_batch *dst, const lt_batch *src) {
    int rc = ensure_header(dst);
    if (rc) return rc;
    if (src->rep.size <= LT_BATCH_HEADER) return LT_OK;
    if (lt_buf_append(&dst->rep, src->rep.data + LT_BATCH_HEADER, src->rep.size - LT_BATCH_HEADER))
        return lt_seterr(LT_ENOMEM, "batch: out of memory");
    lt_put_fixed32(dst->rep.data + 8, lt_batch_count(dst) + lt_batch_count(src));
    return LT_OK;
}

/* Walk the records of representation rep (at least the header), calling fn (if not
 * NULL) on each; LT_ECORRUPT if a record is malformed, the count does not match, or
 * the sequence numbers would pass LT_MAX_SEQ. */
static int walk(lt_slice rep, lt_batch_visitor fn, void *arg) {
    lt_slice in = lt_slice_make(rep.data + LT_BATCH_HEADER, rep.size - LT_BATCH_HEADER);
    uint64_t seq = lt_get_fixed64(rep.data);
    uint32_t count = lt_get_fixed32(rep.data + 8), found = 0;
    if (count > 0 && (seq > LT_MAX_SEQ || count - 1 > LT_MAX_SEQ - seq))
        return lt_seterr(LT_ECORRUPT, "malformed write batch (%u records from sequence %llu "
                         "pass the largest sequence number)", count, (unsigned long long)seq);
    while (in.size > 0) {
        int type = (unsigned char)in.data[0];
        in.data++; in.size--;
        lt_slice key, value = lt_slice_make("", 0);
        if (found == count || !lt_slice_get_lenprefixed(&in, &key)) goto bad;
        if (type == LT_TYPE_VALUE) {
            if (!lt_slice_get_lenprefixed(&in, &value)) goto bad;
        } else if (type != LT_TYPE_DELETION) {
            goto bad;
        }
        if (fn) {
            int rc = fn(arg, seq + found, type, key, value);
            if (rc) return rc;
        }
        found++;
    }
    if (found != count) goto bad;
    return LT_OK;
bad:
    return lt_seterr(LT_ECORRUPT, "malformed write batch (record %u of %u)", found, count);
}

int lt_batch_set_contents(lt_batch *b, lt_slice rep) {
    if (rep.size < LT_BATCH_HEADER) return lt_seterr(LT_ECORRUPT, "log record too small for a batch (%zu bytes)", rep.size);
    int rc = walk(rep, NULL, NULL);
    if (rc) return rc;
    b->rep.size = 0;
    if (lt_buf_append(&b->rep, rep.data, rep.size)) return lt_seterr(LT_ENOMEM, "batch: out of memory");
    return LT_OK;
}

int lt_batch_iterate(const lt_batch *b, lt_batch_visitor fn, void *arg) {
    if (b->rep.size < LT_BATCH_HEADER) return LT_OK;
    return walk(lt_slice_make(b->rep.data, b->rep.size), fn, arg);
}
