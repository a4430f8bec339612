/* bloom.h: a whole-table bloom filter over user keys.
 * Layout: bit array (n bytes, a multiple of 64) | u8 number of probes k.
 * k = bits_per_key * ln 2 (1..30). Blocked: a key's hash picks one 64-byte line and
 * its k probes use double hashing inside that line, so a lookup touches one cache
 * line (exact probe rule in bloom.c; it is part of the on-disk format).
 * An empty or malformed filter answers "may match" (never a false negative).
 * Thread-safety: pure functions. */
#ifndef LT_BLOOM_H
#define LT_BLOOM_H

#include <stddef.h>
#include "../util/slice.h"

/* Build a filter over n keys into buf (appended). LT_OK / LT_ENOMEM. */
int lt_bloom_build(const lt_slice *keys, size_t n, int bits_per_key, lt_buf *buf);
/* 0 if key is definitely absent, 1 if it may be present. */
int lt_bloom_may_match(lt_slice filter, lt_slice key);
/* The hash used (exposed so builders can store hashes instead of keys). */
unsigned lt_bloom_hash(lt_slice key);
/* Build from precomputed hashes (lt_bloom_hash of each key). */
int lt_bloom_build_hashes(const unsigned *hashes, size_t n, int bits_per_key, lt_buf *buf);

#endif
