/* fuzz_batch.c: a log record's write batch (db/write_batch.c) as recovery decodes it:
 * lt_batch_set_contents, then lt_batch_iterate applying every record to a memtable
 * (as db_open.c's replay does), then the memtable read back.
 *
 * Promises checked, besides memory safety and no leaks: set_contents validates the
 * whole batch, so when it accepts a record iteration visits exactly the batch's count
 * of records and never fails half way (a batch is applied whole or not at all); each
 * record then inserts into the memtable, and the memtable holds them all. */
#include <stdlib.h>

#include "fuzz.h"
#include "../db/dbformat.h"
#include "../db/memtable.h"
#include "../db/write_batch.h"
#include "../util/status.h"

typedef struct apply { lt_memtable *m; uint32_t n; } apply;

static int visit(void *arg, uint64_t seq, int type, lt_slice key, lt_slice value) {
    apply *a = arg;
    fuzz_touch(key);
    fuzz_touch(value);
    a->n++;
    int rc = lt_memtable_add(a->m, seq, type, key, value);
    if (rc != LT_OK) fuzz_fail("memtable add of record %u: %d (%s)", a->n, rc, lt_errmsg());
    return LT_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lt_batch *b = NULL;
    if (lt_batch_new(&b)) return 0;
    if (lt_batch_set_contents(b, lt_slice_make(data, size)) != LT_OK) {
        if (!lt_errmsg()[0]) fuzz_fail("set_contents failed without a message");
        lt_batch_free(b);
        return 0;
    }
    apply a = { lt_memtable_new(), 0 };
    if (!a.m) fuzz_fail("memtable: out of memory");
    int rc = lt_batch_iterate(b, visit, &a);
    if (rc != LT_OK) fuzz_fail("an accepted batch fails after %u records: %s", a.n, lt_errmsg());
    if (a.n != lt_batch_count(b)) fuzz_fail("%u records visited, count says %u", a.n, lt_batch_count(b));
    if (lt_memtable_count(a.m) != a.n) fuzz_fail("memtable holds %llu of %u records",
                                                (unsigned long long)lt_memtable_count(a.m), a.n);
    lt_iter *it = lt_memtable_iter(a.m);
    uint32_t seen = 0;
    if (it) {
        for (lt_iter_seek_first(it); lt_iter_valid(it); lt_iter_next(it)) seen++;
        lt_iter_destroy(it);
        if (seen != a.n) fuzz_fail("memtable iterates %u of %u records", seen, a.n);
    }
    lt_memtable_unref(a.m);
    lt_batch_free(b);
    return 0;
}
