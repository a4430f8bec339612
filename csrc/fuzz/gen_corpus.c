/* gen_corpus.c: writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/)
 * with the engine's own writers, so that every seed is a real, valid file: logs of
 * write batches, manifests of version edits, tables with and without compression and
 * filters, blocks, bloom filter probes, batches. Usage: gen_corpus DIR (run by
 * `make fuzz-corpus`; the output is deterministic). Seeds stay a few KB each, except
 * one log whose record crosses the 32 KiB block boundary. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "../db/dbformat.h"
#include "../db/log.h"
#include "../db/log_format.h"
#include "../db/version_set.h"
#include "../db/write_batch.h"
#include "../table/block.h"
#include "../table/bloom.h"
#include "../table/table.h"
#include "../util/coding.h"
#include "../util/crc32c.h"
#include "../util/status.h"

static const char *root;

static void save(const char *target, const char *name, const void *data, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) fuzz_fail("mkdir %s", path);
    snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) fuzz_fail("writing %s", path);
}

/* The bytes of a file of the in-memory env, saved as a seed. */
static void save_file(const char *target, const char *name, const char *path) {
    char *data = NULL;
    size_t n = 0;
    if (lt_env_read_file(fuzz_env(), path, &data, &n)) fuzz_fail("%s", lt_errmsg());
    save(target, name, data, n);
    free(data);
}

static void ok(int rc) {
    if (rc != LT_OK) fuzz_fail("%d: %s", rc, lt_errmsg());
}

/* ---- batches and logs ------------------------------------------------------------ */

/* A batch of n records (every third a deletion), keys "key%03d", values of vlen. */
static lt_batch *make_batch(int n, uint64_t seq, size_t vlen) {
    lt_batch *b;
    ok(lt_batch_new(&b));
    char key[32], *val = malloc(vlen + 1);
    for (size_t i = 0; i < vlen; i++) val[i] = (char)('a' + i % 26);
    for (int i = 0; i < n; i++) {
        int kl = snprintf(key, sizeof key, "key%03d", i);
        if (i % 3 == 2) ok(lt_batch_delete(b, key, (size_t)kl));
        else ok(lt_batch_put(b, key, (size_t)kl, val, vlen));
    }
    lt_batch_set_seq(b, seq);
    free(val);
    return b;
}

static void gen_batches(void) {
    static const struct { int n; uint64_t seq; size_t vlen; } s[] = {
        {0, 1, 0}, {1, 1, 5}, {3, 100, 0}, {10, 7, 20}, {40, 1000000, 3}, {2, LT_MAX_SEQ - 1, 1},
    };
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        lt_batch *b = make_batch(s[i].n, s[i].seq, s[i].vlen);
        char name[32];
        snprintf(name, sizeof name, "batch-%zu", i);
        save("batch", name, b->rep.data, b->rep.size);
        lt_batch_free(b);
    }
}

/* A log of `nrec` batches of `per` records each. */
static void write_log(const char *name, int nrec, int per, size_t vlen) {
    lt_env *env = fuzz_env();
    lt_wfile *w;
    ok(env->v->new_writable(env, "/gen/log", &w));
    lt_log_writer *lw = lt_log_writer_new(w, 0);
    uint64_t seq = 1;
    for (int i = 0; i < nrec; i++) {
        lt_batch *b = make_batch(per, seq, vlen);
        ok(lt_log_add_record(lw, b->rep.data, b->rep.size));
        seq += (uint64_t)per;
        lt_batch_free(b);
    }
    lt_log_writer_free(lw);
    ok(lt_wclose(w));
    save_file("log", name, "/gen/log");
}

/* Fragments laid by hand (FIRST, MIDDLE, LAST within one block; a zero tail). */
static void put_fragment(lt_buf *out, int type, const char *p, size_t n) {
    char h[LT_LOG_HEADER_SIZE];
    h[4] = (char)(n & 0xff);
    h[5] = (char)(n >> 8);
    h[6] = (char)type;
    uint32_t crc = lt_crc32c_extend(lt_crc32c(h + 6, 1), p, n);
    lt_put_fixed32(h, lt_crc_mask(crc));
    ok(lt_buf_append(out, h, sizeof h));
    ok(lt_buf_append(out, p, n));
}

static void gen_logs(void) {
    save("log", "empty", "", 0);
    write_log("one", 1, 1, 10);
    write_log("several", 5, 3, 30);
    write_log("many-small", 40, 1, 2);
    write_log("cross-block", 4, 40, 300);     /* ~34 KB: records span a block end */
    lt_buf b = {0};
    put_fragment(&b, LT_LOG_FIRST, "abc", 3);
    put_fragment(&b, LT_LOG_MIDDLE, "def", 3);
    put_fragment(&b, LT_LOG_LAST, "gh", 2);
    put_fragment(&b, LT_LOG_FULL, "", 0);
    save("log", "fragments", b.data, b.size);
    ok(lt_buf_append(&b, "\0\0\0\0", 4));
    save("log", "zero-tail", b.data, b.size);
    put_fragment(&b, LT_LOG_FIRST, "torn", 4);
    save("log", "torn-first", b.data, b.size);
    lt_buf_free(&b);
}

/* ---- manifests ------------------------------------------------------------------- */

static void ikey(lt_buf *b, const char *user, uint64_t seq, int type) {
    b->size = 0;
    ok(lt_ikey_append(b, lt_slice_make(user, strlen(user)), seq, type));
}

static void add_file(lt_version_edit *e, int level, uint64_t num, const char *lo, const char *hi) {
    lt_buf a = {0}, z = {0};
    ikey(&a, lo, 10, LT_TYPE_VALUE);
    ikey(&z, hi, 5, LT_TYPE_DELETION);
    ok(lt_edit_add_file(e, level, num, 1000 + num, lt_slice_make(a.data, a.size),
                        lt_slice_make(z.data, z.size)));
    lt_buf_free(&a);
    lt_buf_free(&z);
}

static void add_record(lt_log_writer *lw, lt_version_edit *e) {
    lt_buf rec = {0};
    ok(lt_edit_encode(e, &rec));
    ok(lt_log_add_record(lw, rec.data, rec.size));
    lt_buf_free(&rec);
    lt_edit_free(e);
    lt_edit_init(e);
}

static void gen_manifests(void) {
    lt_env *env = fuzz_env();
    for (int variant = 0; variant < 4; variant++) {
        lt_wfile *w;
        ok(env->v->new_writable(env, "/gen/manifest", &w));
        lt_log_writer *lw = lt_log_writer_new(w, 0);
        lt_version_edit e;
        lt_edit_init(&e);
        e.has_log_number = 1; e.log_number = 3;
        e.has_next_file = 1; e.next_file = 20;
        e.has_last_seq = 1; e.last_seq = 500;
        if (variant >= 1) {
            add_file(&e, 0, 5, "a", "m");
            add_file(&e, 0, 6, "c", "z");
            add_file(&e, 1, 7, "a", "f");
            add_file(&e, 1, 8, "g", "k");
        }
        add_record(lw, &e);
        if (variant >= 2) {      /* a compaction: level 0 into level 1 */
            lt_edit_delete_file(&e, 0, 5);
            lt_edit_delete_file(&e, 0, 6);
            lt_edit_delete_file(&e, 1, 7);
            add_file(&e, 1, 9, "a", "e");
            add_file(&e, 2, 10, "p", "zz");
            lt_buf cp = {0};
            ikey(&cp, "e", 3, LT_TYPE_VALUE);
            ok(lt_edit_set_compact_pointer(&e, 1, lt_slice_make(cp.data, cp.size)));
            lt_buf_free(&cp);
            e.has_last_seq = 1; e.last_seq = 900;
            add_record(lw, &e);
        }
        if (variant >= 3) {      /* many small edits */
            for (int i = 0; i < 10; i++) {
                char lo[16], hi[16];
                snprintf(lo, sizeof lo, "k%02d", i);
                snprintf(hi, sizeof hi, "k%02d~", i);
                add_file(&e, 3, 30 + (uint64_t)i, lo, hi);
                e.has_next_file = 1; e.next_file = 41 + (uint64_t)i;
                add_record(lw, &e);
            }
        }
        lt_edit_free(&e);
        lt_log_writer_free(lw);
        ok(lt_wclose(w));
        char name[32];
        snprintf(name, sizeof name, "manifest-%d", variant);
        save_file("manifest", name, "/gen/manifest");
    }
}

/* ---- tables, blocks, filters ----------------------------------------------------- */

static void gen_table(const char *name, int n, size_t vlen, size_t block_size, int restart,
                      int bloom, const lt_codec *codec) {
    lt_env *env = fuzz_env();
    lt_table_options o = { block_size, restart, bloom, codec };
    lt_wfile *w;
    ok(env->v->new_writable(env, "/gen/table", &w));
    lt_table_builder *tb = lt_table_builder_new(&o, w);
    lt_buf k = {0};
    char user[32], *val = malloc(vlen + 1);
    for (size_t i = 0; i < vlen; i++) val[i] = (char)('A' + i % 7);  /* compressible */
    for (int i = 0; i < n; i++) {
        snprintf(user, sizeof user, "user%05d", i * 3);
        ikey(&k, user, (uint64_t)(n - i), i % 5 == 4 ? LT_TYPE_DELETION : LT_TYPE_VALUE);
        ok(lt_table_builder_add(tb, lt_slice_make(k.data, k.size), lt_slice_make(val, vlen)));
    }
    ok(lt_table_builder_finish(tb));
    lt_table_builder_free(tb);
    ok(lt_wclose(w));
    lt_buf_free(&k);
    free(val);
    save_file("table", name, "/gen/table");
}

static void gen_tables(void) {
    const lt_codec *zstd = fuzz_zstd();
    gen_table("empty", 0, 0, 4096, 16, 10, NULL);
    gen_table("one", 1, 5, 4096, 16, 10, NULL);
    gen_table("small-blocks", 60, 8, 128, 4, 10, NULL);   /* >= 16 index entries: fence */
    gen_table("no-filter", 30, 20, 512, 16, 0, NULL);
    gen_table("restart-1", 20, 3, 4096, 1, 10, NULL);
    if (!zstd) return;
    gen_table("zstd", 40, 60, 1024, 16, 10, zstd);
    gen_table("zstd-small-blocks", 80, 30, 200, 8, 10, zstd);
}

static void gen_block(const char *name, int n, int restart, int internal) {
    lt_block_builder *bb = lt_block_builder_new(restart);
    lt_buf k = {0};
    char user[32];
    for (int i = 0; i < n; i++) {
        snprintf(user, sizeof user, "prefix/%04d", i * 7);
        if (internal) ikey(&k, user, 100, LT_TYPE_VALUE);
        else { k.size = 0; ok(lt_buf_append(&k, user, strlen(user))); }
        ok(lt_block_builder_add(bb, lt_slice_make(k.data, k.size), lt_slice_make("v", (size_t)(i % 3))));
    }
    lt_slice s = lt_block_builder_finish(bb);
    save("block", name, s.data, s.size);
    lt_block_builder_free(bb);
    lt_buf_free(&k);
}

static void gen_blocks(void) {
    gen_block("empty", 0, 16, 1);
    gen_block("one", 1, 16, 1);
    gen_block("restart-16", 50, 16, 1);
    gen_block("restart-1", 40, 1, 1);      /* an index block's shape: the fence is built */
    gen_block("restart-2", 20, 2, 1);
    gen_block("bytewise", 30, 4, 0);
}

static void gen_blooms(void) {
    static const char *const keys[] = { "apple", "banana", "cherry", "date", "elder", "fig" };
    for (int variant = 0; variant < 4; variant++) {
        int bits = variant == 0 ? 1 : variant * 8;
        size_t n = variant == 3 ? 0 : 6;
        lt_slice ks[6];
        for (size_t i = 0; i < 6; i++) ks[i] = lt_slice_make(keys[i], strlen(keys[i]));
        lt_buf out = {0};
        const char *probe = variant & 1 ? "banana" : "zucchini";
        ok(lt_buf_append_byte(&out, (unsigned char)strlen(probe)));
        ok(lt_buf_append(&out, probe, strlen(probe)));
        ok(lt_bloom_build(ks, n, bits, &out));
        char name[32];
        snprintf(name, sizeof name, "filter-%d", variant);
        save("bloom", name, out.data, out.size);
        lt_buf_free(&out);
    }
    static const char keys_in[] = "\x0a" "one\ntwo\nthree\nfour";
    save("bloom", "keys", keys_in, sizeof keys_in - 1);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus DIR\n");
        return 2;
    }
    root = argv[1];
    if (mkdir(root, 0755) != 0 && errno != EEXIST) fuzz_fail("mkdir %s", root);
    gen_batches();
    gen_logs();
    gen_manifests();
    gen_tables();
    gen_blocks();
    gen_blooms();
    if (!fuzz_zstd()) fprintf(stderr, "gen_corpus: libzstd.so.1 not found: no compressed tables\n");
    return 0;
}
