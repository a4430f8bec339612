/* fuzz_log.c: the record log reader (db/log_reader.c) on arbitrary bytes, as given
 * and with every fragment's CRC recomputed.
 *
 * Promises checked, besides memory safety and no leaks:
 *   - reading ends with LT_ENOTFOUND and stays ended;
 *   - last_good never decreases and never passes the end of the file; a clean end
 *     (no bad tail) leaves at most a zero header's worth of bytes after last_good;
 *   - recovery's repair holds: the file cut at last_good reads back the same records
 *     with a clean end, and a record appended there by a writer that continues the
 *     log (lt_log_writer_new with the cut size) reads back after them. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../db/log.h"
#include "../db/log_format.h"
#include "../util/crc32c.h"
#include "../util/status.h"

#define MAX_RECORDS 4096
#define PATH "/fuzz/000001.log"

typedef struct summary {
    int n;                     /* records read (up to MAX_RECORDS) */
    uint32_t crc[MAX_RECORDS]; /* CRC-32C and size of each */
    size_t size[MAX_RECORDS];
    uint64_t last_good;
    int bad_tail;
} summary;

static summary first, again;

static void read_log(const uint8_t *data, size_t n, summary *s) {
    lt_rfile *f = fuzz_open_file(PATH, data, n);
    lt_log_reader *r = lt_log_reader_new(f, "000001.log");
    if (!r) fuzz_fail("lt_log_reader_new: %s", lt_errmsg());
    lt_slice rec;
    int rc;
    uint64_t good = 0;
    s->n = 0;
    while ((rc = lt_log_read_record(r, &rec)) == LT_OK) {
        fuzz_touch(rec);
        uint64_t lg = lt_log_reader_last_good(r);
        if (lg < good || lg > n) fuzz_fail("last_good %llu after %llu (file %zu bytes)",
                                          (unsigned long long)lg, (unsigned long long)good, n);
        good = lg;
        if (s->n < MAX_RECORDS) {
            s->crc[s->n] = lt_crc32c(rec.data, rec.size);
            s->size[s->n] = rec.size;
            s->n++;
        }
    }
    if (rc != LT_ENOTFOUND) fuzz_fail("read_record returned %d (%s)", rc, lt_errmsg());
    if (lt_log_read_record(r, &rec) != LT_ENOTFOUND) fuzz_fail("a read after the end succeeded");
    s->last_good = lt_log_reader_last_good(r);
    s->bad_tail = lt_log_reader_bad_tail(r);
    if (!s->bad_tail && n - s->last_good >= LT_LOG_HEADER_SIZE)
        fuzz_fail("clean end with %llu bytes after the last record",
                  (unsigned long long)(n - s->last_good));
    if (s->bad_tail && !lt_log_reader_damage(r)[0]) fuzz_fail("bad tail without a description");
    lt_log_reader_free(r);
    lt_rclose(f);
}

static void same_records(const summary *a, const summary *b, int extra) {
    if (b->n != a->n + extra) fuzz_fail("%d records after the cut, %d before", b->n, a->n);
    for (int i = 0; i < a->n; i++)
        if (a->crc[i] != b->crc[i] || a->size[i] != b->size[i])
            fuzz_fail("record %d differs after the cut", i);
    if (b->bad_tail) fuzz_fail("the log cut at last_good does not end cleanly");
}

static void check(const uint8_t *data, size_t n) {
    read_log(data, n, &first);
    if (first.n >= MAX_RECORDS) return;
    /* cut at last_good (what recovery does) and read again */
    size_t cut = (size_t)first.last_good;
    read_log(data, cut, &again);
    same_records(&first, &again, 0);
    /* continue the log after the cut */
    static const char tail[] = "appended after recovery";
    lt_env *env = fuzz_env();
    lt_wfile *w = NULL;
    if (env->v->new_appendable(env, PATH, &w)) fuzz_fail("reopening the log: %s", lt_errmsg());
    lt_log_writer *lw = lt_log_writer_new(w, cut);
    if (!lw || lt_log_add_record(lw, tail, sizeof tail - 1) || lt_wclose(w))
        fuzz_fail("appending to the log: %s", lt_errmsg());
    lt_log_writer_free(lw);
    char *grown = NULL;
    size_t gn = 0;
    if (lt_env_read_file(env, PATH, &grown, &gn)) fuzz_fail("reading the log: %s", lt_errmsg());
    read_log((const uint8_t *)grown, gn, &again);
    same_records(&first, &again, 1);
    if (again.crc[first.n] != lt_crc32c(tail, sizeof tail - 1))
        fuzz_fail("the appended record reads back differently");
    free(grown);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_check_log_input(data, size, check);
    return 0;
}
