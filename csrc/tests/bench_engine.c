/* bench_engine.c: the C engine's own cost, without Python: bulk load, random gets
 * (hits), and a full scan through lt_iter_next_batch. Not a test; run on demand:
 *   make bench && build/tests/bench_engine [n [cache_mib]]
 * Compare with bench/bench_kv.py to see how much the Python layer adds. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "../include/lightning.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int sequential;
static void key_of(char *k, uint64_t i) {
    snprintf(k, 17, "%016llu", (unsigned long long)((sequential ? i : i * 2654435761u % 1000000007u) % 10000000000000000ull));
}

#define DIE(rc) do { if (rc) { fprintf(stderr, "line %d: %s\n", __LINE__, lt_errmsg()); exit(1); } } while (0)

int main(int argc, char **argv) {
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    sequential = getenv("LT_SEQUENTIAL") != NULL;
    char dir[] = "/tmp/lt_bench_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    lt_options o;
    lt_options_init(&o);
    o.sync = LT_SYNC_OFF;
    if (argc > 2) o.cache_size = (size_t)strtoull(argv[2], NULL, 10) << 20;
    lt_db *db;
    DIE(lt_db_open(dir, &o, &db));
    char k[17], v[100];
    memset(v, 'v', sizeof v);
    lt_batch *b;
    DIE(lt_batch_new(&b));
    double t0 = now();
    for (uint64_t i = 0; i < n; i++) {
        key_of(k, i);
        DIE(lt_batch_put(b, k, 16, v, sizeof v));
        if (lt_batch_count(b) == 1000) { DIE(lt_write(db, b, NULL, NULL, NULL)); lt_batch_clear(b); }
    }
    DIE(lt_write(db, b, NULL, NULL, NULL));
    double t1 = now();
    printf("%s load: %.0f puts/s\n", sequential ? "sequential" : "random", (double)n / (t1 - t0));
    DIE(lt_db_compact(db, NULL, 0, NULL, 0));
    printf("compact: %.2f s\n", now() - t1);
    uint64_t *order = malloc(n * sizeof *order);
    srand(7);
    for (uint64_t i = 0; i < n; i++) order[i] = ((uint64_t)rand() << 16 ^ (uint64_t)rand()) % n;
    for (int pass = 0; pass < (getenv("LT_PASSES") ? atoi(getenv("LT_PASSES")) : 2); pass++) {
        t0 = now();
        for (uint64_t i = 0; i < n; i++) {
            const char *val;
            size_t vl;
            key_of(k, order[i]);
            DIE(lt_get(db, NULL, k, 16, &val, &vl));
        }
        t1 = now();
        printf("random gets (pass %d): %.0f gets/s, %.0f ns each\n", pass, (double)n / (t1 - t0), (t1 - t0) * 1e9 / (double)n);
    }
    lt_iterator *it;
    DIE(lt_iter_new(db, NULL, NULL, 0, NULL, 0, 0, &it));
    static char buf[256 << 10];
    size_t cnt = 0, got, used;
    t0 = now();
    for (;;) {
        DIE(lt_iter_next_batch(it, buf, sizeof buf, 4096, &got, &used));
        if (!got) break;
        cnt += got;
    }
    t1 = now();
    printf("full scan: %zu keys, %.0f keys/s\n", cnt, (double)cnt / (t1 - t0));
    lt_iter_free(it);
    char st[8192];
    size_t need;
    lt_db_stats(db, st, sizeof st, &need);
    printf("%s\n", st);
    lt_db_free(db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}
