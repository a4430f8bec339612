/* cache.c: the block cache: ARC replacement over byte charges, in shards.
 *
 * Sharding. A key (file, offset) is hashed to 64 bits; the top bits pick one of up to
 * 16 shards, the low bits a bucket of the shard's chained hash table (doubled when it
 * holds more nodes than buckets). Each shard has its own mutex and its own ARC state
 * and gets capacity/nshards bytes; small caches use fewer shards (each at least
 * MIN_SHARD_BYTES, down to one shard) so that a shard can hold several blocks.
 *
 * ARC (Megiddo & Modha), measured in bytes of charge instead of pages, with lazy
 * promotion as in its clock variant CAR (Bansal & Modha), so that a hit touches only
 * its own entry and not list neighbours. Per shard:
 *   T1  resident entries seen once recently      (recency)
 *   T2  resident entries seen at least twice      (frequency)
 *   B1  ghosts (key + charge only) evicted from T1
 *   B2  ghosts evicted from T2
 *   p   target size of T1 in bytes, 0 <= p <= cap; adapted on ghost hits.
 *   ref a bit per resident entry: referenced since it was last placed in a list.
 * Lists are ordered by placement (head = oldest). Transitions:
 *   lookup hit                  -> set ref (the entry does not move yet).
 *   insert of a key in B1       -> p += charge * max(1, |B2| / |B1|)  (recency was
 *                                  undervalued: grow T1's share); entry goes to T2.
 *   insert of a key in B2       -> p -= charge * max(1, |B1| / |B2|)  (frequency was
 *                                  undervalued: shrink T1's share); entry goes to T2.
 *   insert of an unknown key    -> entry goes to T1.
 *   insert of a resident key    -> the old entry leaves the cache; the new one goes
 *                                  to T2 (it was referenced again).
 *   making room (replace): while |T1| + |T2| + charge > cap: look at the head of T1 if
 *     T1 is non-empty and (|T1| > p, or the key came from B2 and |T1| >= p, or T2 is
 *     empty), else at the head of T2. If its ref is set, clear it and move it to the
 *     tail of T2 (this is where a hit in T1 is promoted, and where a hit in T2
 *     renews its place); otherwise evict it into B1 (from T1) or B2 (from T2).
 *   ghost trimming after an insert: drop oldest ghosts of B1 while |T1| + |B1| > cap,
 *     then of B2 (then B1) while |T1| + |T2| + |B1| + |B2| > 2 cap.
 * A one-time scan thus only cycles through T1 (p stays small unless the scanned keys
 * come back while still remembered in B1), and the working set in T2 survives.
 *
 * Pinning. An entry's refs count one reference held by the cache while it is
 * resident plus one per handle. Eviction (or erase, or replacement) only unlinks it
 * and drops the cache's reference; whoever drops the last reference runs the deleter.
 * Handles are taken under the shard mutex, released without it (atomic decrement).
 * An entry whose charge exceeds the shard's capacity is handed out but never
 * resident (counted as an insert and an eviction). Deleters run outside the mutex. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "../util/status.h"

#define MAX_SHARDS 16
#define MIN_SHARD_BYTES (256u * 1024u)

enum { L_T1, L_T2, L_B1, L_B2, L_NONE };

typedef struct node {
    struct node *hnext;        /* hash chain; reused as a free chain once unlinked */
    struct node *prev, *next;  /* position in its list */
    uint64_t file, off;
    size_t charge;
    uint32_t hash;
    uint8_t list;              /* L_T1.. L_B2, or L_NONE when not in the cache */
    uint8_t ref;               /* resident: referenced since placed in its list */
} node;

struct lt_cache_handle {       /* a resident (or formerly resident) entry */
    node n;                    /* first member: a node* of list T1/T2 is an entry */
    void *value;
    void (*deleter)(void *);
    atomic_uint refs;
};

typedef struct shard {
    _Alignas(64) pthread_mutex_t mu; /* shards on separate cache lines */
    node **buckets;
    size_t nbuckets, count;
    node lists[4];             /* sentinels of T1, T2, B1, B2 */
    size_t bytes[4];
    size_t cap, p;
    atomic_uint_fast64_t hits, misses, inserts, evictions;
} shard;

struct lt_cache {
    shard *shards;
    int nshards, shift;
    size_t capacity;
};

static inline uint64_t key_hash(uint64_t file, uint64_t off) {
    uint64_t x = file * 0x9e3779b97f4a7c15ull ^ (off + 0x632be59bd9b4e019ull);
    x ^= x >> 31; x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29; x *= 0x94d049bb133111ebull;
    return x ^ (x >> 32);
}

/* ---- lists and hash table (shard mutex held) ---------------------------------------- */

static void list_push(shard *s, node *n, int l) {
    node *h = &s->lists[l];
    n->next = h;
    n->prev = h->prev;
    h->prev->next = n;
    h->prev = n;
    n->list = (uint8_t)l;
    s->bytes[l] += n->charge;
}

static void list_unlink(shard *s, node *n) {
    n->prev->next = n->next;
    n->next->prev = n->prev;
    s->bytes[n->list] -= n->charge;
    n->list = L_NONE;
}

static node **find_slot(shard *s, uint32_t h, uint64_t file, uint64_t off) {
    node **pp = &s->buckets[h & (s->nbuckets - 1)];
    while (*pp && ((*pp)->file != file || (*pp)->off != off)) pp = &(*pp)->hnext;
    return pp;
}

static void table_grow(shard *s) {
    size_t nb = s->nbuckets * 2;
    node **b = calloc(nb, sizeof *b);
    if (!b) return; /* keep the longer chains */
    for (size_t i = 0; i < s->nbuckets; i++) {
        node *n = s->buckets[i];
        while (n) {
            node *nx = n->hnext;
            n->hnext = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
            n = nx;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = nb;
}

static void table_add(shard *s, node *n) {
    node **pp = &s->buckets[n->hash & (s->nbuckets - 1)];
    n->hnext = *pp;
    *pp = n;
    if (++s->count > s->nbuckets) table_grow(s);
}

static void table_remove(shard *s, node **pp) {
    *pp = (*pp)->hnext;
    s->count--;
}

/* Work deferred until the mutex is released. */
typedef struct dead {
    node *ghosts;    /* ghost nodes to free */
    node *entries;   /* entries whose cache reference is to be dropped */
} dead;

/* Take a node out of the hash table and its list, onto the dead lists. */
static void drop(shard *s, node **pp, dead *d) {
    node *n = *pp;
    table_remove(s, pp);
    int ghost = n->list == L_B1 || n->list == L_B2;
    list_unlink(s, n);
    if (ghost) { n->hnext = d->ghosts; d->ghosts = n; }
    else { n->hnext = d->entries; d->entries = n; }
}

static void drop_lru(shard *s, int l, dead *d) {
    node *n = s->lists[l].next;
    drop(s, find_slot(s, n->hash, n->file, n->off), d);
}

/* Evict one resident entry into its ghost list (ARC's REPLACE). */
static void replace(shard *s, int from_b2, dead *d) {
    int from_t1;
    node *victim;
    for (;;) { /* ends: each pass evicts or clears one ref bit */
        int t1_empty = s->lists[L_T1].next == &s->lists[L_T1];
        int t2_empty = s->lists[L_T2].next == &s->lists[L_T2];
        from_t1 = !t1_empty && (t2_empty || s->bytes[L_T1] > s->p ||
                                (from_b2 && s->bytes[L_T1] >= s->p));
        victim = s->lists[from_t1 ? L_T1 : L_T2].next;
        if (!victim->ref) break;
        victim->ref = 0; /* second chance, in the frequency list */
        list_unlink(s, victim);
        list_push(s, victim, L_T2);
    }
    uint64_t file = victim->file, off = victim->off;
    uint32_t h = victim->hash;
    size_t charge = victim->charge;
    drop(s, find_slot(s, h, file, off), d);
    atomic_fetch_add_explicit(&s->evictions, 1, memory_order_relaxed);
    node *g = malloc(sizeof *g);
    if (!g) return; /* forget the ghost: only adaptation suffers */
    g->file = file; g->off = off; g->hash = h; g->charge = charge; g->ref = 0;
    table_add(s, g);
    list_push(s, g, from_t1 ? L_B1 : L_B2);
}

static void unref(lt_cache_handle *e) {
    if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1) {
        if (e->deleter) e->deleter(e->value);
        free(e);
    }
}

static void bury(dead *d) {
    while (d->ghosts) { node *n = d->ghosts; d->ghosts = n->hnext; free(n); }
    while (d->entries) {
        node *n = d->entries;
        d->entries = n->hnext;
        unref((lt_cache_handle *)n);
    }
}

/* ---- public API ------------------------------------------------------------------ */

lt_cache *lt_cache_new(size_t capacity) {
    lt_cache *c = calloc(1, sizeof *c);
    if (!c) goto nomem;
    int ns = MAX_SHARDS;
    while (ns > 1 && capacity / (size_t)ns < MIN_SHARD_BYTES) ns /= 2;
    int bits = 0;
    while ((1 << bits) < ns) bits++;
    c->nshards = ns;
    c->shift = 64 - bits;
    c->capacity = capacity;
    c->shards = aligned_alloc(64, ((sizeof(shard) * (size_t)ns + 63) / 64) * 64);
    if (!c->shards) goto nomem;
    memset(c->shards, 0, sizeof(shard) * (size_t)ns);
    for (int i = 0; i < ns; i++) {
        shard *s = &c->shards[i];
        s->nbuckets = 64;
        s->buckets = calloc(s->nbuckets, sizeof *s->buckets);
        pthread_mutex_init(&s->mu, NULL);
        for (int l = 0; l < 4; l++) s->lists[l].next = s->lists[l].prev = &s->lists[l];
        s->cap = (capacity + (size_t)ns - 1) / (size_t)ns;
        if (!s->buckets) { c->nshards = i + 1; lt_cache_free(c); c = NULL; goto nomem; }
    }
    return c;
nomem:
    if (c) { free(c->shards); free(c); }
    lt_seterr(LT_ENOMEM, "block cache: out of memory");
    return NULL;
}

void lt_cache_free(lt_cache *c) {
    if (!c) return;
    for (int i = 0; i < c->nshards; i++) {
        shard *s = &c->shards[i];
        dead d = { NULL, NULL };
        for (size_t b = 0; b < s->nbuckets && s->buckets; b++)
            while (s->buckets[b]) drop(s, &s->buckets[b], &d);
        bury(&d);
        free(s->buckets);
        pthread_mutex_destroy(&s->mu);
    }
    free(c->shards);
    free(c);
}

static inline shard *shard_of(lt_cache *c, uint64_t h) {
    return &c->shards[c->nshards > 1 ? (int)(h >> c->shift) : 0];
}

lt_cache_handle *lt_cache_lookup(lt_cache *c, uint64_t file, uint64_t offset) {
    uint64_t h = key_hash(file, offset);
    shard *s = shard_of(c, h);
    lt_cache_handle *e = NULL;
    pthread_mutex_lock(&s->mu);
    node *n = *find_slot(s, (uint32_t)h, file, offset);
    if (n && (n->list == L_T1 || n->list == L_T2)) {
        n->ref = 1;
        e = (lt_cache_handle *)n;
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&s->mu);
    atomic_fetch_add_explicit(e ? &s->hits : &s->misses, 1, memory_order_relaxed);
    return e;
}

lt_cache_handle *lt_cache_insert(lt_cache *c, uint64_t file, uint64_t offset, void *value,
                                 size_t charge, void (*deleter)(void *value)) {
    lt_cache_handle *e = malloc(sizeof *e);
    if (!e) {
        if (deleter) deleter(value);
        lt_seterr(LT_ENOMEM, "block cache: out of memory");
        return NULL;
    }
    uint64_t h = key_hash(file, offset);
    shard *s = shard_of(c, h);
    dead d = { NULL, NULL };
    e->n.file = file; e->n.off = offset; e->n.hash = (uint32_t)h;
    e->n.charge = charge; e->n.list = L_NONE; e->n.ref = 0;
    e->value = value;
    e->deleter = deleter;
    atomic_fetch_add_explicit(&s->inserts, 1, memory_order_relaxed);

    pthread_mutex_lock(&s->mu);
    int target = L_T1, from_b2 = 0;
    node **pp = find_slot(s, (uint32_t)h, file, offset);
    if (*pp) {
        node *old = *pp;
        size_t b1 = s->bytes[L_B1], b2 = s->bytes[L_B2], delta;
        if (old->list == L_B1) {
            delta = charge * (b1 >= b2 || b1 == 0 ? 1 : b2 / b1);
            s->p = s->p + delta < s->cap ? s->p + delta : s->cap;
        } else if (old->list == L_B2) {
            delta = charge * (b2 >= b1 || b2 == 0 ? 1 : b1 / b2);
            s->p = s->p > delta ? s->p - delta : 0;
            from_b2 = 1;
        }
        target = L_T2;
        drop(s, pp, &d);
    }
    if (charge > s->cap) {
        atomic_init(&e->refs, 1); /* never resident: only the caller's handle */
        atomic_fetch_add_explicit(&s->evictions, 1, memory_order_relaxed);
    } else {
        atomic_init(&e->refs, 2); /* the cache's reference and the caller's */
        while (s->bytes[L_T1] + s->bytes[L_T2] + charge > s->cap) replace(s, from_b2, &d);
        table_add(s, &e->n);
        list_push(s, &e->n, target);
        while (s->bytes[L_T1] + s->bytes[L_B1] > s->cap && s->lists[L_B1].next != &s->lists[L_B1])
            drop_lru(s, L_B1, &d);
        size_t total = s->bytes[L_T1] + s->bytes[L_T2] + s->bytes[L_B1] + s->bytes[L_B2];
        while (total > 2 * s->cap) {
            int l = s->lists[L_B2].next != &s->lists[L_B2] ? L_B2 : L_B1;
            if (s->lists[l].next == &s->lists[l]) break;
            total -= s->lists[l].next->charge;
            drop_lru(s, l, &d);
        }
    }
    pthread_mutex_unlock(&s->mu);
    bury(&d);
    return e;
}

void *lt_cache_value(lt_cache_handle *h) { return h->value; }

void lt_cache_release(lt_cache *c, lt_cache_handle *h) {
    (void)c;
    unref(h);
}

void lt_cache_erase_file(lt_cache *c, uint64_t file) {
    for (int i = 0; i < c->nshards; i++) {
        shard *s = &c->shards[i];
        dead d = { NULL, NULL };
        pthread_mutex_lock(&s->mu);
        for (size_t b = 0; b < s->nbuckets; b++) {
            node **pp = &s->buckets[b];
            while (*pp) {
                if ((*pp)->file == file) drop(s, pp, &d);
                else pp = &(*pp)->hnext;
            }
        }
        pthread_mutex_unlock(&s->mu);
        bury(&d);
    }
}

void lt_cache_get_stats(lt_cache *c, lt_cache_stats *st) {
    memset(st, 0, sizeof *st);
    st->capacity = c->capacity;
    for (int i = 0; i < c->nshards; i++) {
        shard *s = &c->shards[i];
        st->hits += atomic_load_explicit(&s->hits, memory_order_relaxed);
        st->misses += atomic_load_explicit(&s->misses, memory_order_relaxed);
        st->inserts += atomic_load_explicit(&s->inserts, memory_order_relaxed);
        st->evictions += atomic_load_explicit(&s->evictions, memory_order_relaxed);
        pthread_mutex_lock(&s->mu);
        st->usage += s->bytes[L_T1] + s->bytes[L_T2];
        pthread_mutex_unlock(&s->mu);
    }
}
