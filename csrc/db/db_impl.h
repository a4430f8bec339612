/* db_impl.h: the engine's shared state, used by the files that implement it:
 *   db_open.c    open, recovery, the per-process engine registry, close
 *   db_write.c   the commit pipeline (writer queue, group commit, log, apply, publish)
 *                and the NORMAL-mode log syncer
 *   db_compact.c the background thread: memtable flushes, compactions, file deletion
 *   db_read.c    point reads, snapshots, statistics
 *   db_iter.c    the user-facing range iterator
 *
 * Locking: `mu` guards the memtables, the writer queue, the snapshot list, the
 * background state and the installation of versions. The commit leader writes the
 * log and applies to the memtable with `mu` released: only the leader of the queue
 * does so, so the memtable has one writer. Readers never wait for the log: they read
 * at `visible_seq`, published (release) after a whole group is applied.
 * `manifest_mu` serialises version changes (flushes and compactions), which write
 * the manifest without holding `mu`.
 *
 * Handles: each lt_db is one handle on a shared lt_engine. API calls on a handle are
 * bracketed by db_enter/db_leave, so lt_db_close can wait for calls in flight and
 * then invalidate the handle's snapshots and iterators.
 *
 * fork(): a pthread_atfork child handler (db_open.c) bumps db_fork_gen, empties the
 * engine registry and the env's table of held locks. A handle remembers the
 * generation it was opened in; db_forked() tells a handle inherited from a parent,
 * whose engine must never be touched again in this process: db_enter refuses with
 * LT_EFORKED, and the close/free paths of handles, snapshots and iterators take no
 * engine mutex and free nothing of the engine (it is leaked). The handlers hold
 * the process-wide mutexes (registry, env lifetimes, env locks, transactions'
 * iterator lists) across fork(), so the child finds them free. */
#ifndef LT_DB_IMPL_H
#define LT_DB_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include "../include/lightning.h"
#include "../env/env.h"
#include "../table/cache.h"
#include "../table/table.h"
#include "conflict.h"
#include "log.h"
#include "memtable.h"
#include "version_set.h"
#include "write_batch.h"

typedef struct lt_engine lt_engine;

typedef struct lt_writer {
    lt_batch *batch;          /* NULL for control requests */
    int sync;                 /* needs an fdatasync before acknowledging */
    int force_switch;         /* lt_db_flush: switch the memtable */
    lt_validate_fn validate;
    void *arg;
    int done;
    int rc;
    uint64_t last_seq;
    pthread_cond_t cv;
    struct lt_writer *next;
} lt_writer;

struct lt_snapshot {
    lt_db *db;
    uint64_t seq;
    int released;
    struct lt_snapshot *prev, *next;      /* engine list (under e->mu) */
    struct lt_snapshot *hprev, *hnext;    /* handle list (under db->children_mu) */
};

struct lt_iterator;

typedef struct lt_engine_stats {
    atomic_uint_fast64_t commits, write_groups, wal_syncs, wal_bytes, flushes,
        compactions, trivial_moves, compaction_bytes_read, compaction_bytes_written,
        stalls, stall_micros, gets, conflicts;
    /* transactions (txn.c): commits, aborts by reason, transactions open now */
    atomic_uint_fast64_t txn_commits, txn_aborts_conflict, txn_aborts_rollback,
        txn_aborts_error, txn_active;
} lt_engine_stats;

/* What recovery found and did at open (db_open.c), shown by lt_db_stats. */
typedef struct lt_recovery_info {
    uint64_t records_replayed;     /* log records (commit groups) applied */
    uint64_t torn_tails;           /* logs that ended inside a record: cut there */
    uint64_t torn_bytes;           /* bytes cut off those tails */
    uint64_t records_dropped;      /* point-in-time recovery: records after the damage */
    uint64_t logs_set_aside;       /* damaged logs copied into lost/ */
    char damage[512];              /* the first damage met, "" if none */
} lt_recovery_info;

struct lt_engine {
    /* identity and registry (under the registry mutex) */
    char *dir;
    lt_env *env;
    int refs;
    lt_engine *reg_next;
    lt_options opt;
    lt_codec codec;
    lt_flock *lock;

    pthread_mutex_t mu;
    pthread_cond_t bg_cv;          /* background work available / finished */
    lt_memtable *mem, *imm;
    uint64_t imm_next_log;         /* log number in force when imm was sealed */
    atomic_uint_fast64_t visible_seq;
    lt_vset *vs;
    lt_cache *cache;
    lt_table_options topt;

    /* the write-ahead log: touched only by the commit leader (and switch under mu) */
    lt_wfile *log_file;
    lt_log_writer *log;
    uint64_t log_number;
    int log_unsynced;              /* bytes handed to the OS but not synced */

    lt_writer *wq_head, *wq_tail;  /* writer queue (under mu) */
    lt_batch *group;               /* leader's scratch batch */

    lt_snapshot snaps;             /* sentinel of the snapshot list */
    lt_conflict *conflict;         /* recent commits' keys, for transactions (under mu) */
    uint64_t *pending;             /* file numbers being written */
    int npending, cappending;

    pthread_mutex_t manifest_mu;
    pthread_t bg_thread, sync_thread;
    int bg_started, sync_started;
    pthread_cond_t sync_cv;
    int shutting_down;
    int crashed;
    int compacting;                /* a compaction (background or manual) runs */
    int bg_error;                  /* latched: writes fail with LT_EBUSY */
    char bg_errmsg[512];

    lt_engine_stats st;
    lt_recovery_info recovery;     /* written at open, read-only afterwards */
};

struct lt_db {
    lt_engine *e;
    unsigned gen;                     /* db_fork_gen when opened */
    int read_only;
    atomic_int hrefs;                 /* the user's + one per snapshot/iterator alive */
    atomic_int active;
    atomic_int closed;
    pthread_mutex_t children_mu;
    lt_snapshot snaps;                /* sentinel: this handle's snapshots */
    struct lt_iterator *iters;        /* this handle's iterators */
};

/* Bumped in the child of every fork() (see the top of this file). */
extern atomic_uint db_fork_gen;

/* 1 if `db` was opened by a parent of this fork()ed process: leave its engine alone. */
static inline int db_forked(const lt_db *db) {
    return db->gen != atomic_load_explicit(&db_fork_gen, memory_order_relaxed);
}

/* Bracket every API call on a handle: LT_OK, or LT_ECLOSED / LT_EFORKED with the
 * message set. */
int  db_enter(lt_db *db, const char *op);
/* The handle's memory lives until its user and all its children have freed it. */
void db_handle_ref(lt_db *db);
void db_handle_unref(lt_db *db);
void db_leave(lt_db *db);

/* db_write.c */
int  db_write_internal(lt_engine *e, lt_writer *w);
void *db_sync_main(void *arg);
int  db_switch_log(lt_engine *e);          /* REQUIRES: mu held, leader */

/* db_compact.c */
void *db_bg_main(void *arg);
void db_maybe_schedule(lt_engine *e);      /* REQUIRES: mu held */
int  db_write_level0(lt_engine *e, lt_memtable *m, lt_version_edit *edit, uint64_t number);
void db_delete_obsolete(lt_engine *e);     /* REQUIRES: mu held (released inside) */
int  db_compact_range(lt_engine *e, const lt_slice *begin, const lt_slice *end);
/* A write stall with background compaction off: run, in the caller's thread, the
 * compaction the current version needs most (what the background thread would run);
 * its failure is latched as the background error. LT_ENOMEM if none could be set up.
 * REQUIRES: mu held (released inside), !e->compacting, current version's score >= 1. */
int  db_compact_foreground(lt_engine *e);
void db_set_bg_error(lt_engine *e, int rc); /* REQUIRES: mu held */
uint64_t db_smallest_snapshot(lt_engine *e); /* REQUIRES: mu held */
int  db_add_pending(lt_engine *e, uint64_t number);  /* REQUIRES: mu held */
void db_remove_pending(lt_engine *e, uint64_t number); /* REQUIRES: mu held */

/* txn.c: pthread_atfork phases for its process-wide mutex (0 prepare: lock;
 * 1 parent, 2 child: unlock). */
void db_txn_atfork(int phase);

/* db_iter.c: invalidate an iterator (on handle close). */
void db_iter_release(struct lt_iterator *it);
/* lt_get with LT_GET_* flags (lt_txn_get_ex). */
int  db_get(lt_db *db, lt_snapshot *snap, const void *key, size_t klen, int flags,
            const char **val, size_t *vlen);
/* Open a closed or open iterator again on a new range at `snap`, reusing its memory
 * (transactions' one-shot scans, txn.c). An open one whose memtables and version are
 * still the current ones keeps its merged iterator (the new range is a seek away);
 * otherwise it is closed and opened afresh. */
int  lt_iter_reopen(struct lt_iterator *it, lt_snapshot *snap, const void *start,
                    size_t slen, const void *end, size_t elen, int reverse);

#endif
