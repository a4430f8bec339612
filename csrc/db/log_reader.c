/* log_reader.c: reading records back from the record log (format in log_format.h).
 *
 * The file is read one 32 KiB block at a time with lt_rread; a read shorter than a
 * block marks the end of the file. Fragments are checked and reassembled:
 *   FULL alone, or FIRST, MIDDLE..., LAST into the reader's buffer.
 * Reading stops for good at the first of:
 *   clean end      the file ends at a fragment boundary, or within a block tail of
 *                  fewer than 7 bytes that are all zero (bad_tail = 0);
 *   torn tail      the file ends inside a header or payload, or after a FIRST/MIDDLE
 *                  without its LAST (bad_tail = 1);
 *   damage         a CRC mismatch, a length running past the block end, a type-0 or
 *                  unknown type, or a fragment out of sequence (bad_tail = 1).
 * last_good is the offset just past the last complete record returned, where recovery
 * truncates. The tail of a full block shorter than a header is padding and skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/coding.h"
#include "../util/crc32c.h"
#include "../util/status.h"
#include "log.h"
#include "log_format.h"

enum { FRAG_OK, FRAG_END, FRAG_BAD, FRAG_IOERR };

struct lt_log_reader {
    lt_rfile *f;
    char *name;
    char *block;           /* LT_LOG_BLOCK_SIZE bytes */
    uint64_t block_start;  /* file offset of block[0] */
    size_t block_len;      /* valid bytes in block */
    size_t pos;            /* next unread byte in block */
    int eof;               /* the last block read was short: no more after it */
    int done;              /* stopped: every further read returns LT_ENOTFOUND */
    int bad_tail;
    uint64_t last_good;
    lt_buf rec;            /* a record reassembled from fragments */
    char damage[256];
};

lt_log_reader *lt_log_reader_new(lt_rfile *f, const char *name) {
    lt_log_reader *r = calloc(1, sizeof *r);
    if (r) {
        r->name = strdup(name ? name : "log");
        r->block = malloc(LT_LOG_BLOCK_SIZE);
    }
    if (!r || !r->name || !r->block) {
        if (r) { free(r->name); free(r->block); free(r); }
        lt_seterr(LT_ENOMEM, "log reader: out of memory");
        return NULL;
    }
    r->f = f;
    lt_rreadahead(f, 0, (size_t)lt_rsize(f));
    return r;
}

void lt_log_reader_free(lt_log_reader *r) {
    if (!r) return;
    lt_buf_free(&r->rec);
    free(r->block);
    free(r->name);
    free(r);
}

uint64_t lt_log_reader_last_good(const lt_log_reader *r) { return r->last_good; }
int lt_log_reader_bad_tail(const lt_log_reader *r) { return r->bad_tail; }
const char *lt_log_reader_damage(const lt_log_reader *r) { return r->damage; }

static int bad(lt_log_reader *r, uint64_t off, const char *what) {
    snprintf(r->damage, sizeof r->damage, "log %s: %s at offset %llu", r->name, what,
             (unsigned long long)off);
    r->bad_tail = 1;
    return FRAG_BAD;
}

/* Next fragment: its type, payload and file offset (of its header). */
static int read_fragment(lt_log_reader *r, int *type, lt_slice *payload, uint64_t *at) {
    for (;;) {
        size_t left = r->block_len - r->pos;
        if (left >= LT_LOG_HEADER_SIZE) break;
        if (r->eof) { /* the file ends here */
            for (size_t i = 0; i < left; i++)
                if (r->block[r->pos + i] != 0)
                    return bad(r, r->block_start + r->pos, "header cut off by end of file");
            return FRAG_END;
        }
        /* A full block's tail (< 7 bytes) is padding: go on to the next block. */
        r->block_start += r->block_len;
        r->block_len = r->pos = 0;
        size_t got = 0;
        if (lt_rread(r->f, r->block_start, LT_LOG_BLOCK_SIZE, r->block, &got) != LT_OK) {
            snprintf(r->damage, sizeof r->damage, "%s", lt_errmsg());
            return FRAG_IOERR;
        }
        r->block_len = got;
        if (got < LT_LOG_BLOCK_SIZE) r->eof = 1;
    }
    const char *h = r->block + r->pos;
    *at = r->block_start + r->pos;
    uint32_t len = (uint32_t)(unsigned char)h[4] | ((uint32_t)(unsigned char)h[5] << 8);
    *type = (unsigned char)h[6];
    if (*type == LT_LOG_ZERO) return bad(r, *at, "zero fragment type");
    if (*type > LT_LOG_LAST) return bad(r, *at, "unknown fragment type");
    if (LT_LOG_HEADER_SIZE + (size_t)len > r->block_len - r->pos)
        return bad(r, *at, r->eof && r->block_len < LT_LOG_BLOCK_SIZE &&
                                   r->pos + LT_LOG_HEADER_SIZE + len <= LT_LOG_BLOCK_SIZE
                               ? "fragment cut off by end of file"
                               : "fragment length runs past the block end");
    uint32_t want = lt_crc_unmask(lt_get_fixed32(h));
    if (lt_crc32c(h + 6, 1 + (size_t)len) != want) return bad(r, *at, "checksum mismatch");
    *payload = lt_slice_make(h + LT_LOG_HEADER_SIZE, len);
    r->pos += LT_LOG_HEADER_SIZE + len;
    return FRAG_OK;
}

int lt_log_read_record(lt_log_reader *r, lt_slice *rec) {
    int in_record = 0;
    uint64_t rec_start = 0;
    if (r->done) return LT_ENOTFOUND;
    lt_buf_clear(&r->rec);
    for (;;) {
        int type = 0;
        lt_slice frag = { NULL, 0 };
        uint64_t at = 0;
        int st = read_fragment(r, &type, &frag, &at);
        if (st == FRAG_IOERR) {
            r->done = 1;
            return lt_seterr(LT_EIO, "%s", r->damage);
        }
        if (st == FRAG_END && in_record) {
            snprintf(r->damage, sizeof r->damage, "log %s: record at offset %llu has no "
                     "last fragment (end of file)", r->name, (unsigned long long)rec_start);
            r->bad_tail = 1;
        }
        if (st != FRAG_OK) {
            r->done = 1;
            return LT_ENOTFOUND;
        }
        uint64_t end = at + LT_LOG_HEADER_SIZE + frag.size;
        if ((type == LT_LOG_FULL || type == LT_LOG_FIRST) && in_record) {
            bad(r, at, "record start inside an unfinished record");
            r->done = 1;
            return LT_ENOTFOUND;
        }
        if ((type == LT_LOG_MIDDLE || type == LT_LOG_LAST) && !in_record) {
            bad(r, at, "continuation fragment without a first fragment");
            r->done = 1;
            return LT_ENOTFOUND;
        }
        if (type == LT_LOG_FULL) {
            *rec = frag;
            r->last_good = end;
            return LT_OK;
        }
        if (type == LT_LOG_FIRST) {
            in_record = 1;
            rec_start = at;
        }
        if (lt_buf_append(&r->rec, frag.data, frag.size) != LT_OK) {
            r->done = 1;
            return lt_seterr(LT_ENOMEM, "log %s: out of memory for the record at offset "
                             "%llu", r->name, (unsigned long long)rec_start);
        }
        if (type == LT_LOG_LAST) {
            *rec = lt_slice_make(r->rec.data, r->rec.size);
            r->last_good = end;
            return LT_OK;
        }
    }
}
