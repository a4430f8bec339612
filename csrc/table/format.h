/* format.h: on-disk constants and small records of sorted table files (".ldt"), and
 * reading one verified block. The full layout is documented in table.h; writer and
 * reader share these.
 *
 * Block handle: varint64 offset | varint64 size (size excludes the 5-byte trailer).
 * Block trailer (after every block): u8 compression type | u32le masked CRC-32C of the
 *   block contents and the type byte.
 * Compressed block contents: varint32 uncompressed length | codec frame.
 * Footer (LT_FOOTER_SIZE bytes at the end of the file):
 *   filter handle | index handle | zero padding to 40 bytes | u32le format version |
 *   u32le reserved (0) | u64le magic
 */
#ifndef LT_TABLE_FORMAT_H
#define LT_TABLE_FORMAT_H

#include <pthread.h>
#include <stdint.h>
#include "../env/env.h"
#include "../include/lightning.h"
#include "../util/slice.h"

#define LT_TABLE_MAGIC 0x4c69676874446231ull /* "1bDthgiL" little-endian: "LightDb1" */
#define LT_TABLE_FORMAT_VERSION 1
#define LT_FOOTER_SIZE 56
#define LT_BLOCK_TRAILER_SIZE 5
#define LT_MAX_BLOCK_HANDLE 20

/* Stored compression types (never renumber). */
#define LT_COMPRESS_NONE 0
#define LT_COMPRESS_ZSTD 1

typedef struct lt_block_handle {
    uint64_t offset;
    uint64_t size;
} lt_block_handle;

/* Encode into dst (room for LT_MAX_BLOCK_HANDLE); returns bytes written. */
int lt_block_handle_encode(const lt_block_handle *h, char *dst);
/* Decode from the front of `in`, advancing it; returns 1 on success. */
int lt_block_handle_decode(lt_slice *in, lt_block_handle *h);

/* Footer: dst/src hold LT_FOOTER_SIZE bytes. decode checks the magic number
 * (LT_ECORRUPT), then the version (LT_EVERSION), then the handles (LT_ECORRUPT);
 * messages name `name`. */
void lt_footer_encode(char *dst, const lt_block_handle *filter, const lt_block_handle *index);
int  lt_footer_decode(const char *src, const char *name, lt_block_handle *filter,
                      lt_block_handle *index);

/* Decompression contexts of one codec, reused across reads: a small mutex-protected
 * stack, so concurrent readers each get their own. codec may be NULL (no codec). */
#define LT_DCTX_POOL 8
typedef struct lt_dctx_pool {
    pthread_mutex_t mu;
    const lt_codec *codec;
    void *d[LT_DCTX_POOL];
    int n;
} lt_dctx_pool;
void lt_dctx_pool_init(lt_dctx_pool *p, const lt_codec *codec);
void lt_dctx_pool_destroy(lt_dctx_pool *p); /* frees the pooled contexts */

/* Read the block at h from f: bounds-check h against `limit` (where the blocks of
 * the file end), read contents and trailer, verify the CRC, decompress. On success
 * *out is a malloc'ed buffer starting with the *len bytes of block contents (the
 * caller frees it). Errors: LT_ECORRUPT ("<name>: checksum mismatch in block at
 * offset N", bad handle, truncation, bad compressed data), LT_EINVAL (compressed
 * block but no codec), LT_ENOMEM, or the env's error. Thread-safe. */
int  lt_read_block(lt_rfile *f, const char *name, uint64_t limit, lt_dctx_pool *pool,
                   const lt_block_handle *h, char **out, size_t *len);

#endif
