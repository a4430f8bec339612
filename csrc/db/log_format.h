/* log_format.h: the record log shared by the write-ahead log and the manifest.
 *
 * A log is a sequence of 32 KiB blocks. A record is split into fragments that never
 * cross a block boundary; each fragment has a 7-byte header:
 *
 *   offset size  field
 *   0      4     masked CRC-32C of type byte + payload (little-endian)
 *   4      2     payload length (little-endian)
 *   6      1     type: 1 FULL, 2 FIRST, 3 MIDDLE, 4 LAST
 *   7      len   payload
 *
 * A block tail shorter than a header is zero-filled and skipped. Type 0 is never
 * written (pre-allocated zeroes read as end of log). A torn write leaves a fragment
 * whose CRC or length does not check out: the reader stops there and reports the
 * offset of the end of the last complete record, where recovery truncates. */
#ifndef LT_LOG_FORMAT_H
#define LT_LOG_FORMAT_H

#define LT_LOG_BLOCK_SIZE 32768
#define LT_LOG_HEADER_SIZE 7

enum {
    LT_LOG_ZERO = 0,
    LT_LOG_FULL = 1,
    LT_LOG_FIRST = 2,
    LT_LOG_MIDDLE = 3,
    LT_LOG_LAST = 4
};

#endif
