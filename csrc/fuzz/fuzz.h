/* fuzz.h: what the fuzz targets share.
 *
 * Each fuzz_<target>.c defines LLVMFuzzerTestOneInput, the libFuzzer entry point: it
 * hands the input bytes to one reader of on-disk data and checks the reader's
 * promises. Built with clang -fsanitize=fuzzer,address,undefined (make fuzz) it is a
 * fuzzer; linked with replay.c by any compiler (make check) it replays the seed corpus
 * and the kept regression inputs. A broken promise calls fuzz_fail, which aborts, so
 * libFuzzer and the replay driver both report it as a crash.
 *
 * Fuzzed bytes reach the readers as files of one in-memory env (env_mem.c), kept for
 * the life of the process. Inputs whose checksums a mutation broke would only ever
 * reach the checksum test, so the log and table targets also read a copy whose
 * checksums the harness has recomputed (fuzz_repair_log, fuzz_repair_table). */
#ifndef LT_FUZZ_H
#define LT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include "../env/env.h"
#include "../util/slice.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The process's in-memory env (created on first use; aborts if that fails). */
lt_env *fuzz_env(void);
/* Make `path` of fuzz_env() hold exactly data[0, n). Aborts on failure. */
void fuzz_write_file(const char *path, const void *data, size_t n);
/* fuzz_write_file, then open the file for reading. */
lt_rfile *fuzz_open_file(const char *path, const void *data, size_t n);

/* A zstd codec over the system's libzstd.so.1 (dlopen), or NULL if it is missing.
 * The library is not instrumented: the fuzzers cover our side of the codec calls. */
const lt_codec *fuzz_zstd(void);

/* Recompute, in place, the CRC of every log fragment whose header and payload fit
 * in its 32 KiB block (log_format.h), walking the fragments as the reader does. */
void fuzz_repair_log(uint8_t *buf, size_t n);
/* Run check(data) on the input as given, then on a copy whose log CRCs
 * fuzz_repair_log recomputed, when that changed anything (a random mutation almost
 * always breaks a CRC, which would stop every reader at the first fragment). */
void fuzz_check_log_input(const uint8_t *data, size_t size,
                          void (*check)(const uint8_t *data, size_t size));
/* Recompute, in place, the trailer CRC of the index and filter blocks a table
 * footer names and of the data blocks its (uncompressed) index names. */
void fuzz_repair_table(uint8_t *buf, size_t n);

/* Read every byte of s (so the sanitizers check that it may be read). */
void fuzz_touch(lt_slice s);
extern volatile unsigned fuzz_sink;

/* Report a broken promise and abort. */
void fuzz_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

#endif
