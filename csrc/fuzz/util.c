/* util.c: the helpers of fuzz.h: the in-memory env holding fuzzed files, a zstd codec
 * loaded at run time, and checksum repair for logs and tables. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../db/log_format.h"
#include "../table/block.h"
#include "../table/format.h"
#include "../util/coding.h"
#include "../util/crc32c.h"
#include "../util/status.h"

void fuzz_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz: broken promise: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

lt_env *fuzz_env(void) {
    static lt_env *env;
    if (!env && lt_env_mem_new(&env) != LT_OK) fuzz_fail("lt_env_mem_new: %s", lt_errmsg());
    return env;
}

void fuzz_write_file(const char *path, const void *data, size_t n) {
    lt_env *env = fuzz_env();
    lt_wfile *w = NULL;
    if (env->v->new_writable(env, path, &w) || (n && lt_wappend(w, data, n)) || lt_wclose(w))
        fuzz_fail("writing %s: %s", path, lt_errmsg());
}

lt_rfile *fuzz_open_file(const char *path, const void *data, size_t n) {
    lt_env *env = fuzz_env();
    lt_rfile *f = NULL;
    fuzz_write_file(path, data, n);
    if (env->v->new_readable(env, path, &f)) fuzz_fail("opening %s: %s", path, lt_errmsg());
    return f;
}

/* The sum of every byte read, kept so the reads cannot be optimised away. */
volatile unsigned fuzz_sink;

void fuzz_touch(lt_slice s) {
    unsigned x = 0;
    for (size_t i = 0; i < s.size; i++) x += (unsigned char)s.data[i];
    fuzz_sink += x;
}

/* ---- zstd through dlopen (no headers or link-time dependency needed) ------------- */

static struct {
    void *(*create_cctx)(void);
    size_t (*free_cctx)(void *);
    size_t (*compress)(void *, void *, size_t, const void *, size_t, int);
    void *(*create_dctx)(void);
    size_t (*free_dctx)(void *);
    size_t (*decompress)(void *, void *, size_t, const void *, size_t);
    unsigned (*is_error)(size_t);
    size_t (*bound)(size_t);
} zf;

static void *z_create_cctx(void) { return zf.create_cctx(); }
static size_t z_free_cctx(void *c) { return zf.free_cctx(c); }
static size_t z_compress(void *c, void *d, size_t cap, const void *s, size_t n, int level) {
    return zf.compress(c, d, cap, s, n, level);
}
static void *z_create_dctx(void) { return zf.create_dctx(); }
static size_t z_free_dctx(void *d) { return zf.free_dctx(d); }
static size_t z_decompress(void *d, void *dst, size_t cap, const void *s, size_t n) {
    return zf.decompress(d, dst, cap, s, n);
}
static unsigned z_is_error(size_t r) { return zf.is_error(r); }
static size_t z_bound(size_t n) { return zf.bound(n); }

static const lt_codec zstd_codec = {
    z_create_cctx, z_free_cctx, z_compress, z_create_dctx, z_free_dctx, z_decompress,
    z_is_error, z_bound, 3,
};

const lt_codec *fuzz_zstd(void) {
    static int tried;
    static const lt_codec *codec;
    if (tried) return codec;
    tried = 1;
    void *h = dlopen("libzstd.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) return NULL;
    static const char *const names[] = {
        "ZSTD_createCCtx", "ZSTD_freeCCtx", "ZSTD_compressCCtx", "ZSTD_createDCtx",
        "ZSTD_freeDCtx", "ZSTD_decompressDCtx", "ZSTD_isError", "ZSTD_compressBound",
    };
    void *syms[8];
    for (int i = 0; i < 8; i++)
        if (!(syms[i] = dlsym(h, names[i]))) return NULL;
    /* POSIX guarantees that dlsym's object pointers convert to function pointers. */
    memcpy(&zf.create_cctx, &syms[0], sizeof syms[0]);
    memcpy(&zf.free_cctx, &syms[1], sizeof syms[1]);
    memcpy(&zf.compress, &syms[2], sizeof syms[2]);
    memcpy(&zf.create_dctx, &syms[3], sizeof syms[3]);
    memcpy(&zf.free_dctx, &syms[4], sizeof syms[4]);
    memcpy(&zf.decompress, &syms[5], sizeof syms[5]);
    memcpy(&zf.is_error, &syms[6], sizeof syms[6]);
    memcpy(&zf.bound, &syms[7], sizeof syms[7]);
    codec = &zstd_codec;
    return codec;
}

/* ---- checksum repair ------------------------------------------------------------- */

void fuzz_repair_log(uint8_t *buf, size_t n) {
    size_t block = 0;
    while (block < n) {
        size_t end = block + LT_LOG_BLOCK_SIZE < n ? block + LT_LOG_BLOCK_SIZE : n;
        size_t pos = block;
        while (end - pos >= LT_LOG_HEADER_SIZE) {
            uint8_t *h = buf + pos;
            size_t len = (size_t)h[4] | ((size_t)h[5] << 8);
            if (LT_LOG_HEADER_SIZE + len > end - pos) break;
            lt_put_fixed32((char *)h, lt_crc_mask(lt_crc32c(h + 6, 1 + len)));
            pos += LT_LOG_HEADER_SIZE + len;
        }
        block += LT_LOG_BLOCK_SIZE;
    }
}

/* Fix the trailer of block h if it lies inside [0, limit); returns its type byte or
 * -1 if it does not fit. */
void fuzz_check_log_input(const uint8_t *data, size_t size,
                          void (*check)(const uint8_t *data, size_t size)) {
    check(data, size);
    uint8_t *fixed = malloc(size ? size : 1);
    if (!fixed) return;
    memcpy(fixed, data, size);
    fuzz_repair_log(fixed, size);
    if (memcmp(fixed, data, size) != 0) check(fixed, size);
    free(fixed);
}

static int repair_block(uint8_t *buf, size_t limit, const lt_block_handle *h) {
    if (h->size > limit || h->offset > limit - h->size ||
        limit - h->size - h->offset < LT_BLOCK_TRAILER_SIZE)
        return -1;
    uint8_t *p = buf + h->offset;
    size_t sz = (size_t)h->size;
    uint32_t crc = lt_crc32c_extend(lt_crc32c(p, sz), p + sz, 1);
    lt_put_fixed32((char *)p + sz + 1, lt_crc_mask(crc));
    return p[sz];
}

void fuzz_repair_table(uint8_t *buf, size_t n) {
    lt_block_handle fh, ih;
    if (n < LT_FOOTER_SIZE) return;
    size_t limit = n - LT_FOOTER_SIZE;
    if (lt_footer_decode((const char *)buf + limit, "fuzz", &fh, &ih) != LT_OK) return;
    if (fh.size > 0) repair_block(buf, limit, &fh);
    if (repair_block(buf, limit, &ih) != LT_COMPRESS_NONE) return;
    /* Walk the raw index block's entries for the data block handles (a bounded
     * number: the repair must stay cheap). The block is parsed from a copy, as data
     * blocks being repaired may overlap it. */
    char *copy = malloc(ih.size ? (size_t)ih.size : 1);
    if (!copy) return;
    memcpy(copy, buf + ih.offset, (size_t)ih.size);
    lt_block *b = NULL;
    if (lt_block_new(copy, (size_t)ih.size, 1, "fuzz index", &b) != LT_OK) return;
    lt_block_cursor c;
    lt_block_cursor_init(&c, b, lt_block_ikey_cmp);
    lt_block_cursor_seek_first(&c);
    for (int i = 0; i < 4096 && lt_block_cursor_valid(&c); i++) {
        lt_block_handle dh;
        lt_slice v = c.value;
        if (lt_block_handle_decode(&v, &dh)) repair_block(buf, limit, &dh);
        lt_block_cursor_next(&c);
    }
    lt_block_cursor_done(&c);
    lt_block_free(b);
}
