"""Build script for the cffi extension `lightning._lightning_ffi`: compiles the C engine
in csrc/ (out-of-line API mode) and declares the part of lightning.h Python uses.

Run by setuptools through `cffi_modules` in setup.py; paths are relative to the project
root. LIGHTNING_SANITIZE=1 builds with AddressSanitizer and UndefinedBehaviorSanitizer.
"""

import glob
import os

from cffi import FFI

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _rel(path):
    """`path` relative to the current directory (setuptools runs us from the root)."""
    return os.path.relpath(path, os.getcwd())


def _engine_sources():
    """Every .c file of the engine's library folders, sorted (tests/ excluded)."""
    found = []
    for sub in ("util", "env", "db", "table"):
        found.extend(glob.glob(os.path.join(_ROOT, "csrc", sub, "*.c")))
    return sorted(_rel(p) for p in found)


CDEF = r"""
#define LT_OK ...
#define LT_ENOTFOUND ...
#define LT_ECORRUPT ...
#define LT_EIO ...
#define LT_EINVAL ...
#define LT_ENOMEM ...
#define LT_ELOCKED ...
#define LT_EREADONLY ...
#define LT_ECLOSED ...
#define LT_ECONFLICT ...
#define LT_ENOENT ...
#define LT_EVERSION ...
#define LT_ENOSPC ...
#define LT_EBUSY ...
#define LT_EFORKED ...

#define LT_MAX_KEY_SIZE ...
#define LT_MAX_VALUE_SIZE ...

#define LT_SYNC_OFF ...
#define LT_SYNC_NORMAL ...
#define LT_SYNC_FULL ...

#define LT_FAULT_APPEND ...
#define LT_FAULT_SYNC ...
#define LT_FAULT_SYNC_DIR ...
#define LT_FAULT_RENAME ...
#define LT_FAULT_CREATE ...
#define LT_FAULT_REMOVE ...
#define LT_FAULT_TRUNCATE ...
#define LT_FAULT_MKDIR ...
#define LT_FAULT_ALL ...
#define LT_FAULT_STICKY ...
#define LT_FAULT_PARTIAL ...

const char *lt_errmsg(void);
const char *lt_strerror(int code);

typedef struct lt_codec {
    void  *(*create_cctx)(void);
    size_t (*free_cctx)(void *cctx);
    size_t (*compress)(void *cctx, void *dst, size_t dst_cap,
                       const void *src, size_t src_len, int level);
    void  *(*create_dctx)(void);
    size_t (*free_dctx)(void *dctx);
    size_t (*decompress)(void *dctx, void *dst, size_t dst_cap,
                         const void *src, size_t src_len);
    unsigned (*is_error)(size_t result);
    size_t (*compress_bound)(size_t src_len);
    int level;
} lt_codec;

typedef struct lt_env lt_env;
lt_env *lt_env_posix(void);
int  lt_env_mem_new(lt_env **out);
int  lt_env_fault_new(lt_env *base, lt_env **out);
int  lt_env_fault_drop_unsynced(lt_env *fault);
int  lt_env_fault_fail(lt_env *fault, unsigned ops, uint64_t n, int err, unsigned flags);
int  lt_env_fault_fail_write(lt_env *fault, uint64_t n, int err);
uint64_t lt_env_fault_count(lt_env *fault, unsigned ops);
uint64_t lt_env_fault_injected(lt_env *fault);
uint64_t lt_env_fault_syncs(lt_env *fault);
void lt_env_free(lt_env *env);

typedef struct lt_options {
    int      create;
    int      error_if_exists;
    int      read_only;
    int      sync;
    uint32_t sync_interval_ms;
    size_t   cache_size;
    size_t   memtable_size;
    size_t   block_size;
    size_t   table_size;
    size_t   level1_size;
    int      l0_compaction_trigger;
    int      l0_slowdown_trigger;
    int      l0_stop_trigger;
    int      bloom_bits_per_key;
    int      background_compaction;
    const lt_codec *codec;
    lt_env  *env;
    int      wal_recovery;
} lt_options;
#define LT_WAL_STRICT ...
#define LT_WAL_POINT_IN_TIME ...

void lt_options_init(lt_options *o);

typedef struct lt_db lt_db;
typedef struct lt_snapshot lt_snapshot;
typedef struct lt_batch lt_batch;
typedef struct lt_iterator lt_iterator;

int  lt_db_open(const char *path, const lt_options *opt, lt_db **out);
int  lt_db_close(lt_db *db);
int  lt_db_crash(lt_db *db);
void lt_db_free(lt_db *db);

/* Keys and values are declared `const char *` (the header says `const void *`) so
 * that Python bytes pass without a copy or a from_buffer call. */
int  lt_get(lt_db *db, lt_snapshot *snap, const char *key, size_t klen,
            const char **val, size_t *vlen);
int  lt_put(lt_db *db, const char *key, size_t klen, const char *val, size_t vlen);
int  lt_delete(lt_db *db, const char *key, size_t klen);

int  lt_batch_new(lt_batch **out);
int  lt_batch_put(lt_batch *b, const char *key, size_t klen, const char *val, size_t vlen);
int  lt_batch_delete(lt_batch *b, const char *key, size_t klen);
int  lt_batch_put_packed(lt_batch *b, const char *buf, size_t len, size_t n);
uint32_t lt_batch_count(const lt_batch *b);
size_t lt_batch_size(const lt_batch *b);
void lt_batch_clear(lt_batch *b);
void lt_batch_free(lt_batch *b);

typedef int (*lt_validate_fn)(void *arg, uint64_t last_seq);
int  lt_write(lt_db *db, lt_batch *b, lt_validate_fn validate, void *arg, uint64_t *seq);

int  lt_snapshot_new(lt_db *db, lt_snapshot **out);
uint64_t lt_snapshot_seq(const lt_snapshot *s);
int  lt_snapshot_release(lt_snapshot *s);
void lt_snapshot_free(lt_snapshot *s);

int  lt_iter_new(lt_db *db, lt_snapshot *snap,
                 const char *start, size_t slen, const char *end, size_t elen,
                 int reverse, lt_iterator **out);
int  lt_iter_next_batch(lt_iterator *it, char *buf, size_t cap, size_t max_items,
                        size_t *n_items, size_t *used);
int  lt_iter_close(lt_iterator *it);
void lt_iter_free(lt_iterator *it);

int  lt_db_flush(lt_db *db);
int  lt_db_compact(lt_db *db, const char *start, size_t slen, const char *end, size_t elen);
int  lt_db_stats(lt_db *db, char *buf, size_t cap, size_t *needed);
int  lt_db_repair(const char *path, const lt_options *opt, char *report, size_t cap,
                  size_t *needed);

/* Binding helpers (defined below in SOURCE). */
int64_t ltpy_get(lt_db *db, lt_snapshot *snap, const char *key, size_t klen,
                 const char **val);
int  ltpy_iter_next_batch(lt_iterator *it, char *buf, size_t cap, size_t max_items,
                          size_t *n_items, size_t *used,
                          char *fmt, size_t fmt_cap, size_t *fmt_len);
#define LTPY_FMT_PER_ITEM ...
void ltpy_pack_puts(const char *keys, const uint32_t *klens, const char *vals,
                    const uint32_t *vlens, size_t n, char *out);
"""

# Two small helpers save work on the hot paths. ltpy_get returns the value length or
# the error code as one integer (no out-parameter to read back). ltpy_iter_next_batch
# saves Python a bytecode loop per scanned entry: after filling the batch buffer it
# writes a struct format ("<8x3s5s8x4s0s...") describing the entries, so one
# Struct.unpack_from call turns the whole buffer into keys and values at C speed.
SOURCE = r"""
#include <string.h>
#include "lightning.h"

/* Bytes of format per entry at most: "8x" + 10 digits + "s" + 10 digits + "s". */
#define LTPY_FMT_PER_ITEM 24

/* lt_get returning the value length (>= 0) on success, else the LT_E* code (< 0;
 * LT_ENOTFOUND when absent). Value lengths are at most LT_MAX_VALUE_SIZE. */
static int64_t ltpy_get(lt_db *db, lt_snapshot *snap, const char *key, size_t klen,
                        const char **val) {
    size_t vlen = 0;
    int rc = lt_get(db, snap, key, klen, val, &vlen);
    return rc == LT_OK ? (int64_t)vlen : (int64_t)rc;
}

/* Interleave n puts given as two blobs and two length arrays into lt_batch_put_packed's
 * record format (u8 op | u32le klen | u32le vlen | key | value), so Batch.put_many
 * spends no Python bytecode per item. REQUIRES: out holds 9 * n + the blobs' sizes. */
static void ltpy_pack_puts(const char *keys, const uint32_t *klens, const char *vals,
                           const uint32_t *vlens, size_t n, char *out) {
    for (size_t i = 0; i < n; i++) {
        uint32_t kl = klens[i], vl = vlens[i];
        *out++ = 1;
        for (int b = 0; b < 4; b++) *out++ = (char)(kl >> (8 * b));
        for (int b = 0; b < 4; b++) *out++ = (char)(vl >> (8 * b));
        memcpy(out, keys, kl); out += kl; keys += kl;
        memcpy(out, vals, vl); out += vl; vals += vl;
    }
}

static uint32_t ltpy_le32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static char *ltpy_utoa(char *p, uint32_t v) {
    char tmp[10];
    int n = 0;
    do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (n) *p++ = tmp[--n];
    return p;
}

/* The struct format ("<8x{kl}s{vl}s..." for each entry) of a filled batch buffer of n
 * entries and `used` bytes, so Python splits it with one unpack_from. Returns LT_OK,
 * or -1 for a too-small fmt or entries that do not add up to `used`: never an
 * out-of-bounds read. */
static int ltpy_batch_format(const char *buf, size_t n, size_t used, size_t max_items,
                             char *fmt, size_t fmt_cap, size_t *fmt_len) {
    size_t pos = 0;
    char *f = fmt;
    if (fmt_cap < 1 + (size_t)LTPY_FMT_PER_ITEM * max_items || n > max_items) return -1;
    *f++ = '<';
    for (size_t i = 0; i < n; i++) {
        if (used - pos < 8) return -1;
        uint32_t kl = ltpy_le32((const unsigned char *)buf + pos);
        uint32_t vl = ltpy_le32((const unsigned char *)buf + pos + 4);
        pos += 8;
        if ((uint64_t)used - pos < (uint64_t)kl + vl) return -1;
        pos += (size_t)kl + vl;
        *f++ = '8'; *f++ = 'x';
        f = ltpy_utoa(f, kl); *f++ = 's';
        f = ltpy_utoa(f, vl); *f++ = 's';
    }
    if (pos != used) return -1;
    *fmt_len = (size_t)(f - fmt);
    return LT_OK;
}

/* lt_iter_next_batch, then the struct format of the entries (ltpy_batch_format).
 * Returns the engine's code, or -1 (no engine message) for a malformed batch. */
static int ltpy_iter_next_batch(lt_iterator *it, char *buf, size_t cap, size_t max_items,
                                size_t *n_items, size_t *used,
                                char *fmt, size_t fmt_cap, size_t *fmt_len) {
    *fmt_len = 0;
    if (fmt_cap < 1 + (size_t)LTPY_FMT_PER_ITEM * max_items) return -1;
    int rc = lt_iter_next_batch(it, buf, cap, max_items, n_items, used);
    if (rc != LT_OK || *n_items == 0) return rc;   /* the end, or "retry bigger" */
    return ltpy_batch_format(buf, *n_items, *used, max_items, fmt, fmt_cap, fmt_len);
}
"""

# ---- transactions (lightning.h "transactions"; used by lightning/transaction.py) ----
CDEF += r"""
#define LT_TXN_SNAPSHOT ...
#define LT_TXN_SERIALIZABLE ...
#define LT_TXN_DEFAULT_MAX_WRITE_BYTES ...
typedef struct lt_txn lt_txn;
typedef struct lt_txn_iter lt_txn_iter;
int  lt_txn_begin(lt_db *db, int isolation, int read_only, size_t max_write_bytes,
                  lt_txn **out);
uint64_t lt_txn_snapshot_seq(const lt_txn *t);
int  lt_txn_get(lt_txn *t, const char *key, size_t klen, const char **val, size_t *vlen);
int  lt_txn_put(lt_txn *t, const char *key, size_t klen, const char *val, size_t vlen);
int  lt_txn_delete(lt_txn *t, const char *key, size_t klen);
int  lt_txn_insert(lt_txn *t, const char *key, size_t klen, const char *val, size_t vlen);
int  lt_txn_savepoint(lt_txn *t, uint64_t *id);
int  lt_txn_rollback_to(lt_txn *t, uint64_t id);
int  lt_txn_release(lt_txn *t, uint64_t id);
int  lt_txn_commit(lt_txn *t, uint64_t *seq);
int  lt_txn_rollback(lt_txn *t);
void lt_txn_free(lt_txn *t);
uint64_t lt_txn_write_count(const lt_txn *t);
int  lt_txn_iter_new(lt_txn *t, const char *start, size_t slen, const char *end,
                     size_t elen, int reverse, lt_txn_iter **out);
int  lt_txn_iter_next_batch(lt_txn_iter *it, char *buf, size_t cap, size_t max_items,
                            size_t *n_items, size_t *used);
int  lt_txn_iter_close(lt_txn_iter *it);
void lt_txn_iter_free(lt_txn_iter *it);
int  lt_txn_get_ex(lt_txn *t, const char *key, size_t klen, int flags, const char **val,
                   size_t *vlen);
int  lt_txn_scan(lt_txn *t, const char *start, size_t slen, const char *end, size_t elen,
                 int reverse, char *buf, size_t cap, size_t max_items, size_t *n_items,
                 size_t *used, int *finished);

int64_t ltpy_txn_get(lt_txn *t, const char *key, size_t klen, const char **val);
int  ltpy_txn_put_many(lt_txn *t, const char *keys, const uint32_t *klens,
                       const char *vals, const uint32_t *vlens,
                       const unsigned char *absent, size_t n, int64_t *stopped);
int  ltpy_txn_iter_next_batch(lt_txn_iter *it, char *buf, size_t cap, size_t max_items,
                              size_t *n_items, size_t *used,
                              char *fmt, size_t fmt_cap, size_t *fmt_len);
"""

# The same two helpers for transactions: lt_txn_get returning the length or the
# error code, and a batch fill that also writes the entries' struct format.
SOURCE += r"""
static int64_t ltpy_txn_get(lt_txn *t, const char *key, size_t klen, const char **val) {
    size_t vlen = 0;
    int rc = lt_txn_get(t, key, klen, val, &vlen);
    return rc == LT_OK ? (int64_t)vlen : (int64_t)rc;
}

/* Put n pairs, given as two blobs and two length arrays, into the transaction in
 * order: SQL INSERT's keys for many rows in one call. When `absent` is not NULL and
 * absent[i] is nonzero, pair i is written with lt_txn_insert: if its key exists (a
 * read validated under serializable like lt_txn_get), the call stops before writing
 * it: *stopped = i and LT_OK is returned (pairs before i stay written; the caller
 * undoes the statement). Otherwise *stopped = -1. Returns LT_OK or the first error
 * code of lt_txn_insert / lt_txn_put (*stopped then names the failing pair). */
static int ltpy_txn_put_many(lt_txn *t, const char *keys, const uint32_t *klens,
                             const char *vals, const uint32_t *vlens,
                             const unsigned char *absent, size_t n, int64_t *stopped) {
    *stopped = -1;
    for (size_t i = 0; i < n; i++) {
        uint32_t kl = klens[i], vl = vlens[i];
        int rc;
        if (absent && absent[i]) rc = lt_txn_insert(t, keys, kl, vals, vl);
        else rc = lt_txn_put(t, keys, kl, vals, vl);
        if (rc != LT_OK) { *stopped = (int64_t)i; return rc == LT_EEXISTS ? LT_OK : rc; }
        keys += kl;
        vals += vl;
    }
    return LT_OK;
}

static int ltpy_txn_iter_next_batch(lt_txn_iter *it, char *buf, size_t cap,
                                    size_t max_items, size_t *n_items, size_t *used,
                                    char *fmt, size_t fmt_cap, size_t *fmt_len) {
    *fmt_len = 0;
    if (fmt_cap < 1 + (size_t)LTPY_FMT_PER_ITEM * max_items) return -1;
    int rc = lt_txn_iter_next_batch(it, buf, cap, max_items, n_items, used);
    if (rc != LT_OK || *n_items == 0) return rc;
    return ltpy_batch_format(buf, *n_items, *used, max_items, fmt, fmt_cap, fmt_len);
}
"""


def _build():
    ffi = FFI()
    ffi.cdef(CDEF)
    if os.environ.get("LIGHTNING_SANITIZE") == "1":
        opt = ["-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined",
               "-fno-sanitize-recover=all"]
        link = ["-fsanitize=address,undefined"]
    else:
        opt = ["-O2"]
        link = []
    ffi.set_source(
        "lightning._lightning_ffi",
        SOURCE,
        sources=_engine_sources(),
        include_dirs=[_rel(os.path.join(_ROOT, "csrc", "include"))],
        extra_compile_args=["-std=c11", "-D_GNU_SOURCE", *opt, "-Wall", "-Wextra"],
        extra_link_args=link,
        libraries=["pthread"],
    )
    return ffi


ffibuilder = _build()

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
