/* write_batch.h: the contents of an atomic write, also the payload of a log record.
 *
 * Representation (little-endian):
 *   offset size  field
 *   0      8     sequence number of the first record (set at commit)
 *   8      4     record count
 *   12     ...   records: u8 type | varint32 klen | key | (type VALUE: varint32 vlen | value)
 * Records get consecutive sequence numbers in order. Stored types never change
 * (LT_TYPE_DELETION 0, LT_TYPE_VALUE 1, see dbformat.h). */
#ifndef LT_WRITE_BATCH_H
#define LT_WRITE_BATCH_H

#include <stdint.h>
#include "../include/lightning.h"
#include "../util/slice.h"

#define LT_BATCH_HEADER 12

struct lt_batch {
    lt_buf rep;      /* always holds at least the header once initialised */
};

uint64_t lt_batch_seq(const lt_batch *b);
void lt_batch_set_seq(lt_batch *b, uint64_t seq);
/* Append the records of `src` to `dst` (group commit). */
int  lt_batch_append(lt_batch *dst, const lt_batch *src);
/* Replace the contents with a log record payload (recovery). Validates the whole
 * representation first, so that a batch accepted here is applied whole by
 * lt_batch_iterate or not at all: LT_ECORRUPT (b unchanged) for a bad record type or
 * length, a count that does not match the records, or sequence numbers that would
 * pass LT_MAX_SEQ. */
int  lt_batch_set_contents(lt_batch *b, lt_slice rep);

/* Visit every record in order. The callback returns LT_OK to go on. Returns
 * LT_ECORRUPT if the representation is malformed (as lt_batch_set_contents checks;
 * the records before the malformed one have been visited). */
typedef int (*lt_batch_visitor)(void *arg, uint64_t seq, int type, lt_slice key, lt_slice value);
int  lt_batch_iterate(const lt_batch *b, lt_batch_visitor fn, void *arg);

#endif
