/* env_mem.c: an in-memory file system behind the env interface (lt_env_mem_new), for
 * ":memory:" databases and as the base of the fault-injecting env.
 *
 * State, guarded by the env mutex:
 *   nodes  path -> node; a node is a directory (made by mkdir) or a file whose
 *          contents (mem_data) are reference counted: the node holds one reference
 *          while the name exists and every open handle holds one, so a file removed
 *          (or renamed over) while open stays readable through its handles. Files
 *          stay after their handles close, until removed.
 *   locks  the lock file paths this env currently holds, each shared or exclusive
 *          (shared locks of one path coexist; any other second lock of a path fails
 *          with LT_ELOCKED naming our own pid). Only an exclusive lock writes the
 *          pid into the lock file.
 * A directory exists if it has a node or some node has it as parent; list_dir returns
 * the names of the nodes whose parent (as lt_path_parent computes it) is the path.
 * Creating a file does not require its directory to exist. Contents have their own
 * read-write lock, so reads of one file run in parallel and appends exclude them.
 * Paths are compared as strings after dropping trailing slashes; "." and ".." are not
 * resolved. flush, sync and sync_dir succeed and do nothing. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util/status.h"
#include "env.h"

typedef struct mem_data {
    atomic_int refs;
    pthread_rwlock_t rw;
    char *buf;
    size_t size, cap;
} mem_data;

typedef struct mem_node { char *path; mem_data *d; /* NULL: a directory */ } mem_node;
typedef struct mem_flock { lt_flock base; char *path; int shared; struct mem_flock *next; } mem_flock;

typedef struct mem_env {
    lt_env base;
    pthread_mutex_t mu;
    mem_node *nodes;
    size_t n, cap;
    mem_flock *locks;
} mem_env;

typedef struct mem_wfile { lt_wfile base; mem_data *d; uint64_t size; } mem_wfile;
typedef struct mem_rfile { lt_rfile base; mem_data *d; } mem_rfile;

#define NOMEM(op, path) lt_seterr(LT_ENOMEM, "%s %s: out of memory", op, path)

/* ---- contents ------------------------------------------------------------------- */

static void data_unref(mem_data *d) {
    if (!d || atomic_fetch_sub(&d->refs, 1) != 1) return;
    pthread_rwlock_destroy(&d->rw);
    free(d->buf);
    free(d);
}

/* Resize contents to n bytes (new bytes are zero). REQUIRES: d->rw write-locked. */
static int data_resize(mem_data *d, size_t n) {
    if (n > d->cap) {
        size_t cap = d->cap ? d->cap : 256;
        while (cap < n) cap = cap > SIZE_MAX / 2 ? n : cap * 2;
        char *b = realloc(d->buf, cap);
        if (!b) return LT_ENOMEM;
        d->buf = b;
        d->cap = cap;
    }
    if (n > d->size) memset(d->buf + d->size, 0, n - d->size);
    d->size = n;
    return LT_OK;
}

/* ---- the node table (REQUIRES: e->mu held) -------------------------------------- */

/* A copy of path without trailing slashes (NULL on ENOMEM). */
static char *norm(const char *path) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    char *s = malloc(n + 1);
    if (s) { memcpy(s, path, n); s[n] = '\0'; }
    return s;
}

/* 1 if the parent directory of `entry` is `dir`; *name gets entry's last component. */
static int is_child(const char *entry, const char *dir, const char **name) {
    const char *slash = strrchr(entry, '/');
    const char *parent = slash ? entry : ".";
    size_t plen = !slash ? 1 : slash == entry ? 1 : (size_t)(slash - entry);
    *name = slash ? slash + 1 : entry;
    return strlen(dir) == plen && memcmp(parent, dir, plen) == 0 && **name != '\0';
}

static mem_node *node_find(mem_env *e, const char *key) {
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->nodes[i].path, key) == 0) return &e->nodes[i];
    return NULL;
}

/* A new node for key (ownership of key taken on success); a file if `file`. */
static mem_node *node_add(mem_env *e, char *key, int file) {
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 16;
        mem_node *v = realloc(e->nodes, cap * sizeof *v);
        if (!v) return NULL;
        e->nodes = v;
        e->cap = cap;
    }
    mem_data *d = NULL;
    if (file) {
        if (!(d = calloc(1, sizeof *d))) return NULL;
        atomic_init(&d->refs, 1);
        pthread_rwlock_init(&d->rw, NULL);
    }
    e->nodes[e->n].path = key;
    e->nodes[e->n].d = d;
    return &e->nodes[e->n++];
}

static void node_del(mem_env *e, mem_node *x) {
    free(x->path);
    data_unref(x->d);
    *x = e->nodes[--e->n];
}

static int has_children(mem_env *e, const char *key) {
    const char *name;
    for (size_t i = 0; i < e->n; i++)
        if (is_child(e->nodes[i].path, key, &name)) return 1;
    return 0;
}

/* ---- opening files -------------------------------------------------------------- */

/* Find (or, if `create`, make) the file at path; take a reference to its contents. */
static int open_data(lt_env *env, const char *path, int create, int trunc, mem_data **out) {
    mem_env *e = (mem_env *)env;
    char *key = norm(path);
    if (!key) return NOMEM("open", path);
    int rc = LT_OK;
    pthread_mutex_lock(&e->mu);
    mem_node *x = node_find(e, key);
    if (x && !x->d) rc = lt_seterr_errno(EISDIR, "open %s", path);
    else if (!x && !create) rc = lt_seterr_errno(ENOENT, "open %s", path);
    else if (!x && !(x = node_add(e, key, 1))) rc = NOMEM("open", path);
    else if (x->path == key) key = NULL; /* now owned by the table */
    if (rc == LT_OK) {
        if (trunc) {
            pthread_rwlock_wrlock(&x->d->rw);
            x->d->size = 0;
            pthread_rwlock_unlock(&x->d->rw);
        }
        atomic_fetch_add(&x->d->refs, 1);
        *out = x->d;
    }
    pthread_mutex_unlock(&e->mu);
    free(key);
    return rc;
}

static int open_writable(lt_env *env, const char *path, int trunc, lt_wfile **out) {
    *out = NULL;
    mem_wfile *w = calloc(1, sizeof *w);
    if (!w) return NOMEM("open", path);
    int rc = open_data(env, path, 1, trunc, &w->d);
    if (rc) { free(w); return rc; }
    w->base.env = env;
    pthread_rwlock_rdlock(&w->d->rw);
    w->size = w->d->size;
    pthread_rwlock_unlock(&w->d->rw);
    *out = &w->base;
    return LT_OK;
}

static int m_new_writable(lt_env *env, const char *path, lt_wfile **out) {
    return open_writable(env, path, 1, out);
}

static int m_new_appendable(lt_env *env, const char *path, lt_wfile **out) {
    return open_writable(env, path, 0, out);
}

static int m_new_readable(lt_env *env, const char *path, lt_rfile **out) {
    *out = NULL;
    mem_rfile *r = calloc(1, sizeof *r);
    if (!r) return NOMEM("open", path);
    int rc = open_data(env, path, 0, 0, &r->d);
    if (rc) { free(r); return rc; }
    r->base.env = env;
    *out = &r->base;
    return LT_OK;
}

/* ---- writable and readable files ------------------------------------------------ */

static int m_append(lt_wfile *f, const void *data, size_t n) {
    mem_wfile *w = (mem_wfile *)f;
    if (n == 0) return LT_OK;
    pthread_rwlock_wrlock(&w->d->rw);
    size_t at = w->d->size;
    int rc = n > SIZE_MAX - at ? LT_ENOMEM : data_resize(w->d, at + n);
    if (rc == LT_OK) memcpy(w->d->buf + at, data, n);
    pthread_rwlock_unlock(&w->d->rw);
    if (rc) return lt_seterr(LT_ENOMEM, "append %zu bytes to memory file: out of memory", n);
    w->size += n;
    return LT_OK;
}

static int m_nop_w(lt_wfile *f) { (void)f; return LT_OK; }
static uint64_t m_wsize(lt_wfile *f) { return ((mem_wfile *)f)->size; }

static int m_wclose(lt_wfile *f) {
    data_unref(((mem_wfile *)f)->d);
    free(f);
    return LT_OK;
}

static int m_read_at(lt_rfile *f, uint64_t off, size_t n, char *scratch, size_t *got) {
    mem_data *d = ((mem_rfile *)f)->d;
    size_t k = 0;
    pthread_rwlock_rdlock(&d->rw);
    if (off < d->size) {
        k = d->size - (size_t)off < n ? d->size - (size_t)off : n;
        memcpy(scratch, d->buf + off, k);
    }
    pthread_rwlock_unlock(&d->rw);
    *got = k;
    return LT_OK;
}

static void m_readahead(lt_rfile *f, uint64_t off, size_t len) { (void)f; (void)off; (void)len; }

static uint64_t m_rsize(lt_rfile *f) {
    mem_data *d = ((mem_rfile *)f)->d;
    pthread_rwlock_rdlock(&d->rw);
    uint64_t n = d->size;
    pthread_rwlock_unlock(&d->rw);
    return n;
}

static void m_rclose(lt_rfile *f) {
    data_unref(((mem_rfile *)f)->d);
    free(f);
}

/* ---- names and directories ------------------------------------------------------ */

static int m_exists(lt_env *env, const char *path) {
    mem_env *e = (mem_env *)env;
    char *key = norm(path);
    if (!key) return 0;
    pthread_mutex_lock(&e->mu);
    int r = node_find(e, key) != NULL || has_children(e, key);
    pthread_mutex_unlock(&e->mu);
    free(key);
    return r;
}

static int m_remove(lt_env *env, const char *path) {
    mem_env *e = (mem_env *)env;
    char *key = norm(path);
    if (!key) return NOMEM("remove", path);
    int rc = LT_OK;
    pthread_mutex_lock(&e->mu);
    mem_node *x = node_find(e, key);
    if (!x) rc = lt_seterr_errno(ENOENT, "remove %s", path);
    else if (!x->d && has_children(e, key)) rc = lt_seterr_errno(ENOTEMPTY, "remove %s", path);
    else node_del(e, x);
    pthread_mutex_unlock(&e->mu);
    free(key);
    return rc;
}

static int m_rename(lt_env *env, const char *from, const char *to) {
    mem_env *e = (mem_env *)env;
    char *kf = norm(from), *kt = norm(to);
    int rc = LT_OK;
    if (!kf || !kt) { free(kf); free(kt); return NOMEM("rename", from); }
    pthread_mutex_lock(&e->mu);
    mem_node *f = node_find(e, kf), *t = node_find(e, kt);
    if (!f) rc = lt_seterr_errno(ENOENT, "rename %s to %s", from, to);
    else if (!f->d) rc = lt_seterr(LT_EINVAL, "rename %s: the memory env cannot rename "
                                   "directories", from);
    else if (t && !t->d) rc = lt_seterr_errno(EISDIR, "rename %s to %s", from, to);
    else if (t && t != f) { /* the target takes the contents; the source name goes */
        data_unref(t->d);
        t->d = f->d;
        f->d = NULL;
        node_del(e, f);
    } else if (!t) {
        free(f->path);
        f->path = kt;
        kt = NULL;
    }
    pthread_mutex_unlock(&e->mu);
    free(kf);
    free(kt);
    return rc;
}

static int m_mkdir(lt_env *env, const char *path) {
    mem_env *e = (mem_env *)env;
    char *key = norm(path);
    if (!key) return NOMEM("mkdir", path);
    int rc = LT_OK;
    pthread_mutex_lock(&e->mu);
    mem_node *x = node_find(e, key);
    if (x && x->d) rc = lt_seterr_errno(EEXIST, "mkdir %s", path);
    else if (!x && !node_add(e, key, 0)) rc = NOMEM("mkdir", path);
    else if (!x) key = NULL;
    pthread_mutex_unlock(&e->mu);
    free(key);
    return rc;
}

static int m_sync_dir(lt_env *env, const char *path) { (void)env; (void)path; return LT_OK; }

static int m_list_dir(lt_env *env, const char *path, char ***names, size_t *n) {
    mem_env *e = (mem_env *)env;
    *names = NULL;
    *n = 0;
    char *key = norm(path);
    if (!key) return NOMEM("list directory", path);
    int rc = LT_OK;
    size_t cnt = 0;
    pthread_mutex_lock(&e->mu);
    mem_node *self = node_find(e, key);
    char **v = calloc(e->n + 1, sizeof *v);
    if (!v) rc = NOMEM("list directory", path);
    else if (self && self->d) rc = lt_seterr_errno(ENOTDIR, "list directory %s", path);
    else if (!self && !has_children(e, key))
        rc = lt_seterr_errno(ENOENT, "list directory %s", path);
    for (size_t i = 0; rc == LT_OK && i < e->n; i++) {
        const char *name;
        if (!is_child(e->nodes[i].path, key, &name)) continue;
        if (!(v[cnt] = strdup(name))) rc = NOMEM("list directory", path);
        else cnt++;
    }
    pthread_mutex_unlock(&e->mu);
    free(key);
    if (rc) { lt_env_free_names(v, cnt); return rc; }
    *names = v;
    *n = cnt;
    return LT_OK;
}

/* Get (set = 0) or set (set = 1) the size of the file at path. */
static int file_len(lt_env *env, const char *op, const char *path, uint64_t *size, int set) {
    mem_env *e = (mem_env *)env;
    char *key = norm(path);
    if (!key) return NOMEM(op, path);
    int rc = LT_OK;
    pthread_mutex_lock(&e->mu);
    mem_node *x = node_find(e, key);
    if (!x || !x->d) rc = lt_seterr_errno(x ? EISDIR : ENOENT, "%s %s", op, path);
    else {
        pthread_rwlock_wrlock(&x->d->rw);
        if (!set) *size = x->d->size;
        else if (*size > SIZE_MAX || data_resize(x->d, (size_t)*size)) rc = NOMEM(op, path);
        pthread_rwlock_unlock(&x->d->rw);
    }
    pthread_mutex_unlock(&e->mu);
    free(key);
    return rc;
}

static int m_file_size(lt_env *env, const char *path, uint64_t *size) {
    return file_len(env, "stat", path, size, 0);
}

static int m_truncate(lt_env *env, const char *path, uint64_t size) {
    return file_len(env, "truncate", path, &size, 1);
}

/* ---- locks ---------------------------------------------------------------------- */

static int m_lock(lt_env *env, const char *path, int shared, lt_flock **out) {
    mem_env *e = (mem_env *)env;
    *out = NULL;
    mem_flock *l = calloc(1, sizeof *l);
    if (!l || !(l->path = norm(path))) { free(l); return NOMEM("lock", path); }
    int rc = LT_OK;
    pthread_mutex_lock(&e->mu);
    l->shared = shared != 0;
    for (mem_flock *h = e->locks; h && rc == LT_OK; h = h->next)
        if (strcmp(h->path, l->path) == 0 && !(shared && h->shared))
            rc = lt_seterr(LT_ELOCKED, "database is locked by pid %ld (lock file %s)",
                           (long)getpid(), path);
    if (rc == LT_OK) {
        l->base.env = env;
        l->next = e->locks;
        e->locks = l;
    }
    pthread_mutex_unlock(&e->mu);
    if (rc) { free(l->path); free(l); return rc; }
    if (shared) { *out = &l->base; return LT_OK; }
    lt_wfile *w; /* like the POSIX env, leave our pid in the lock file (best effort) */
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (m_new_writable(env, path, &w) == LT_OK) {
        (void)m_append(w, pid, (size_t)len);
        (void)m_wclose(w);
    }
    *out = &l->base;
    return LT_OK;
}

static void m_unlock(lt_env *env, lt_flock *fl) {
    mem_env *e = (mem_env *)env;
    mem_flock *l = (mem_flock *)fl;
    if (!l) return;
    pthread_mutex_lock(&e->mu);
    for (mem_flock **pp = &e->locks; *pp; pp = &(*pp)->next)
        if (*pp == l) { *pp = l->next; break; }
    pthread_mutex_unlock(&e->mu);
    free(l->path);
    free(l);
}

static void m_destroy(lt_env *env) {
    mem_env *e = (mem_env *)env;
    while (e->n) node_del(e, &e->nodes[e->n - 1]);
    free(e->nodes);
    while (e->locks) { /* REQUIRES says none are held; do not leak if some are */
        mem_flock *l = e->locks;
        e->locks = l->next;
        free(l->path);
        free(l);
    }
    pthread_mutex_destroy(&e->mu);
    free(e);
}

static const lt_env_vtbl mem_vtbl = {
    .new_writable = m_new_writable, .new_appendable = m_new_appendable,
    .new_readable = m_new_readable, .exists = m_exists, .remove = m_remove,
    .rename = m_rename, .mkdir = m_mkdir, .sync_dir = m_sync_dir, .list_dir = m_list_dir,
    .file_size = m_file_size, .truncate = m_truncate, .lock = m_lock, .unlock = m_unlock,
    .append = m_append, .flush = m_nop_w, .sync = m_nop_w, .wclose = m_wclose,
    .wsize = m_wsize, .read_at = m_read_at, .readahead = m_readahead, .rsize = m_rsize,
    .rclose = m_rclose, .destroy = m_destroy,
};

int lt_env_mem_new(lt_env **out) {
    *out = NULL;
    mem_env *e = calloc(1, sizeof *e);
    if (!e) return lt_seterr(LT_ENOMEM, "memory env: out of memory");
    pthread_mutex_init(&e->mu, NULL);
    e->base.v = &mem_vtbl;
    *out = &e->base;
    return LT_OK;
}
