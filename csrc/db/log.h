/* log.h: writing and reading the record log (format in log_format.h).
 * A writer or reader is used by one thread at a time. */
#ifndef LT_LOG_H
#define LT_LOG_H

#include <stdint.h>
#include "../env/env.h"
#include "../util/slice.h"

typedef struct lt_log_writer lt_log_writer;

/* The writer appends to `f` (not owned), which already holds `initial_size` bytes. */
lt_log_writer *lt_log_writer_new(lt_wfile *f, uint64_t initial_size);
/* Append one record (fragments as needed). Does not flush or sync: the caller does
 * lt_wflush / lt_wsync on the file. On error the log must not be written again. */
int  lt_log_add_record(lt_log_writer *w, const void *data, size_t n);
uint64_t lt_log_writer_offset(const lt_log_writer *w);
void lt_log_writer_free(lt_log_writer *w);

typedef struct lt_log_reader lt_log_reader;

/* Read records from `f` (not owned) starting at offset 0. `name` (copied) is used in
 * messages. */
lt_log_reader *lt_log_reader_new(lt_rfile *f, const char *name);
/* Next record: LT_OK with *rec valid until the next call; LT_ENOTFOUND at the end of
 * the log or at the first torn/bad fragment (after which lt_log_reader_bad_tail is 1,
 * lt_log_reader_end says which, and lt_log_reader_last_good gives the truncation
 * point); LT_EIO on read errors. */
int  lt_log_read_record(lt_log_reader *r, lt_slice *rec);
/* Offset just past the last complete record returned. */
uint64_t lt_log_reader_last_good(const lt_log_reader *r);
/* 1 if reading stopped at a damaged fragment rather than a clean end. */
int  lt_log_reader_bad_tail(const lt_log_reader *r);
/* Description of the damage (static per reader), "" if none. */
const char *lt_log_reader_damage(const lt_log_reader *r);

/* How reading ended, once lt_log_read_record returned LT_ENOTFOUND (log_reader.c
 * explains how damage is told from a torn tail). */
enum {
    LT_LOG_END_CLEAN = 0,       /* at a record boundary (or zero block padding) */
    LT_LOG_END_TORN = 1,        /* the file ends inside the last record */
    LT_LOG_END_DAMAGED = 2,     /* a whole damaged fragment, nothing valid after it */
    LT_LOG_END_DAMAGED_MID = 3  /* damage followed by a valid fragment */
};
int  lt_log_reader_end(const lt_log_reader *r);
/* Offset of the damaged fragment (or of the record it cut short). */
uint64_t lt_log_reader_damage_offset(const lt_log_reader *r);
/* LT_LOG_END_DAMAGED_MID: offset of the first valid fragment after the damage. */
uint64_t lt_log_reader_next_valid(const lt_log_reader *r);
/* After LT_LOG_END_DAMAGED_MID: go on reading at the next valid fragment (skipping
 * the rest of a record cut by the damage). LT_OK, LT_ENOTFOUND if reading did not end
 * that way, or LT_EIO. lt_log_reader_damage keeps describing the last damage met. */
int  lt_log_reader_resume(lt_log_reader *r);
void lt_log_reader_free(lt_log_reader *r);

#endif
