/* version_set.h: which table files make up the database, level by level, and the
 * manifest that records every change to that set.
 *
 * A version is an immutable list of files per level (level 0: overlapping files,
 * newest last; levels >= 1: disjoint files sorted by smallest key). Readers and
 * iterators pin a version with a reference; a file is deleted only when no live
 * version lists it. The version set owns the current version, the file-number and
 * sequence counters, and the manifest: a record log (log_format.h) of version edits,
 * named by the CURRENT file ("MANIFEST-000123\n").
 *
 * Version edit record (all integers varint64 unless said):
 *   tag 1 log_number | tag 2 next_file_number | tag 3 last_sequence |
 *   tag 4 compact_pointer: level(varint32) ikey(len-prefixed) |
 *   tag 5 deleted_file: level(varint32) number |
 *   tag 6 new_file: level(varint32) number size smallest(len-prefixed) largest(len-prefixed) |
 *   tag 9 format: len-prefixed string "lightning.bytewise.1"
 * Tags are stored values and never change.
 *
 * Thread-safety: lt_vset_log_and_apply calls are serialised by the caller (one
 * manifest writer at a time); it installs the new current version under `mu`, the
 * mutex under which readers call lt_vset_current_ref. Versions' reference counts are
 * atomic; lt_version_get and iterators need no lock. */
#ifndef LT_VERSION_SET_H
#define LT_VERSION_SET_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include "dbformat.h"
#include "../env/env.h"
#include "../table/table.h"
#include "../util/iterator.h"

typedef struct lt_file_meta {
    atomic_int refs;
    uint64_t number;
    uint64_t size;
    lt_buf smallest;              /* internal keys */
    lt_buf largest;
    _Atomic(lt_table *) table;    /* opened on first use */
} lt_file_meta;

typedef struct lt_vset lt_vset;

typedef struct lt_version {
    lt_vset *vs;
    atomic_int refs;
    lt_file_meta **files[LT_NUM_LEVELS];
    int nfiles[LT_NUM_LEVELS];
    double score;                 /* >= 1: compaction needed at score_level */
    int score_level;
    struct lt_version *prev, *next;
} lt_version;

typedef struct lt_new_file { int level; lt_file_meta *f; } lt_new_file;
typedef struct lt_del_file { int level; uint64_t number; } lt_del_file;

typedef struct lt_version_edit {
    int has_log_number, has_next_file, has_last_seq;
    uint64_t log_number, next_file, last_seq;
    lt_new_file *added; int nadded, capadded;      /* holds a ref on each file */
    lt_del_file *deleted; int ndeleted, capdeleted;
    int has_cp[LT_NUM_LEVELS];
    lt_buf cp[LT_NUM_LEVELS];
} lt_version_edit;

void lt_edit_init(lt_version_edit *e);
void lt_edit_free(lt_version_edit *e);
int  lt_edit_add_file(lt_version_edit *e, int level, uint64_t number, uint64_t size,
                      lt_slice smallest, lt_slice largest);
int  lt_edit_delete_file(lt_version_edit *e, int level, uint64_t number);
int  lt_edit_set_compact_pointer(lt_version_edit *e, int level, lt_slice ikey);
int  lt_edit_encode(const lt_version_edit *e, lt_buf *out);
int  lt_edit_decode(lt_version_edit *e, lt_slice in, const char *manifest_name);

lt_file_meta *lt_file_meta_new(uint64_t number, uint64_t size, lt_slice smallest, lt_slice largest);
void lt_file_meta_ref(lt_file_meta *f);
void lt_file_meta_unref(lt_file_meta *f);

typedef struct lt_vset_config {
    lt_env *env;
    const char *dir;
    lt_table_options topt;
    lt_cache *cache;
    size_t level1_size;
    int l0_compaction_trigger;
} lt_vset_config;

struct lt_vset {
    lt_vset_config cfg;
    char *dir;
    atomic_uint_fast64_t next_file;  /* next file number to hand out */
    atomic_uint_fast64_t last_seq;   /* newest sequence number written to the log */
    uint64_t log_number;             /* logs older than this are obsolete */
    uint64_t manifest_number;
    lt_version *current;
    lt_version head;                 /* circular list of live versions */
    pthread_mutex_t list_mu;
    pthread_mutex_t open_mu;
    lt_wfile *manifest_file;
    struct lt_log_writer *manifest_log;
    lt_buf compact_pointer[LT_NUM_LEVELS];
    uint64_t manifest_syncs;
    int manifest_failed;             /* an append or sync failed: no more edits */
    uint64_t manifest_torn_bytes;    /* recovery ignored a torn last record this long */
};

int  lt_vset_new(const lt_vset_config *cfg, lt_vset **out);
void lt_vset_free(lt_vset *vs);   /* REQUIRES: only the current version is live */
/* Read CURRENT and replay the manifest it names into the current version. A torn
 * last record (the file ends inside it: an append cut short) is ignored and its length
 * kept in manifest_torn_bytes; any other damage, a CURRENT that names no manifest or a
 * missing manifest is LT_ECORRUPT naming the file. */
int  lt_vset_recover(lt_vset *vs);
/* Start a new manifest holding the whole current state, point CURRENT at it
 * (durably) and remember it as the one edits go to. */
int  lt_vset_new_manifest(lt_vset *vs);
/* Apply `edit` to the current version, append it to the manifest and sync it, then
 * install the result as current under `mu`. On failure nothing changes; after a failed
 * append or sync the manifest takes no more edits (every later call fails, LT_EIO). */
int  lt_vset_log_and_apply(lt_vset *vs, lt_version_edit *edit, pthread_mutex_t *mu);
uint64_t lt_vset_new_file_number(lt_vset *vs);
/* Apply an edit made during recovery to the current version without writing the
 * manifest (lt_vset_new_manifest follows and records the whole state). */
int  lt_vset_apply_recovered(lt_vset *vs, lt_version_edit *edit, pthread_mutex_t *mu);

/* Current version with a reference. REQUIRES: the caller holds `mu` of log_and_apply. */
lt_version *lt_vset_current_ref(lt_vset *vs);
void lt_version_ref(lt_version *v);
void lt_version_unref(lt_version *v);

/* Open (once) and return the table of a file. */
int  lt_vset_table(lt_vset *vs, lt_file_meta *f, lt_table **out);

/* Point lookup of user key at sequence `seq` through the levels. Returns LT_OK with
 * the value appended to `out` (cleared first), LT_ENOTFOUND, or an error. `flags`:
 * LT_GET_PRESENT skips the tables' bloom filters (see lightning.h). */
int  lt_version_get(lt_version *v, lt_slice ukey, uint64_t seq, int flags, lt_buf *out);

/* Blocks a user iterator adds to the block cache per table file: a short range scan
 * warms the cache like a get does, a long scan does not flush it. */
#define LT_SCAN_FILL_BLOCKS 4

/* Append iterators (caller owns them) over every file of v to its array:
 * one per level-0 file, one concatenating iterator per deeper level. The array
 * (*cap entries) grows on the heap; `fixed` names the caller's initial array, which
 * is copied rather than reallocated (NULL: *its is a heap array or NULL). */
int  lt_version_iterators(lt_version *v, lt_iter ***its, int *n, int *cap, lt_iter **fixed);
/* Concatenating iterator over one level's files (level >= 1). Pins v. */
lt_iter *lt_version_level_iter(lt_version *v, int level);

/* Files of `level` overlapping user-key range [begin, end] (NULL = unbounded);
 * for level 0 the range grows to cover overlapping files transitively.
 * Returns a malloc'ed array (or NULL when *n == 0). */
lt_file_meta **lt_version_overlapping(lt_version *v, int level, const lt_slice *begin,
                                      const lt_slice *end, int *n);
/* 1 if no file in levels > `level` can contain user key `ukey`. */
int  lt_version_is_base_level_for(lt_version *v, int level, lt_slice ukey);
uint64_t lt_version_level_bytes(const lt_version *v, int level);
/* Max bytes for a level (level1_size * 10^(level-1)). */
double lt_vset_max_bytes(const lt_vset *vs, int level);

/* Add the number of every file listed by a live version to `nums` (caller sorts). */
int  lt_vset_live_files(lt_vset *vs, uint64_t **nums, size_t *n, size_t *cap);

#endif
