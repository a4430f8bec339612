/* db_write.c: the one commit path, used by plain writes, batches and transactions.
 *
 * Writers queue under `mu`; the writer at the head is the leader. The leader
 *   1. makes room (switches a full memtable, waits for flushes / level-0 stalls; with
 *      background compaction off it runs the level-0 stall's compaction itself),
 *   2. forms a group of queued writers; for each, in order, it runs the validation
 *      hook and, if that accepts, gives the batch its sequence numbers (a rejected
 *      batch is left out: nothing of it reaches the log),
 *   3. with `mu` released: writes the group as one log record, hands it to the OS, and
 *      fdatasyncs if any member needs it (one sync for the whole group: group commit),
 *   4. applies the group to the memtable (it is the memtable's only writer),
 *   5. under `mu` publishes visible_seq (release), so the group appears at once, and
 *      wakes the members with their results.
 * A log write or sync failure latches a background error: the log may hold a torn
 * record, so no later commit may be acknowledged after it. */
#include <stdlib.h>
#include <time.h>
#include "db_impl.h"
#include "../util/status.h"

#define MAX_GROUP_BYTES (1u << 20)

static uint64_t now_micros(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int db_switch_log(lt_engine *e) {
    char name[4096];
    uint64_t number = lt_vset_new_file_number(e->vs);
    lt_log_file_name(name, sizeof name, e->dir, number);
    lt_wfile *f = NULL;
    int rc = e->env->v->new_writable(e->env, name, &f);
    if (rc) return rc;
    lt_log_writer *w = lt_log_writer_new(f, 0);
    if (!w) { lt_wclose(f); e->env->v->remove(e->env, name); return lt_seterr(LT_ENOMEM, "log: out of memory"); }
    /* The new log's name must be durable before commits in it are acknowledged. */
    if ((rc = e->env->v->sync_dir(e->env, e->dir))) {
        lt_log_writer_free(w); lt_wclose(f); e->env->v->remove(e->env, name);
        return rc;
    }
    if (e->log_file) {
        /* FULL is synced already. OFF and NORMAL fsync the old log at every memtable
         * switch, so a log is whole on disk before a later one gets a record: recovery
         * can then take a damaged log followed by records for damage, not a crash. */
        if (e->opt.sync != LT_SYNC_FULL && e->log_unsynced) {
            rc = lt_wsync(e->log_file);
            if (rc) { lt_log_writer_free(w); lt_wclose(f); return rc; }
            atomic_fetch_add(&e->st.wal_syncs, 1);
        }
        lt_log_writer_free(e->log);
        lt_wclose(e->log_file);
    }
    e->log_file = f;
    e->log = w;
    e->log_number = number;
    e->log_unsynced = 0;
    return LT_OK;
}

/* REQUIRES: mu held, caller is the leader. May release and retake mu while waiting. */
static int make_room(lt_engine *e, int force) {
    int slowed = 0;
    for (;;) {
        if (e->bg_error) return lt_seterr(LT_EBUSY, "write refused after an earlier failure: %s", e->bg_errmsg);
        if (e->crashed || e->shutting_down) return lt_seterr(LT_ECLOSED, "write: database is closing");
        lt_version *v = e->vs->current;
        int bg = e->opt.background_compaction;
        if (bg && !force && !slowed && v->nfiles[0] >= e->opt.l0_slowdown_trigger) {
            /* Give compaction a moment rather than stopping writers abruptly later. */
            pthread_mutex_unlock(&e->mu);
            struct timespec ts = { 0, 1000000 };
            nanosleep(&ts, NULL);
            pthread_mutex_lock(&e->mu);
            atomic_fetch_add(&e->st.stalls, 1);
            atomic_fetch_add(&e->st.stall_micros, 1000);
            slowed = 1;
            continue;
        }
        if (lt_memtable_count(e->mem) == 0) return LT_OK;
        if (!force && lt_memtable_memory_usage(e->mem) < e->opt.memtable_size) return LT_OK;
        if (!bg && !e->compacting && v->nfiles[0] >= e->opt.l0_stop_trigger) {
            /* Nobody compacts behind our back: do it here, then look again. */
            uint64_t t0 = now_micros();
            atomic_fetch_add(&e->st.stalls, 1);
            int rc = db_compact_foreground(e);
            atomic_fetch_add(&e->st.stall_micros, now_micros() - t0);
            if (rc) return rc;
            continue;
        }
        if (e->imm || v->nfiles[0] >= e->opt.l0_stop_trigger) {
            uint64_t t0 = now_micros();
            atomic_fetch_add(&e->st.stalls, 1);
            db_maybe_schedule(e);
            pthread_cond_wait(&e->bg_cv, &e->mu);
            atomic_fetch_add(&e->st.stall_micros, now_micros() - t0);
            continue;
        }
        lt_memtable *m = lt_memtable_new();
        if (!m) return lt_seterr(LT_ENOMEM, "memtable: out of memory");
        int rc = db_switch_log(e);
        if (rc) { lt_memtable_unref(m); return rc; }
        e->imm = e->mem;
        e->imm_next_log = e->log_number;
        e->mem = m;
        force = 0;
        db_maybe_schedule(e);
    }
}

typedef struct apply_ctx { lt_memtable *m; } apply_ctx;

static int apply_one(void *arg, uint64_t seq, int type, lt_slice key, lt_slice value) {
    apply_ctx *c = arg;
    return lt_memtable_add(c->m, seq, type, key, value);
}

int db_write_internal(lt_engine *e, lt_writer *w) {
    pthread_cond_init(&w->cv, NULL);
    w->done = 0;
    w->rc = LT_OK;
    w->next = NULL;
    pthread_mutex_lock(&e->mu);
    if (e->wq_tail) e->wq_tail->next = w; else e->wq_head = w;
    e->wq_tail = w;
    while (!w->done && e->wq_head != w) pthread_cond_wait(&w->cv, &e->mu);
    if (w->done) {
        pthread_mutex_unlock(&e->mu);
        pthread_cond_destroy(&w->cv);
        if (w->rc) lt_seterr(w->rc, "%s", w->rc == LT_ECONFLICT ? "commit rejected by validation" : e->bg_errmsg);
        return w->rc;
    }

    /* This writer leads. */
    int rc = make_room(e, w->force_switch);
    lt_writer *last = w;
    int sync = 0;
    uint64_t seq = atomic_load(&e->visible_seq);
    lt_batch *group = e->group;
    lt_batch_clear(group);
    lt_batch_set_seq(group, seq + 1);
    if (rc == LT_OK) {
        size_t bytes = 0;
        for (lt_writer *x = w; x; x = x->next) {
            if (x != w && x->force_switch) break;  /* a switch request leads its own group */
            if (x->batch && bytes && bytes + lt_batch_size(x->batch) > MAX_GROUP_BYTES) break;
            last = x;
            sync |= x->sync;
            x->rc = LT_OK;
            if (!x->batch || lt_batch_count(x->batch) == 0) { x->last_seq = seq; continue; }
            if (x->validate && (x->rc = x->validate(x->arg, seq)) != LT_OK) {
                atomic_fetch_add(&e->st.conflicts, 1);
                continue;
            }
            int arc = lt_batch_append(group, x->batch);
            if (arc) { x->rc = arc; continue; }
            bytes += lt_batch_size(x->batch);
            seq += lt_batch_count(x->batch);
            x->last_seq = seq;
            /* Transactions (conflict.c): remember the keys this accepted batch writes, so
             * the validation of later members of this group and of later groups sees them.
             * Every batch counts: plain writes are transactions too. */
            lt_conflict_record(e->conflict, x->batch, seq, db_smallest_snapshot(e));
        }
    }
    uint32_t count = lt_batch_count(group);
    if (rc == LT_OK && (count > 0 || (sync && e->log_unsynced))) {
        lt_memtable *mem = e->mem;
        pthread_mutex_unlock(&e->mu);
        if (count > 0) {
            rc = lt_log_add_record(e->log, group->rep.data, group->rep.size);
            if (rc == LT_OK) rc = lt_wflush(e->log_file);
        }
        if (rc == LT_OK && sync) {
            rc = lt_wsync(e->log_file);
            if (rc == LT_OK) atomic_fetch_add(&e->st.wal_syncs, 1);
        }
        if (rc == LT_OK && count > 0) {
            apply_ctx c = { mem };
            rc = lt_batch_iterate(group, apply_one, &c);
        }
        pthread_mutex_lock(&e->mu);
        if (rc == LT_OK) {
            e->log_unsynced = sync ? 0 : (e->log_unsynced | (count > 0));
            if (count > 0) {
                atomic_store(&e->vs->last_seq, seq);
                atomic_store_explicit(&e->visible_seq, seq, memory_order_release);
                atomic_fetch_add(&e->st.wal_bytes, group->rep.size);
                atomic_fetch_add(&e->st.write_groups, 1);
            }
        } else {
            db_set_bg_error(e, rc);
        }
    }
    /* Acknowledge the group and hand leadership on. */
    for (;;) {
        lt_writer *x = e->wq_head;
        e->wq_head = x->next;
        if (!e->wq_head) e->wq_tail = NULL;
        if (rc) x->rc = rc;
        else if (x->rc == LT_OK && x->batch && lt_batch_count(x->batch)) atomic_fetch_add(&e->st.commits, 1);
        if (x != w) { x->done = 1; pthread_cond_signal(&x->cv); }
        if (x == last) break;
    }
    if (e->wq_head) pthread_cond_signal(&e->wq_head->cv);
    pthread_mutex_unlock(&e->mu);
    pthread_cond_destroy(&w->cv);
    if (w->rc && !rc) return lt_seterr(w->rc, "commit rejected by validation");
    return w->rc;
}

/* NORMAL mode: fdatasync the log every sync_interval_ms when it has unsynced data, by
 * queueing an empty writer that asks for a sync (so the sync is ordered with writes). */
void *db_sync_main(void *arg) {
    lt_engine *e = arg;
    pthread_mutex_lock(&e->mu);
    while (!e->shutting_down) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)e->opt.sync_interval_ms * 1000000u;
        ts.tv_sec += (time_t)(ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
        pthread_cond_timedwait(&e->sync_cv, &e->mu, &ts);
        if (e->shutting_down || e->bg_error || !e->log_unsynced) continue;
        pthread_mutex_unlock(&e->mu);
        lt_writer w;
        memset(&w, 0, sizeof w);
        w.sync = 1;
        db_write_internal(e, &w);
        pthread_mutex_lock(&e->mu);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}
