/* test_log.c: tests of the record log writer and reader on the memory env: round trips
 * of many records across block boundaries, every way a block tail can end, the log cut
 * at every offset of a range (torn tails), flipped bytes (damage), an empty file,
 * zero-filled tails, reopening for append, and the writer's latch after a failure; how
 * reading ended (torn tail, damage with records after it) and resuming after damage. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../db/log.h"
#include "../db/log_format.h"
#include "../env/env.h"
#include "../util/status.h"
#include "testutil.h"

#define MAXREC 400

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A log of n records with the given sizes; record i is bytes of value (i * 31 + j). */
typedef struct log_img {
    size_t n;
    size_t size[MAXREC];
    uint64_t end[MAXREC]; /* writer offset after record i */
    char *file;           /* the whole log */
    size_t file_len;
} log_img;

static void fill(char *p, size_t i, size_t n) {
    for (size_t j = 0; j < n; j++) p[j] = (char)(i * 31 + j + j / 256);
}

static int write_log(lt_env *env, const char *path, log_img *img) {
    lt_wfile *w;
    int rc = env->v->new_writable(env, path, &w);
    if (rc) return rc;
    lt_log_writer *lw = lt_log_writer_new(w, 0);
    size_t maxsz = 1;
    for (size_t i = 0; i < img->n; i++) if (img->size[i] > maxsz) maxsz = img->size[i];
    char *buf = malloc(maxsz);
    for (size_t i = 0; rc == LT_OK && i < img->n; i++) {
        fill(buf, i, img->size[i]);
        rc = lt_log_add_record(lw, buf, img->size[i]);
        img->end[i] = lt_log_writer_offset(lw);
    }
    free(buf);
    lt_log_writer_free(lw);
    int c = lt_wclose(w);
    if (rc == LT_OK) rc = c;
    if (rc == LT_OK) rc = lt_env_read_file(env, path, &img->file, &img->file_len);
    return rc;
}

static int put_bytes(lt_env *env, const char *path, const char *p, size_t n) {
    lt_wfile *w;
    int rc = env->v->new_writable(env, path, &w);
    if (rc) return rc;
    rc = lt_wappend(w, p, n);
    int c = lt_wclose(w);
    return rc ? rc : c;
}

/* Read `path` and check it yields exactly records 0..want-1 of img, then the end with
 * the expected bad_tail and last_good. Returns 1 if all matched. */
static int read_check(lt_env *env, const char *path, const log_img *img, size_t want,
                      int want_bad, uint64_t want_last_good) {
    lt_rfile *f;
    if (env->v->new_readable(env, path, &f) != LT_OK) return 0;
    lt_log_reader *r = lt_log_reader_new(f, path);
    size_t i = 0;
    lt_slice rec;
    int ok = 1, rc;
    char *expect = NULL;
    while ((rc = lt_log_read_record(r, &rec)) == LT_OK) {
        if (i >= want || rec.size != img->size[i]) { ok = 0; break; }
        expect = realloc(expect, rec.size + 1);
        fill(expect, i, rec.size);
        if (rec.size && memcmp(expect, rec.data, rec.size) != 0) { ok = 0; break; }
        if (lt_log_reader_last_good(r) != img->end[i]) { ok = 0; break; }
        i++;
    }
    if (ok && (rc != LT_ENOTFOUND || i != want || lt_log_reader_bad_tail(r) != want_bad ||
               lt_log_reader_last_good(r) != want_last_good))
        ok = 0;
    if (ok && want_bad && !strstr(lt_log_reader_damage(r), "offset")) ok = 0;
    if (ok && !want_bad && lt_log_reader_damage(r)[0] != '\0') ok = 0;
    if (ok && lt_log_read_record(r, &rec) != LT_ENOTFOUND) ok = 0; /* stays stopped */
    if (!ok)
        fprintf(stderr, "     %s: got %zu records (want %zu), rc %d, bad %d (want %d), "
                "last_good %llu (want %llu), damage '%s'\n", path, i, want, rc,
                lt_log_reader_bad_tail(r), want_bad,
                (unsigned long long)lt_log_reader_last_good(r),
                (unsigned long long)want_last_good, lt_log_reader_damage(r));
    free(expect);
    lt_log_reader_free(r);
    lt_rclose(f);
    return ok;
}

/* Read `path` to where it stops; return how it ended (LT_LOG_END_*). When it ended at
 * damage with records after it, resume and return in *resumed_first the index of the
 * first record read after the damage (-1 if none) and check that the records from
 * there on are img's records in order, up to a clean end (*resumed_ok). */
static int end_kind(lt_env *env, const char *path, const log_img *img, long *resumed_first,
                    int *resumed_ok) {
    lt_rfile *f;
    *resumed_first = -1;
    *resumed_ok = 0;
    if (env->v->new_readable(env, path, &f) != LT_OK) return -1;
    lt_log_reader *r = lt_log_reader_new(f, path);
    lt_slice rec;
    while (lt_log_read_record(r, &rec) == LT_OK) {}
    int kind = lt_log_reader_end(r);
    if (kind == LT_LOG_END_DAMAGED_MID && lt_log_reader_resume(r) == LT_OK) {
        *resumed_ok = 1;
        size_t i = 0;
        char *expect = NULL;
        while (lt_log_read_record(r, &rec) == LT_OK) {
            if (*resumed_first < 0) {   /* identify the record by its size and bytes */
                for (i = 0; i < img->n; i++) {
                    if (img->size[i] != rec.size) continue;
                    expect = realloc(expect, rec.size + 1);
                    fill(expect, i, rec.size);
                    if (!rec.size || memcmp(expect, rec.data, rec.size) == 0) break;
                }
                *resumed_first = (long)i;
            } else if (++i >= img->n || img->size[i] != rec.size) {
                *resumed_ok = 0;
                break;
            }
        }
        if (lt_log_reader_end(r) != LT_LOG_END_CLEAN || i + 1 != img->n) *resumed_ok = 0;
        free(expect);
    }
    lt_log_reader_free(r);
    lt_rclose(f);
    return kind;
}

static void test_roundtrip_random(void) {
    lt_env *env;
    static log_img img;
    CHECK_OK(lt_env_mem_new(&env));
    img.n = 300;
    for (size_t i = 0; i < img.n; i++) {
        uint64_t k = rnd() % 10;
        img.size[i] = k == 0 ? 0 : k < 5 ? rnd() % 200 : k < 8 ? rnd() % 40000
                    : rnd() % 100001;
    }
    CHECK_OK(write_log(env, "log", &img));
    CHECK_EQ_INT(img.file_len, img.end[img.n - 1]);
    CHECK(img.file_len > 4 * LT_LOG_BLOCK_SIZE);
    CHECK(read_check(env, "log", &img, img.n, 0, img.end[img.n - 1]));
    free(img.file);
    lt_env_free(env);
}

/* A first record leaving k = 0..8 bytes in block 0, then two more records. */
static void test_block_tails(void) {
    lt_env *env;
    static log_img img;
    CHECK_OK(lt_env_mem_new(&env));
    for (size_t k = 0; k <= 8; k++) {
        img.n = 3;
        img.size[0] = LT_LOG_BLOCK_SIZE - LT_LOG_HEADER_SIZE - k;
        img.size[1] = 1000;
        img.size[2] = 0;
        CHECK_OK(write_log(env, "log", &img));
        CHECK_EQ_INT(img.end[0], LT_LOG_BLOCK_SIZE - k);
        /* A tail under 7 bytes is padding; 7 or more starts a FIRST fragment there. */
        uint64_t start1 = k < LT_LOG_HEADER_SIZE ? LT_LOG_BLOCK_SIZE : img.end[0];
        uint64_t hdrs = k >= LT_LOG_HEADER_SIZE ? 2 : 1;
        CHECK_EQ_INT(img.end[1], start1 + hdrs * LT_LOG_HEADER_SIZE + 1000);
        CHECK_EQ_INT(img.end[2], img.end[1] + LT_LOG_HEADER_SIZE);
        for (size_t j = img.end[0]; j < start1; j++) CHECK(img.file[j] == 0);
        CHECK(read_check(env, "log", &img, 3, 0, img.end[2]));
        /* Cut right after record 0 plus part of the padding: a clean end. */
        for (size_t cut = img.end[0]; cut <= start1; cut++) {
            CHECK_OK(put_bytes(env, "cut", img.file, cut));
            CHECK(read_check(env, "cut", &img, 1, 0, img.end[0]));
        }
        free(img.file);
    }
    lt_env_free(env);
}

/* Expected outcome of reading the first `cut` bytes of img. */
static void expect_cut(const log_img *img, size_t cut, size_t *want, int *bad, uint64_t *lg) {
    size_t i = 0;
    while (i < img->n && img->end[i] <= cut) i++;
    *want = i;
    *lg = i ? img->end[i - 1] : 0;
    *bad = 0;
    for (size_t j = (size_t)*lg; j < cut; j++)
        if (img->file[j] != 0) *bad = 1;
}

static void test_truncation(void) {
    lt_env *env;
    static log_img img;
    CHECK_OK(lt_env_mem_new(&env));
    img.n = 60;
    for (size_t i = 0; i < img.n; i++) img.size[i] = i % 20 == 7 ? 40000 : rnd() % 3000;
    img.size[3] = 0;
    CHECK_OK(write_log(env, "log", &img));
    size_t checked = 0, torn = 0;
    for (size_t cut = 0; cut <= img.file_len; cut++) {
        size_t m = cut % LT_LOG_BLOCK_SIZE;
        int dense = cut < 3000 || m < 200 || m > LT_LOG_BLOCK_SIZE - 200 ||
                    cut > img.file_len - 3000;
        if (!dense && cut % 61 != 0) continue;
        size_t want;
        int bad;
        uint64_t lg;
        expect_cut(&img, cut, &want, &bad, &lg);
        CHECK_OK(put_bytes(env, "cut", img.file, cut));
        CHECK(read_check(env, "cut", &img, want, bad, lg));
        long first;
        int resumed_ok;
        /* A cut log ends inside its last record: a torn tail, never damage. */
        CHECK_EQ_INT(end_kind(env, "cut", &img, &first, &resumed_ok),
                     bad ? LT_LOG_END_TORN : LT_LOG_END_CLEAN);
        checked++;
        torn += (size_t)bad;
    }
    CHECK(checked > 10000 && torn > checked / 2);
    /* Recovery's step: truncate at last_good, append, read everything. */
    CHECK_OK(put_bytes(env, "cut", img.file, (size_t)img.end[10] + 5));
    CHECK_OK(env->v->truncate(env, "cut", img.end[10]));
    lt_wfile *w;
    CHECK_OK(env->v->new_appendable(env, "cut", &w));
    lt_log_writer *lw = lt_log_writer_new(w, lt_wsize(w));
    char buf[3000];
    for (size_t i = 11; i < img.n; i++) {
        if (img.size[i] > sizeof buf) { img.n = i; break; }
        fill(buf, i, img.size[i]);
        CHECK_OK(lt_log_add_record(lw, buf, img.size[i]));
        CHECK_EQ_INT(lt_log_writer_offset(lw), img.end[i]); /* same layout as one go */
    }
    lt_log_writer_free(lw);
    CHECK_OK(lt_wclose(w));
    CHECK(read_check(env, "cut", &img, img.n, 0, img.end[img.n - 1]));
    free(img.file);
    lt_env_free(env);
}

static void test_corruption(void) {
    lt_env *env;
    static log_img img;
    CHECK_OK(lt_env_mem_new(&env));
    img.n = 40;
    for (size_t i = 0; i < img.n; i++) img.size[i] = i % 10 == 5 ? 50000 : rnd() % 2000;
    CHECK_OK(write_log(env, "log", &img));
    char *bad = malloc(img.file_len);
    size_t checked = 0;
    for (size_t pos = 0; pos < img.file_len; pos += 1 + rnd() % 50) {
        /* Block-tail padding carries nothing: a flip there goes unnoticed. */
        if (pos % LT_LOG_BLOCK_SIZE > LT_LOG_BLOCK_SIZE - LT_LOG_HEADER_SIZE) continue;
        size_t i = 0;
        while (img.end[i] <= pos) i++; /* the record the byte belongs to */
        memcpy(bad, img.file, img.file_len);
        bad[pos] ^= (char)(1 << (rnd() % 8));
        CHECK_OK(put_bytes(env, "bad", bad, img.file_len));
        int ok = read_check(env, "bad", &img, i, 1, i ? img.end[i - 1] : 0);
        if (!ok) fprintf(stderr, "     flipped byte at %zu\n", pos);
        CHECK(ok);
        /* Damage before the last record has valid records after it, and reading
         * resumes at the record after the damaged one; damage in the last record is a
         * tail (torn when the flip makes it run past the end of the file). */
        long first;
        int resumed_ok;
        int kind = end_kind(env, "bad", &img, &first, &resumed_ok);
        if (i + 1 < img.n) {
            if (kind != LT_LOG_END_DAMAGED_MID || first != (long)i + 1 || !resumed_ok)
                fprintf(stderr, "     flipped byte at %zu (record %zu): end %d, resumed at "
                        "%ld, ok %d\n", pos, i, kind, first, resumed_ok);
            CHECK(kind == LT_LOG_END_DAMAGED_MID && first == (long)i + 1 && resumed_ok);
        } else {
            CHECK(kind == LT_LOG_END_DAMAGED || kind == LT_LOG_END_TORN);
        }
        checked++;
    }
    CHECK(checked > 1000);
    free(bad);
    free(img.file);
    lt_env_free(env);
}

static void test_empty_and_zero_tails(void) {
    lt_env *env;
    static log_img img;
    CHECK_OK(lt_env_mem_new(&env));
    CHECK_OK(put_bytes(env, "empty", "", 0));
    img.n = 0;
    CHECK(read_check(env, "empty", &img, 0, 0, 0));
    img.n = 5;
    for (size_t i = 0; i < img.n; i++) img.size[i] = 100 * i;
    CHECK_OK(write_log(env, "log", &img));
    char *z = calloc(1, img.file_len + 100);
    memcpy(z, img.file, img.file_len);
    CHECK_OK(put_bytes(env, "z", z, img.file_len + 6)); /* partial header of zeroes */
    CHECK(read_check(env, "z", &img, 5, 0, img.end[4]));
    CHECK_OK(put_bytes(env, "z", z, img.file_len + 100)); /* a zero-type header */
    CHECK(read_check(env, "z", &img, 5, 1, img.end[4]));
    long first;
    int resumed_ok;
    CHECK_EQ_INT(end_kind(env, "z", &img, &first, &resumed_ok), LT_LOG_END_TORN);
    /* Zeroes, then records again: damage in the middle, not a tail. */
    size_t zl = img.file_len + 100;
    z = realloc(z, zl + img.file_len);
    memcpy(z + zl, img.file, img.file_len);
    CHECK_OK(put_bytes(env, "z", z, zl + img.file_len));
    CHECK_EQ_INT(end_kind(env, "z", &img, &first, &resumed_ok), LT_LOG_END_DAMAGED_MID);
    CHECK_EQ_INT(first, 0);
    CHECK(resumed_ok);
    free(z);
    free(img.file);
    lt_env_free(env);
}

static void test_writer_failure_latch(void) {
    lt_env *mem, *env;
    lt_wfile *w;
    CHECK_OK(lt_env_mem_new(&mem));
    CHECK_OK(lt_env_fault_new(mem, &env));
    CHECK_OK(env->v->new_writable(env, "log", &w));
    lt_log_writer *lw = lt_log_writer_new(w, 0);
    CHECK(lw != NULL);
    CHECK_OK(lt_log_add_record(lw, "abc", 3));
    CHECK_OK(lt_env_fault_fail_write(env, 1, LT_ENOSPC));
    CHECK_EQ_INT(lt_log_add_record(lw, "def", 3), LT_ENOSPC);
    CHECK(strstr(lt_errmsg(), "No space left on device") != NULL);
    CHECK_EQ_INT(lt_log_add_record(lw, "ghi", 3), LT_EIO); /* latched */
    CHECK(strstr(lt_errmsg(), "earlier append failed") != NULL);
    lt_log_writer_free(lw);
    CHECK_OK(lt_wclose(w));
    lt_env_free(env);
    lt_env_free(mem);
}

int main(void) {
    RUN(test_roundtrip_random);
    RUN(test_block_tails);
    RUN(test_truncation);
    RUN(test_corruption);
    RUN(test_empty_and_zero_tails);
    RUN(test_writer_failure_latch);
    TEST_MAIN_END();
}
