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
 * truncates. The tail of a full block shorter than a header is padding and skipped.
 *
 * How reading ended (lt_log_reader_end), decided when it stops at damage by looking
 * for a valid fragment that starts a record (FULL or FIRST) after it: at every byte
 * offset of the rest of the damaged block, then along the chain of fragments from the
 * start of each later block (the writer starts every block with a fragment header, so
 * any intact block after the damage shows up):
 *   LT_LOG_END_DAMAGED_MID  such a record start follows the damage: records were
 *                           written after it, so it is not a crash's torn tail;
 *   LT_LOG_END_TORN         nothing valid follows, and the damaged fragment runs past
 *                           the end of the file (or the file ends before a record's last
 *                           fragment), or every byte from it to the end is zero: the
 *                           file ends inside the record, as a crash mid-append leaves it;
 *   LT_LOG_END_DAMAGED      nothing valid follows, but the last fragment is whole and
 *                           fails its check (bad CRC, bad type).
 * lt_log_reader_resume continues after LT_LOG_END_DAMAGED_MID at that valid fragment,
 * skipping continuation fragments up to the next record start (recovery counts what a
 * point-in-time recovery drops; repair salvages it). */
#include <stdint.h>
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
    int cut_eof;           /* the damage is a fragment or record cut off by end of file */
    int skipping;          /* resumed: skip continuation fragments to a record start */
    int end_kind;          /* LT_LOG_END_* once stopped */
    uint64_t damage_off;   /* file offset of the damaged fragment or record */
    uint64_t next_valid;   /* LT_LOG_END_DAMAGED_MID: offset of the valid fragment */
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
int lt_log_reader_end(const lt_log_reader *r) { return r->end_kind; }
uint64_t lt_log_reader_damage_offset(const lt_log_reader *r) { return r->damage_off; }
uint64_t lt_log_reader_next_valid(const lt_log_reader *r) { return r->next_valid; }

static int bad(lt_log_reader *r, uint64_t off, const char *what) {
    snprintf(r->damage, sizeof r->damage, "log %s: %s at offset %llu", r->name, what,
             (unsigned long long)off);
    r->bad_tail = 1;
    r->damage_off = off;
    return FRAG_BAD;
}

/* The type of the whole fragment with a matching CRC that starts at b[off] (b holds
 * len bytes), or 0 if there is none. */
static int fragment_at(const char *b, size_t len, size_t off, size_t *next) {
    if (off + LT_LOG_HEADER_SIZE > len) return 0;
    const char *h = b + off;
    int type = (unsigned char)h[6];
    if (type < LT_LOG_FULL || type > LT_LOG_LAST) return 0;
    size_t n = (size_t)(unsigned char)h[4] | ((size_t)(unsigned char)h[5] << 8);
    if (off + LT_LOG_HEADER_SIZE + n > len) return 0;
    if (lt_crc32c(h + 6, 1 + n) != lt_crc_unmask(lt_get_fixed32(h))) return 0;
    *next = off + LT_LOG_HEADER_SIZE + n;
    return type;
}

static int starts_record(int type) { return type == LT_LOG_FULL || type == LT_LOG_FIRST; }

/* After damage at r->damage_off: set end_kind and next_valid (file comments). Only a
 * fragment that starts a record counts: the rest of the damaged record itself (a
 * later fragment of a torn multi-block record) does not. A read error while looking
 * counts as finding nothing. */
static void classify(lt_log_reader *r) {
    uint64_t from = r->damage_off, size = lt_rsize(r->f);
    char *b = malloc(LT_LOG_BLOCK_SIZE);
    int zero = 1;
    r->end_kind = LT_LOG_END_DAMAGED;
    for (uint64_t bs = from - from % LT_LOG_BLOCK_SIZE; b && bs < size; bs += LT_LOG_BLOCK_SIZE) {
        size_t got = 0, next = 0, found = SIZE_MAX;
        if (lt_rread(r->f, bs, LT_LOG_BLOCK_SIZE, b, &got) != LT_OK) { zero = 0; break; }
        size_t lo = bs <= from ? (size_t)(from - bs) : 0;
        if (bs <= from) {          /* the damaged block: every offset after the damage */
            for (size_t off = lo + 1; found == SIZE_MAX && off + LT_LOG_HEADER_SIZE <= got; off++)
                if (starts_record(fragment_at(b, got, off, &next))) found = off;
        } else {                   /* later blocks: the chain of fragments from offset 0 */
            int type;
            for (size_t off = 0; found == SIZE_MAX && (type = fragment_at(b, got, off, &next)); off = next)
                if (starts_record(type)) found = off;
        }
        if (found != SIZE_MAX) {
            r->end_kind = LT_LOG_END_DAMAGED_MID;
            r->next_valid = bs + found;
            free(b);
            return;
        }
        for (size_t i = lo; zero && i < got; i++) zero = b[i] == 0;
    }
    if (r->cut_eof || zero) r->end_kind = LT_LOG_END_TORN;
    free(b);
}

/* Load the block holding file offset `off` and position the reader there. */
static int seek_to(lt_log_reader *r, uint64_t off) {
    size_t got = 0;
    r->block_start = off - off % LT_LOG_BLOCK_SIZE;
    r->block_len = r->pos = 0;
    if (lt_rread(r->f, r->block_start, LT_LOG_BLOCK_SIZE, r->block, &got) != LT_OK) return LT_EIO;
    r->block_len = got;
    r->eof = got < LT_LOG_BLOCK_SIZE;
    r->pos = (size_t)(off - r->block_start);
    if (r->pos > r->block_len) r->pos = r->block_len;
    return LT_OK;
}

int lt_log_reader_resume(lt_log_reader *r) {
    if (!r->done || r->end_kind != LT_LOG_END_DAMAGED_MID) return LT_ENOTFOUND;
    int rc = seek_to(r, r->next_valid);
    if (rc) return rc;
    r->done = 0;
    r->cut_eof = 0;
    r->skipping = 1;
    r->end_kind = LT_LOG_END_CLEAN;
    return LT_OK;
}

/* Next fragment: its type, payload and file offset (of its header). */
static int read_fragment(lt_log_reader *r, int *type, lt_slice *payload, uint64_t *at) {
    for (;;) {
        size_t left = r->block_len - r->pos;
        if (left >= LT_LOG_HEADER_SIZE) break;
        if (r->eof) { /* the file ends here */
            for (size_t i = 0; i < left; i++)
                if (r->block[r->pos + i] != 0) {
                    r->cut_eof = 1;
                    return bad(r, r->block_start + r->pos, "header cut off by end of file");
                }
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
    if (LT_LOG_HEADER_SIZE + (size_t)len > r->block_len - r->pos) {
        r->cut_eof = r->eof && r->block_len < LT_LOG_BLOCK_SIZE &&
                     r->pos + LT_LOG_HEADER_SIZE + len <= LT_LOG_BLOCK_SIZE;
        return bad(r, *at, r->cut_eof ? "fragment cut off by end of file"
                                      : "fragment length runs past the block end");
    }
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
            r->cut_eof = 1;
            r->damage_off = rec_start;
            st = FRAG_BAD;
        }
        if (st == FRAG_OK && r->skipping && (type == LT_LOG_MIDDLE || type == LT_LOG_LAST))
            continue;   /* resumed inside a record: its remains are dropped */
        r->skipping = 0;
        if (st == FRAG_OK && (type == LT_LOG_FULL || type == LT_LOG_FIRST) && in_record) {
            bad(r, rec_start, "record start inside an unfinished record");
            st = FRAG_BAD;
        }
        if (st == FRAG_OK && (type == LT_LOG_MIDDLE || type == LT_LOG_LAST) && !in_record) {
            bad(r, at, "continuation fragment without a first fragment");
            st = FRAG_BAD;
        }
        if (st != FRAG_OK) {
            r->done = 1;
            if (st == FRAG_BAD) classify(r);
            return LT_ENOTFOUND;
        }
        uint64_t end = at + LT_LOG_HEADER_SIZE + frag.size;
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
