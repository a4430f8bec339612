/* format.h: on-disk constants and small records of sorted table files (".ldt").
 * The full layout is documented in table.h; writer and reader share these.
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

#include <stdint.h>
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

#endif
