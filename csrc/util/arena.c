/* arena.c: the memtable's bump allocator.
 *
 * Memory comes from 4 KiB blocks chained in a list and is released only by
 * lt_arena_free. An allocation is cut from the rest of the current block; when it does
 * not fit, a request larger than 1 KiB gets a block of its own (so the current block's
 * rest is not wasted), and a smaller one starts a fresh 4 KiB block (wasting at most
 * 1 KiB of the old one). Block payloads start at max_align_t alignment.
 *
 * memory_usage counts every byte obtained from malloc (block headers included). Only
 * the single allocating thread writes it; other threads read it with an atomic load,
 * which is how the engine decides when the memtable is full. */
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "arena.h"

#define ARENA_BLOCK_SIZE 4096
#define ARENA_LARGE 1024

typedef struct arena_block {
    struct arena_block *next;
} arena_block;

/* Header size rounded up so the payload after it is max_align_t aligned. */
#define ARENA_HDR ((sizeof(arena_block) + alignof(max_align_t) - 1) & \
                   ~(alignof(max_align_t) - 1))

struct lt_arena {
    char *ptr;             /* next free byte of the current block */
    size_t remaining;      /* bytes left in the current block */
    arena_block *blocks;   /* all blocks, newest first */
    _Atomic size_t usage;  /* bytes malloc'ed, including block headers */
};

lt_arena *lt_arena_new(void) {
    lt_arena *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    atomic_init(&a->usage, sizeof *a);
    return a;
}

void lt_arena_free(lt_arena *a) {
    if (!a) return;
    arena_block *b = a->blocks;
    while (b) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(a);
}

/* A new block with `payload` usable bytes, linked in; NULL on ENOMEM or overflow. */
static char *new_block(lt_arena *a, size_t payload) {
    if (payload > SIZE_MAX - ARENA_HDR) return NULL;
    arena_block *b = malloc(ARENA_HDR + payload);
    if (!b) return NULL;
    b->next = a->blocks;
    a->blocks = b;
    atomic_fetch_add_explicit(&a->usage, ARENA_HDR + payload, memory_order_relaxed);
    return (char *)b + ARENA_HDR;
}

/* Allocation that does not fit the current block. */
static char *alloc_fallback(lt_arena *a, size_t n) {
    if (n > ARENA_LARGE) return new_block(a, n); /* own block; current one continues */
    char *p = new_block(a, ARENA_BLOCK_SIZE);
    if (!p) return NULL;
    a->ptr = p + n;
    a->remaining = ARENA_BLOCK_SIZE - n;
    return p;
}

char *lt_arena_alloc(lt_arena *a, size_t n) {
    if (n == 0) n = 1; /* distinct, valid pointers even for empty requests */
    if (n <= a->remaining) {
        char *p = a->ptr;
        a->ptr += n;
        a->remaining -= n;
        return p;
    }
    return alloc_fallback(a, n);
}

char *lt_arena_alloc_aligned(lt_arena *a, size_t n) {
    const size_t align = sizeof(void *) > 8 ? sizeof(void *) : 8;
    if (n == 0) n = 1;
    size_t mis = (uintptr_t)a->ptr & (align - 1);
    size_t slop = mis ? align - mis : 0;
    if (n <= a->remaining && slop <= a->remaining - n) {
        char *p = a->ptr + slop;
        a->ptr = p + n;
        a->remaining -= n + slop;
        return p;
    }
    /* Fresh blocks start max_align_t aligned, which is at least `align`. */
    return alloc_fallback(a, n);
}

size_t lt_arena_memory_usage(const lt_arena *a) {
    return atomic_load_explicit(&((lt_arena *)a)->usage, memory_order_relaxed);
}
