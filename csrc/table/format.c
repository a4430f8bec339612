/* format.c: the physical format of table files: block handles, the footer, and
 * reading one block back verified (bounds, CRC-32C, decompression).
 *
 *   block handle = varint64 offset | varint64 size   (at most LT_MAX_BLOCK_HANDLE bytes)
 *   block        = contents (size bytes) | u8 type | u32le masked CRC-32C(contents, type)
 *   contents     = the raw block                       (type LT_COMPRESS_NONE)
 *                | varint32 raw length | codec frame   (type LT_COMPRESS_ZSTD)
 *   footer       = filter handle | index handle | zero padding to 40 bytes |
 *                  u32le version | u32le reserved (0) | u64le magic       (56 bytes)
 *
 * The CRC is checked before anything in the block is interpreted, so a damaged
 * block is reported as a checksum mismatch, never decoded. */
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "../util/coding.h"
#include "../util/crc32c.h"
#include "../util/status.h"

/* Sanity limit on a block (a raw length above it is corruption): a block holds at
 * most one value beyond block_size, and values are at most LT_MAX_VALUE_SIZE. */
#define MAX_BLOCK_BYTES (256u * 1024u * 1024u)

int lt_block_handle_encode(const lt_block_handle *h, char *dst) {
    char *p = lt_put_varint64(dst, h->offset);
    p = lt_put_varint64(p, h->size);
    return (int)(p - dst);
}

int lt_block_handle_decode(lt_slice *in, lt_block_handle *h) {
    lt_slice s = *in;
    uint64_t off, size;
    if (!lt_slice_get_varint64(&s, &off) || !lt_slice_get_varint64(&s, &size)) return 0;
    h->offset = off;
    h->size = size;
    *in = s;
    return 1;
}

void lt_footer_encode(char *dst, const lt_block_handle *filter, const lt_block_handle *index) {
    memset(dst, 0, LT_FOOTER_SIZE);
    int n = lt_block_handle_encode(filter, dst);
    lt_block_handle_encode(index, dst + n);
    lt_put_fixed32(dst + 40, LT_TABLE_FORMAT_VERSION);
    lt_put_fixed32(dst + 44, 0);
    lt_put_fixed64(dst + 48, LT_TABLE_MAGIC);
}

int lt_footer_decode(const char *src, const char *name, lt_block_handle *filter,
                     lt_block_handle *index) {
    if (lt_get_fixed64(src + 48) != LT_TABLE_MAGIC)
        return lt_seterr(LT_ECORRUPT, "%s: bad magic number (not a table file)", name);
    uint32_t version = lt_get_fixed32(src + 40);
    if (version != LT_TABLE_FORMAT_VERSION)
        return lt_seterr(LT_EVERSION, "%s: table format version %u is not supported (expected %d)",
                         name, version, LT_TABLE_FORMAT_VERSION);
    lt_slice hs = lt_slice_make(src, 40);
    if (!lt_block_handle_decode(&hs, filter) || !lt_block_handle_decode(&hs, index))
        return lt_seterr(LT_ECORRUPT, "%s: bad block handles in the footer", name);
    return LT_OK;
}

/* ---- decompression contexts ---------------------------------------------------- */

void lt_dctx_pool_init(lt_dctx_pool *p, const lt_codec *codec) {
    pthread_mutex_init(&p->mu, NULL);
    p->codec = codec;
    p->n = 0;
}

void lt_dctx_pool_destroy(lt_dctx_pool *p) {
    for (int i = 0; i < p->n; i++) p->codec->free_dctx(p->d[i]);
    p->n = 0;
    pthread_mutex_destroy(&p->mu);
}

static void *take_dctx(lt_dctx_pool *p) {
    void *d = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->n > 0) d = p->d[--p->n];
    pthread_mutex_unlock(&p->mu);
    return d ? d : p->codec->create_dctx();
}

static void give_dctx(lt_dctx_pool *p, void *d) {
    pthread_mutex_lock(&p->mu);
    if (p->n < LT_DCTX_POOL) { p->d[p->n++] = d; d = NULL; }
    pthread_mutex_unlock(&p->mu);
    if (d) p->codec->free_dctx(d);
}

/* ---- reading a block ------------------------------------------------------------ */

/* Decompress contents [raw, raw + n) into a new buffer. */
static int decompress(const char *name, unsigned long long off, lt_dctx_pool *pool,
                      const char *raw, size_t n, char **out, size_t *len) {
    uint32_t ulen;
    const char *frame = lt_get_varint32(raw, raw + n, &ulen);
    if (!pool->codec)
        return lt_seterr(LT_EINVAL, "%s: block at offset %llu is compressed but no codec was given",
                         name, off);
    if (!frame || ulen > MAX_BLOCK_BYTES)
        return lt_seterr(LT_ECORRUPT, "%s: bad uncompressed length in block at offset %llu",
                         name, off);
    char *plain = malloc(ulen ? ulen : 1);
    void *d = plain ? take_dctx(pool) : NULL;
    if (!d) {
        free(plain);
        return lt_seterr(LT_ENOMEM, "%s: out of memory decompressing block at offset %llu",
                         name, off);
    }
    size_t r = pool->codec->decompress(d, plain, ulen, frame, (size_t)(raw + n - frame));
    give_dctx(pool, d);
    if (pool->codec->is_error(r) || r != ulen) {
        free(plain);
        return lt_seterr(LT_ECORRUPT, "%s: block at offset %llu does not decompress to %u bytes",
                         name, off, ulen);
    }
    *out = plain;
    *len = ulen;
    return LT_OK;
}

int lt_read_block(lt_rfile *f, const char *name, uint64_t limit, lt_dctx_pool *pool,
                  const lt_block_handle *h, char **out, size_t *len) {
    unsigned long long off = (unsigned long long)h->offset;
    size_t got = 0;
    int rc;
    *out = NULL;
    if (h->size > MAX_BLOCK_BYTES || h->size > limit || h->offset > limit - h->size ||
        limit - h->size - h->offset < LT_BLOCK_TRAILER_SIZE)
        return lt_seterr(LT_ECORRUPT, "%s: block handle (offset %llu, size %llu) out of range",
                         name, off, (unsigned long long)h->size);
    size_t n = (size_t)h->size;
    char *raw = malloc(n + LT_BLOCK_TRAILER_SIZE);
    if (!raw)
        return lt_seterr(LT_ENOMEM, "%s: out of memory reading block at offset %llu", name, off);
    if ((rc = lt_rread(f, h->offset, n + LT_BLOCK_TRAILER_SIZE, raw, &got))) goto done;
    if (got != n + LT_BLOCK_TRAILER_SIZE) {
        rc = lt_seterr(LT_ECORRUPT, "%s: truncated block at offset %llu", name, off);
        goto done;
    }
    uint32_t crc = lt_crc32c_extend(lt_crc32c(raw, n), raw + n, 1);
    if (lt_crc_unmask(lt_get_fixed32(raw + n + 1)) != crc) {
        rc = lt_seterr(LT_ECORRUPT, "%s: checksum mismatch in block at offset %llu", name, off);
        goto done;
    }
    switch ((unsigned char)raw[n]) {
    case LT_COMPRESS_NONE:
        *out = raw; /* the trailer stays behind the contents, unused */
        *len = n;
        return LT_OK;
    case LT_COMPRESS_ZSTD:
        rc = decompress(name, off, pool, raw, n, out, len);
        break;
    default:
        rc = lt_seterr(LT_ECORRUPT, "%s: unknown compression type %d in block at offset %llu",
                       name, (unsigned char)raw[n], off);
    }
done:
    free(raw);
    return rc;
}
