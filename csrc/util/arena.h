/* arena.h: bump allocator for the memtable. Memory is freed all at once.
 * Thread-safety: allocation needs external synchronisation (the memtable's single
 * writer); memory_usage may be read from any thread. */
#ifndef LT_ARENA_H
#define LT_ARENA_H

#include <stddef.h>

typedef struct lt_arena lt_arena;

lt_arena *lt_arena_new(void);                     /* NULL on ENOMEM */
void  lt_arena_free(lt_arena *a);
/* Returns NULL on ENOMEM. lt_arena_alloc_aligned aligns to sizeof(void*). */
char *lt_arena_alloc(lt_arena *a, size_t n);
char *lt_arena_alloc_aligned(lt_arena *a, size_t n);
size_t lt_arena_memory_usage(const lt_arena *a);  /* atomic read */

#endif
