/* log_writer.c: appending records to the record log (format in log_format.h).
 *
 * The writer knows where it is inside the current 32 KiB block. A record is cut into
 * fragments that fill the rest of the block; when fewer than 7 bytes (a header) remain,
 * they are written as zeroes and the next fragment starts the next block. A record
 * that fits whole is one FULL fragment (an empty record is a FULL fragment with no
 * payload); otherwise it is FIRST, MIDDLE..., LAST. When exactly 7 bytes remain, a
 * FIRST fragment with an empty payload fills them. Each header carries the masked
 * CRC-32C of the type byte followed by the payload.
 *
 * After a failed append the file holds an unknown prefix of the record, so the writer
 * refuses all later records (the caller must start a new log). */
#include <stdlib.h>
#include <string.h>

#include "../util/coding.h"
#include "../util/crc32c.h"
#include "../util/status.h"
#include "log.h"
#include "log_format.h"

struct lt_log_writer {
    lt_wfile *f;
    uint64_t offset;       /* bytes in the log */
    size_t block_off;      /* offset inside the current block */
    int failed;            /* an append failed: no further writes */
    uint32_t type_crc[LT_LOG_LAST + 1]; /* CRC of each type byte, to extend */
};

lt_log_writer *lt_log_writer_new(lt_wfile *f, uint64_t initial_size) {
    lt_log_writer *w = calloc(1, sizeof *w);
    if (!w) {
        lt_seterr(LT_ENOMEM, "log writer: out of memory");
        return NULL;
    }
    w->f = f;
    w->offset = initial_size;
    w->block_off = (size_t)(initial_size % LT_LOG_BLOCK_SIZE);
    for (int t = 0; t <= LT_LOG_LAST; t++) {
        unsigned char b = (unsigned char)t;
        w->type_crc[t] = lt_crc32c(&b, 1);
    }
    return w;
}

void lt_log_writer_free(lt_log_writer *w) {
    free(w);
}

uint64_t lt_log_writer_offset(const lt_log_writer *w) {
    return w->offset;
}

static int emit(lt_log_writer *w, int type, const char *p, size_t n) {
    char hdr[LT_LOG_HEADER_SIZE];
    uint32_t crc = lt_crc32c_extend(w->type_crc[type], p, n);
    lt_put_fixed32(hdr, lt_crc_mask(crc));
    hdr[4] = (char)(n & 0xff);
    hdr[5] = (char)(n >> 8);
    hdr[6] = (char)type;
    int rc = lt_wappend(w->f, hdr, sizeof hdr);
    if (rc == LT_OK && n > 0) rc = lt_wappend(w->f, p, n);
    if (rc) return rc;
    w->offset += LT_LOG_HEADER_SIZE + n;
    w->block_off += LT_LOG_HEADER_SIZE + n;
    return LT_OK;
}

int lt_log_add_record(lt_log_writer *w, const void *data, size_t n) {
    static const char zeroes[LT_LOG_HEADER_SIZE];
    if (w->failed)
        return lt_seterr(LT_EIO, "log writer: an earlier append failed; the log is closed "
                         "to writes at offset %llu", (unsigned long long)w->offset);
    const char *p = data;
    size_t left = n;
    int first = 1, rc = LT_OK;
    do {
        size_t room = LT_LOG_BLOCK_SIZE - w->block_off;
        if (room < LT_LOG_HEADER_SIZE) { /* pad the block tail, move to the next block */
            if (room > 0 && (rc = lt_wappend(w->f, zeroes, room)) != LT_OK) break;
            w->offset += room;
            w->block_off = 0;
            room = LT_LOG_BLOCK_SIZE;
        }
        size_t avail = room - LT_LOG_HEADER_SIZE;
        size_t frag = left < avail ? left : avail;
        int last = frag == left;
        int type = first && last ? LT_LOG_FULL : first ? LT_LOG_FIRST
                 : last ? LT_LOG_LAST : LT_LOG_MIDDLE;
        if ((rc = emit(w, type, p, frag)) != LT_OK) break;
        p += frag;
        left -= frag;
        first = 0;
    } while (left > 0);
    if (rc) w->failed = 1;
    return rc;
}
