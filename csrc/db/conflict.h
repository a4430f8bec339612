/* conflict.h: the engine's conflict tracker, the memory behind transaction validation.
 *
 * It remembers, for recent commits, which keys they wrote and at what sequence number
 * (FoundationDB's "recent write set"), so a committing transaction can ask: "did
 * anything commit a write to this key, or inside this key range, after my snapshot?"
 *
 * Invariants (all under the engine mutex `mu`):
 *   1. Every commit with sequence number > `floor` is recorded, as long as at least
 *      one read-write transaction is registered (`active` > 0). While none is, commits
 *      are not recorded; `floor` rises to their sequence numbers instead.
 *   2. A transaction may rely on the tracker only if its snapshot >= `floor`
 *      (lt_txn_begin waits until its snapshot covers any unrecorded commit in flight;
 *      a failed allocation while recording raises `floor`, which makes validation of
 *      older transactions fail safe: they conflict, they are never wrongly accepted).
 *   3. Entries with sequence <= the oldest live snapshot can never matter (a
 *      transaction's snapshot already sees them) and are pruned: the tracker holds at
 *      most the writes committed since the oldest live snapshot, plus slack of 2x.
 *      When the last read-write transaction ends, the tracker is emptied.
 *
 * Representation: an lt_memtable (the engine's skiplist, ordered by internal key)
 * holding one entry (key, commit sequence, VALUE, "") per key per commit, so the
 * newest commit of a key comes first and range checks are ordered walks.
 *
 * Thread-safety: none of its own; every call REQUIRES the engine's `mu` held. */
#ifndef LT_CONFLICT_H
#define LT_CONFLICT_H

#include <stdint.h>
#include "memtable.h"
#include "write_batch.h"

typedef struct lt_conflict {
    lt_memtable *keys;        /* key -> commit seq, all versions */
    uint64_t floor;           /* commits at or below may be unrecorded (invariant 1) */
    int active;               /* registered read-write transactions */
    uint64_t prune_at;        /* entry count that triggers the next prune */
} lt_conflict;

/* NULL on ENOMEM. */
lt_conflict *lt_conflict_new(void);
void lt_conflict_free(lt_conflict *c);

/* The commit leader, for a batch it accepted: record each key of `b` at `last_seq`
 * (the batch's last sequence number) if a read-write transaction is active, else just
 * raise the floor. Then prune below `oldest_snapshot` when the tracker has grown.
 * Never fails: an allocation failure raises the floor (invariant 2). */
void lt_conflict_record(lt_conflict *c, const lt_batch *b, uint64_t last_seq,
                        uint64_t oldest_snapshot);

/* A transaction registers before taking its snapshot and unregisters when it ends;
 * the last one out empties the tracker. */
void lt_conflict_register(lt_conflict *c);
void lt_conflict_unregister(lt_conflict *c);

/* 1 if `key` was committed at a sequence > snap (then *seq = that commit's), else 0. */
int lt_conflict_key(lt_conflict *c, lt_slice key, uint64_t snap, uint64_t *seq);

/* 1 if a key in [start, end) (NULL = unbounded) was committed at a sequence > snap;
 * then *key is set to the first such key (it points into the tracker: valid while mu
 * is held) and *seq to its commit's sequence. */
int lt_conflict_range(lt_conflict *c, const lt_slice *start, const lt_slice *end,
                      uint64_t snap, lt_slice *key, uint64_t *seq);

/* Drop every entry with sequence <= `below` (rebuilds the skiplist). */
void lt_conflict_prune(lt_conflict *c, uint64_t below);

uint64_t lt_conflict_count(const lt_conflict *c);
size_t lt_conflict_memory(const lt_conflict *c);

#endif
