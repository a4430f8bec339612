/* lightning.h: the public C API of the Lightning storage engine.
 *
 * This header is the manual. Lightning is a log-structured, MVCC key-value store:
 * a write-ahead log, an in-memory skiplist (memtable), immutable sorted tables of
 * checksummed, optionally zstd-compressed blocks, a manifest of version edits, and
 * leveled compaction on a background thread. Keys are ordered bytewise (memcmp).
 *
 * Errors. Every function that can fail returns an int: LT_OK (0) or one of the
 * negative LT_E* codes below. When a function fails it also stores a message for the
 * calling thread that lt_errmsg() returns (it names the operation and, where there is
 * one, the file and offset). The library never prints and never aborts on bad input.
 *
 * Threads. An lt_db handle may be used from many threads at once. Snapshots and
 * iterators may be used from any thread but not from two threads at the same time.
 * No call takes or needs the Python GIL.
 *
 * Lifetimes. Closing a handle (lt_db_close, lt_snapshot_release, lt_iter_close)
 * invalidates it: every later call on it returns LT_ECLOSED, except the matching
 * *_free, which releases the handle's memory. Closing a database closes all its
 * snapshots and iterators as well (they then return LT_ECLOSED).
 *
 * Processes and fork(). Do not carry an open database across fork(): the engine's
 * threads do not exist in the child and its mutexes may be held by threads that do
 * not either. In a child, every call on a handle inherited from the parent (database,
 * snapshot, iterator, transaction and its scans) returns LT_EFORKED and touches
 * nothing; the close and free functions succeed and release nothing of the engine
 * (the parent still owns it: its memory is leaked in the child, never its files or
 * lock), so a child may close what it inherited and exit without waiting. A child
 * that needs the database opens it again with lt_db_open, which gives it an engine
 * of its own, or LT_ELOCKED naming the parent's pid while the parent holds the lock.
 * The check is a comparison with a counter that a pthread_atfork handler bumps in
 * the child, so calls cost no system call.
 */
#ifndef LIGHTNING_H
#define LIGHTNING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- error codes: their own range, stable values ------------------------------------ */
#define LT_OK          0
#define LT_ENOTFOUND  (-30700) /* key absent (lt_get); not an error for the caller      */
#define LT_ECORRUPT   (-30701) /* checksum mismatch, bad magic, malformed record        */
#define LT_EIO        (-30702) /* an operating-system call failed (errno in message)    */
#define LT_EINVAL     (-30703) /* bad argument: size limit, bad option, bad range       */
#define LT_ENOMEM     (-30704) /* allocation failed                                      */
#define LT_ELOCKED    (-30705) /* another process holds the database lock               */
#define LT_EREADONLY  (-30706) /* write on a database opened read-only                   */
#define LT_ECLOSED    (-30707) /* handle already closed                                  */
#define LT_ECONFLICT  (-30708) /* commit validation rejected the batch (transactions)    */
#define LT_ENOENT     (-30709) /* database does not exist and create was not asked      */
#define LT_EVERSION   (-30710) /* file written by an unsupported format version          */
#define LT_ENOSPC     (-30711) /* the file system is full                                */
#define LT_EBUSY      (-30712) /* background error latched: the database is read-only   */
#define LT_EEXISTS    (-30713) /* key already present (lt_txn_insert)                    */
#define LT_EFORKED    (-30714) /* handle opened by the parent of this fork()ed process   */

/* Message of the last failed call made by this thread (empty string if none). The
 * pointer stays valid until this thread's next call into the library. */
const char *lt_errmsg(void);
/* Constant description of an error code. */
const char *lt_strerror(int code);

/* ---- limits ------------------------------------------------------------------------- */
#define LT_MAX_KEY_SIZE   (16u * 1024u)          /* bytes; empty keys are allowed */
#define LT_MAX_VALUE_SIZE (64u * 1024u * 1024u)  /* bytes */

/* ---- sync modes --------------------------------------------------------------------- */
#define LT_SYNC_OFF    0 /* commit returns after write(2) to the log: survives a process
                            crash, a machine crash may lose recent commits            */
#define LT_SYNC_NORMAL 1 /* as OFF, plus the log is fdatasync'ed by a background thread
                            every sync_interval_ms and at every memtable switch       */
#define LT_SYNC_FULL   2 /* commit returns only after the fdatasync covering it;
                            concurrent committers share one fdatasync (group commit)  */

/* ---- compression: the engine is codec-agnostic; zstd entry points are passed in --- */
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

/* ---- environments (file systems) ---------------------------------------------------- */
typedef struct lt_env lt_env;
/* A process-wide POSIX environment; never freed. */
lt_env *lt_env_posix(void);
/* A new in-memory file system. Persistent until lt_env_free; usable by many opens. */
int  lt_env_mem_new(lt_env **out);
/* A fault-injecting layer over `base` that remembers what was fsync'ed. */
int  lt_env_fault_new(lt_env *base, lt_env **out);
/* Simulate power loss: every file loses what was not fdatasync'ed, and every file
 * created, renamed or removed since its directory was last synced reverts. The
 * database using the env must be closed (or abandoned with lt_db_crash) first. */
int  lt_env_fault_drop_unsynced(lt_env *fault);
/* Kinds of file operation of the fault layer, one bit each, OR'ed into masks. */
#define LT_FAULT_APPEND   0x01  /* append to a writable file (write(2))               */
#define LT_FAULT_SYNC     0x02  /* sync of a writable file (fdatasync)                */
#define LT_FAULT_SYNC_DIR 0x04  /* sync of a directory (creates, renames durable)     */
#define LT_FAULT_RENAME   0x08
#define LT_FAULT_CREATE   0x10  /* new_writable or new_appendable (open for writing)  */
#define LT_FAULT_REMOVE   0x20
#define LT_FAULT_TRUNCATE 0x40
#define LT_FAULT_MKDIR    0x80
#define LT_FAULT_ALL      0xff
/* Flags of lt_env_fault_fail. */
#define LT_FAULT_STICKY   0x01  /* the n-th matching operation and every later one fail */
#define LT_FAULT_PARTIAL  0x02  /* the (first) failing append writes half its bytes     */
/* Arm a fault: the n-th operation from now whose kind is in `ops` (LT_FAULT_* bits)
 * fails with `err` (a negative LT_E* code, e.g. LT_EIO or LT_ENOSPC; the message says
 * "(injected)" and names the operation and path); with LT_FAULT_STICKY every matching
 * operation after it fails too, until the next call. A failed operation changes what
 * the OS would leave changed: nothing, except a LT_FAULT_PARTIAL append, which leaves
 * the first half of its bytes written; a failed sync makes nothing durable. n = 0 (or
 * ops = 0) disarms. Replaces any armed fault. Errors: LT_EINVAL (not a fault env,
 * unknown bits, err not negative). */
int  lt_env_fault_fail(lt_env *fault, unsigned ops, uint64_t n, int err, unsigned flags);
/* lt_env_fault_fail(fault, LT_FAULT_APPEND, n, err ? err : LT_EIO, 0). */
int  lt_env_fault_fail_write(lt_env *fault, uint64_t n, int err);
/* Counters of the fault layer since lt_env_fault_new: operations whose kind is in
 * `ops` (attempted, failed ones included); injected failures; syncs of files and
 * directories that succeeded. 0 for an env that is not a fault env. */
uint64_t lt_env_fault_count(lt_env *fault, unsigned ops);
uint64_t lt_env_fault_injected(lt_env *fault);
uint64_t lt_env_fault_syncs(lt_env *fault);
void lt_env_free(lt_env *env); /* REQUIRES: no open database uses it */

/* ---- options ------------------------------------------------------------------------ */
typedef struct lt_options {
    int      create;            /* create the database if missing (default 1)          */
    int      error_if_exists;   /* fail with LT_EINVAL if it exists (default 0)         */
    int      read_only;         /* no writes, no compaction, shared lock (default 0)    */
    int      sync;              /* LT_SYNC_* (default NORMAL)                           */
    uint32_t sync_interval_ms;  /* NORMAL mode background fsync period (default 5)     */
    size_t   cache_size;        /* block cache bytes (default 64 MiB)                  */
    size_t   memtable_size;     /* switch memtable when it exceeds this (default 4 MiB, min 16 KiB) */
    size_t   block_size;        /* uncompressed data block target (default 4096)        */
    size_t   table_size;        /* target size of a compaction output (default 2 MiB)   */
    size_t   level1_size;       /* max bytes in level 1; x10 per level (default 10 MiB) */
    int      l0_compaction_trigger; /* default 4                                         */
    int      l0_slowdown_trigger;   /* default 8                                         */
    int      l0_stop_trigger;       /* default 12                                        */
    int      bloom_bits_per_key;    /* 0 disables filters (default 10)                   */
    int      background_compaction; /* 0: no background compaction (tests: fixed layouts);
                                       lt_db_compact compacts, and a write that meets
                                       l0_stop_trigger level-0 files compacts in its
                                       own thread before it goes on (default 1)      */
    const lt_codec *codec;      /* NULL: no compression                                 */
    lt_env  *env;               /* NULL: lt_env_posix()                                 */
    int      wal_recovery;      /* LT_WAL_* below: what open does about a damaged log
                                   (default LT_WAL_STRICT)                              */
} lt_options;

/* ---- recovery of the write-ahead log at open ------------------------------------- *
 * A log that ends inside a record (a crash or a full disk cut the last append short)
 * is a torn tail: recovery keeps every complete record before it, cuts the rest and
 * counts it in lt_db_stats ("recovery": "torn_tails", "torn_bytes"). Damage with
 * valid records after it (in the same log or a later one) is not a crash's doing:
 *   LT_WAL_STRICT         open fails with LT_ECORRUPT naming the log and the offset;
 *                         nothing in the directory is changed.
 *   LT_WAL_POINT_IN_TIME  open keeps every record before the damage and drops the
 *                         rest (a consistent earlier state); "records_dropped" and
 *                         "damage" in lt_db_stats say what was dropped, and every log
 *                         with dropped records is copied into the subdirectory lost/
 *                         (never deleted). */
#define LT_WAL_STRICT         0
#define LT_WAL_POINT_IN_TIME  1

/* Fill `o` with the defaults above. */
void lt_options_init(lt_options *o);

/* ---- database ----------------------------------------------------------------------- */
typedef struct lt_db lt_db;

/* Open (or create) the database directory `path`. Opening a path that this process
 * already has open returns a new handle on the same engine (options of the first open
 * stay in force). Another process holding the lock gives LT_ELOCKED with the holder's
 * pid in the message. The lock (the LOCK file) is exclusive for a writer; a read_only
 * open takes it shared, on the file opened read-only, and creates, writes and
 * removes no file (it works on read-only media): read-only processes share it, a
 * writer and readers exclude each other. On success *out must eventually be passed
 * to lt_db_free. */
int  lt_db_open(const char *path, const lt_options *opt, lt_db **out);
/* Close this handle; the engine shuts down (flushes nothing it need not: the log is
 * already durable per the sync mode) when its last handle closes. Waits for calls in
 * progress on this handle. Idempotent. */
int  lt_db_close(lt_db *db);
/* Test hook: abandon the engine as a crash would: no further writes or syncs reach the
 * env, files are closed without syncing, the lock is released. */
int  lt_db_crash(lt_db *db);
void lt_db_free(lt_db *db); /* closes first if needed */

/* Point read at the latest committed state (or a snapshot when snap != NULL).
 * Returns LT_OK and sets *val and *vlen, LT_ENOTFOUND, or an error. *val points to a
 * per-thread buffer owned by the library, valid until this thread's next lt_get. */
typedef struct lt_snapshot lt_snapshot;
int  lt_get(lt_db *db, lt_snapshot *snap, const void *key, size_t klen,
            const char **val, size_t *vlen);

int  lt_put(lt_db *db, const void *key, size_t klen, const void *val, size_t vlen);
int  lt_delete(lt_db *db, const void *key, size_t klen);

/* ---- write batches: applied atomically, all or nothing ------------------------------ */
typedef struct lt_batch lt_batch;
int  lt_batch_new(lt_batch **out);
int  lt_batch_put(lt_batch *b, const void *key, size_t klen, const void *val, size_t vlen);
int  lt_batch_delete(lt_batch *b, const void *key, size_t klen);
/* Append `n` records from a packed buffer: each record is
 *   u8 op (1 = put, 0 = delete) | u32le klen | u32le vlen | key | value
 * (vlen is 0 for deletes). One call for many records keeps bulk loads cheap. */
int  lt_batch_put_packed(lt_batch *b, const void *buf, size_t len, size_t n);
uint32_t lt_batch_count(const lt_batch *b);
size_t lt_batch_size(const lt_batch *b);
void lt_batch_clear(lt_batch *b);
void lt_batch_free(lt_batch *b);

/* Commit validation hook (used by transactions). Called by the commit leader inside
 * the commit critical section, before the batch gets its sequence number, with
 * `last_seq` = the newest sequence number already committed. Return LT_OK to commit,
 * or an error (normally LT_ECONFLICT) to reject: a rejected batch writes nothing. */
typedef int (*lt_validate_fn)(void *arg, uint64_t last_seq);
/* Commit the batch: validate, assign sequence numbers, write the log (sync per mode),
 * apply to the memtable, publish. On success *seq (if not NULL) is the sequence number
 * of the batch's last record. An empty batch commits nothing and succeeds. */
int  lt_write(lt_db *db, lt_batch *b, lt_validate_fn validate, void *arg, uint64_t *seq);

/* ---- snapshots ---------------------------------------------------------------------- */
int  lt_snapshot_new(lt_db *db, lt_snapshot **out);
uint64_t lt_snapshot_seq(const lt_snapshot *s);
int  lt_snapshot_release(lt_snapshot *s);
void lt_snapshot_free(lt_snapshot *s); /* releases first if needed */

/* ---- iterators ---------------------------------------------------------------------- */
typedef struct lt_iterator lt_iterator;
/* Range [start, end) (NULL = unbounded), in key order or reverse, at the snapshot or
 * the latest state. The iterator pins the files and memtables it reads. */
int  lt_iter_new(lt_db *db, lt_snapshot *snap,
                 const void *start, size_t slen, const void *end, size_t elen,
                 int reverse, lt_iterator **out);
/* Fill `buf` with up to `max_items` entries, each u32le klen | u32le vlen | key | value.
 * Sets *n_items and *used. Returns LT_OK with *n_items == 0 only at the end. An entry
 * bigger than `cap` sets *n_items = 0 and *used to the size needed (retry bigger). */
int  lt_iter_next_batch(lt_iterator *it, char *buf, size_t cap, size_t max_items,
                        size_t *n_items, size_t *used);
int  lt_iter_close(lt_iterator *it);
void lt_iter_free(lt_iterator *it);

/* ---- transactions ------------------------------------------------------------------- *
 * A transaction reads at a snapshot taken when it begins and buffers its writes in
 * memory; its reads and scans see its own writes merged over the snapshot. Commit
 * goes through lt_write's one commit path: validation, sequence numbers, log, apply,
 * publish (group commit, sync mode honoured). A transaction that fails validation
 * writes nothing. Plain lt_put/lt_delete/lt_write commits take part in conflict
 * detection exactly as their sequence numbers say.
 *
 * Isolation (checked at commit against every commit after the snapshot):
 *   LT_TXN_SNAPSHOT      a key this transaction writes was committed by someone else
 *                        after its snapshot -> LT_ECONFLICT (first committer wins).
 *   LT_TXN_SERIALIZABLE  also: a key it read (lt_txn_get), or any key inside a range it
 *                        scanned (the part of the range the scan actually delivered),
 *                        was committed after its snapshot -> LT_ECONFLICT.
 * A read-only transaction, or one that wrote nothing, commits without validation (it
 * serializes at its snapshot) and never conflicts. Reads and scans rolled back with
 * lt_txn_rollback_to still count at commit (conservative).
 * The LT_ECONFLICT message names a conflicting key (non-printable bytes as \xNN).
 *
 * Limits: the write buffer holds at most `max_write_bytes` (keys + values + 16 bytes
 * per write; default LT_TXN_DEFAULT_MAX_WRITE_BYTES): a write past it fails with
 * LT_EINVAL and changes nothing (the transaction stays usable). The engine's conflict
 * tracker holds the keys of the commits made since the oldest live snapshot while a
 * read-write transaction is open, and nothing when none is.
 *
 * Threads: a transaction and its iterators may be used from any thread, but not from
 * two at the same time; lt_txn_iter_free alone may be called from any thread at any
 * time (a garbage collector freeing an abandoned scan) while the transaction is used.
 * Lifetimes: commit and rollback end the transaction (and close its iterators); every
 * later call returns LT_ECLOSED, except lt_txn_free. Closing the database ends its
 * transactions' usefulness: calls return LT_ECLOSED. */
#define LT_TXN_SNAPSHOT     0
#define LT_TXN_SERIALIZABLE 1
#define LT_TXN_DEFAULT_MAX_WRITE_BYTES (64u * 1024u * 1024u)

typedef struct lt_txn lt_txn;
typedef struct lt_txn_iter lt_txn_iter;

/* Begin a transaction. isolation: LT_TXN_*; read_only: 1 makes writes fail with
 * LT_EREADONLY; max_write_bytes: 0 = the default. Errors: LT_EINVAL (bad isolation),
 * LT_EREADONLY (read-write on a read-only database), LT_ECLOSED, LT_ENOMEM, LT_EBUSY.
 * On success *out must eventually be passed to lt_txn_free. */
int  lt_txn_begin(lt_db *db, int isolation, int read_only, size_t max_write_bytes,
                  lt_txn **out);
/* The sequence number of the transaction's snapshot. */
uint64_t lt_txn_snapshot_seq(const lt_txn *t);
/* Read `key`: the transaction's own latest write, else the snapshot. LT_OK with
 * *val and *vlen (valid until the next call on this transaction or this thread's next
 * lt_get), or LT_ENOTFOUND, or an error. */
int  lt_txn_get(lt_txn *t, const void *key, size_t klen, const char **val, size_t *vlen);
/* lt_txn_get with flags. LT_GET_PRESENT: the caller expects the key to exist (e.g. a
 * row named by an index entry), so tables' bloom filters are not consulted: they
 * only save work for absent keys and cost a cache miss or two for present ones.
 * The result is the same either way. */
#define LT_GET_PRESENT 1
int  lt_txn_get_ex(lt_txn *t, const void *key, size_t klen, int flags, const char **val,
                   size_t *vlen);
/* Buffer a put / a delete. LT_EINVAL: key or value too large, or the write buffer
 * limit reached; LT_EREADONLY: read-only transaction. */
int  lt_txn_put(lt_txn *t, const void *key, size_t klen, const void *val, size_t vlen);
int  lt_txn_delete(lt_txn *t, const void *key, size_t klen);
/* Insert-if-absent: buffer a put of `key` unless the key is visible to the
 * transaction (its own latest write, else the snapshot): what lt_txn_get followed by
 * lt_txn_put does for LT_ENOTFOUND, in one call and one search of the write buffer.
 * Validation: when the key is found (LT_EEXISTS), or the put fails, the read is
 * recorded as lt_txn_get records it (serializable). When the put is made, the absence
 * read is not recorded: the written key is validated at commit under both isolation
 * levels, so any commit of the key after the snapshot is a conflict either way; if a
 * rollback to a savepoint later undoes the put, the read is recorded then.
 * Errors: LT_EEXISTS (nothing written), those of lt_txn_get and of lt_txn_put. */
int  lt_txn_insert(lt_txn *t, const void *key, size_t klen, const void *val, size_t vlen);
/* Savepoints form a stack. lt_txn_savepoint pushes one and sets *id (its depth, 1 for
 * the outermost). lt_txn_rollback_to(id) undoes every write made since savepoint id
 * was taken and discards the savepoints above it (id stays valid).
 * lt_txn_release(id) discards savepoint id and those above it, keeping the writes.
 * LT_EINVAL for an id that is not on the stack. */
int  lt_txn_savepoint(lt_txn *t, uint64_t *id);
int  lt_txn_rollback_to(lt_txn *t, uint64_t id);
int  lt_txn_release(lt_txn *t, uint64_t id);
/* Commit and end the transaction. On success *seq (if not NULL) is the sequence
 * number of its last write (the snapshot's for a transaction that wrote nothing).
 * LT_ECONFLICT: validation rejected it; nothing was written. Whatever the result, the
 * transaction has ended. */
int  lt_txn_commit(lt_txn *t, uint64_t *seq);
/* Discard the writes and end the transaction. Idempotent; LT_OK on an ended one. */
int  lt_txn_rollback(lt_txn *t);
/* Rolls back first if the transaction is still open. */
void lt_txn_free(lt_txn *t);
/* Number of buffered writes (all versions, after rollbacks to savepoints). */
uint64_t lt_txn_write_count(const lt_txn *t);

/* A scan of [start, end) (NULL = unbounded) in key order or reverse: the transaction's
 * writes as of this call merged over its snapshot (later writes by the transaction are
 * not seen by this scan). Entries come out exactly as from lt_iter_next_batch.
 * Under LT_TXN_SERIALIZABLE the part of the range delivered so far is recorded for
 * validation: [start, last key delivered] forward, [last key delivered, end) reverse,
 * all of [start, end) once the end is reached. */
int  lt_txn_iter_new(lt_txn *t, const void *start, size_t slen, const void *end, size_t elen,
                     int reverse, lt_txn_iter **out);
int  lt_txn_iter_next_batch(lt_txn_iter *it, char *buf, size_t cap, size_t max_items,
                            size_t *n_items, size_t *used);
int  lt_txn_iter_close(lt_txn_iter *it);
void lt_txn_iter_free(lt_txn_iter *it);
/* A short scan in one call (an SQL index lookup): what lt_txn_iter_new, repeated
 * lt_txn_iter_next_batch calls into one buffer and lt_txn_iter_free would give, with
 * the iterator's memory kept by the transaction for its next lt_txn_scan. Fills
 * `buf` with up to `max_items` entries in the lt_iter_next_batch format, stopping
 * early where the next entry does not fit. *finished = 1 when the end of the range
 * was reached (the entries are then all of it, and under LT_TXN_SERIALIZABLE all of
 * [start, end) counts as read); otherwise the part delivered counts, as for an
 * iterator. A first entry bigger than `cap`: *n_items = 0, *used = the size needed,
 * *finished = 0. Same errors as lt_txn_iter_new / lt_txn_iter_next_batch. */
int  lt_txn_scan(lt_txn *t, const void *start, size_t slen, const void *end, size_t elen,
                 int reverse, char *buf, size_t cap, size_t max_items, size_t *n_items,
                 size_t *used, int *finished);

/* ---- maintenance -------------------------------------------------------------------- */
/* Write the memtable to a level-0 table and wait for it. */
int  lt_db_flush(lt_db *db);
/* Compact every level overlapping [start, end) (NULL = unbounded) down to the bottom. */
int  lt_db_compact(lt_db *db, const void *start, size_t slen, const void *end, size_t elen);
/* JSON object of statistics written to buf (NUL-terminated); *needed = full length.
 * Its "recovery" object says what the open that started the engine found: the
 * wal_recovery mode, "records_replayed", "torn_tails" and "torn_bytes" (log tails cut),
 * "records_dropped" and "logs_set_aside" (point-in-time recovery), "manifest_torn_bytes"
 * (a torn last manifest record ignored) and "damage" (the first damage met, or ""). */
int  lt_db_stats(lt_db *db, char *buf, size_t cap, size_t *needed);

/* Rebuild the database directory `path` from the table files and logs in it, for a
 * database that does not open because its CURRENT or manifest is missing or damaged
 * (or to salvage what a damaged log holds after its damage). The database must not
 * be open (LT_ELOCKED otherwise, in this process too). `opt` may be NULL; of it only
 * env, block_size, table_size, bloom_bits_per_key and codec are used (the codec is
 * needed to read compressed tables).
 *
 * Every table is read whole (checksums checked) and every log is read, resuming after
 * damage; the newest version of each key, by sequence number, is written to new
 * tables at the bottom level, then a new manifest and CURRENT. A damaged table is
 * moved into `path`/lost/ and a damaged log copied there; neither is ever deleted.
 * Old manifests are moved into lost/; intact old tables and logs, whose contents the
 * new tables hold, are deleted. A crash during repair leaves the old files in place
 * until the new CURRENT is written, so repair can simply be run again.
 *
 * On success a JSON object is written to `report` (NUL-terminated, cut to `cap`
 * bytes; *needed = its full length + 1 if `needed` is not NULL): "tables" and
 * "table_entries" (tables read whole and the entries in them), "logs",
 * "log_records" (batches recovered from logs), "damaged_logs", "damaged_tables",
 * "keys" and "tables_written" (the rebuilt database), "last_sequence", "manifest"
 * (the new manifest's name), "set_aside": [{"file": "lost/NNNNNN.ldt", "reason":
 * "..."}, ...]. Errors: LT_ENOENT (no such directory), LT_ELOCKED, LT_EIO, LT_ENOSPC,
 * LT_ENOMEM, LT_EINVAL (compressed tables but no codec: such a table is reported as
 * set aside, so pass the codec). */
int  lt_db_repair(const char *path, const lt_options *opt, char *report, size_t cap,
                  size_t *needed);

#ifdef __cplusplus
}
#endif
#endif /* LIGHTNING_H */
