/* table_out.h: writing one new table file for a version edit, as flushes,
 * compactions and repair do: create the file, add entries in internal-key order,
 * then finish (build, sync, close and record it in the edit) or abandon it.
 *
 * The file is removed whenever it does not end up in an edit: when it is abandoned,
 * when finishing fails, and when it holds no entries. Used by one thread. */
#ifndef LT_TABLE_OUT_H
#define LT_TABLE_OUT_H

#include <stdint.h>
#include "version_set.h"

typedef struct lt_table_out {
    lt_env *env;
    const char *dir;              /* not owned; outlives the lt_table_out */
    uint64_t number;
    lt_wfile *f;
    lt_table_builder *b;
    lt_buf smallest, largest;     /* internal keys of the first and last entries */
} lt_table_out;

/* Create table file `number` in `dir`. On failure nothing is left to free. */
int  lt_table_out_open(lt_table_out *o, lt_env *env, const char *dir,
                       const lt_table_options *topt, uint64_t number);
/* Add an entry; keys must come in increasing internal-key order. */
int  lt_table_out_add(lt_table_out *o, lt_slice ikey, lt_slice value);
/* Bytes written so far (the builder's estimate of the file size). */
uint64_t lt_table_out_size(const lt_table_out *o);
/* Finish, sync and close. A table with entries is added to `edit` at `level` and its
 * size added to *bytes (if not NULL); an empty one is removed. On error the file is
 * removed and nothing is added. Either way `o` is released. */
int  lt_table_out_finish(lt_table_out *o, lt_version_edit *edit, int level, uint64_t *bytes);
/* Close and remove the file, releasing `o`. */
void lt_table_out_abandon(lt_table_out *o);

#endif
