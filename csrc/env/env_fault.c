/* env_fault.c: a fault-injecting env over another env (lt_env_fault_new), for crash
 * tests. It remembers what a power loss would keep, counts the operations that change
 * files, and can make any of them fail.
 *
 * Model of durability, guarded by the env mutex:
 *   - file contents: each file written through this env has a track entry holding its
 *     durable length. A sync of a writable file makes its current size durable; a file
 *     created or truncated by new_writable starts at 0; an existing file opened by
 *     new_appendable (or one never written through this env) is durable as it is.
 *     truncate lowers the durable length to the new size.
 *   - directory entries: creating a file or directory, and renaming, append an entry
 *     change to a pending list; sync_dir(D) makes the changes in D durable (a rename
 *     needs the directories of both names synced). A rename over an existing file
 *     saves that file's durable contents so that it can come back.
 *   - removes are durable at once (a simplification: undoing one would need the data).
 * lt_env_fault_drop_unsynced simulates the power loss: it undoes the pending entry
 * changes newest first (a created file or directory is removed with its contents; a
 * renamed file moves back and the file it replaced returns with its durable contents),
 * then cuts every tracked file to its durable length. For "write tmp, sync tmp, rename
 * tmp over CURRENT, sync_dir" a crash before sync_dir leaves the old CURRENT.
 *
 * Injected failures (lt_env_fault_fail): every append, sync, sync_dir, rename, create
 * (new_writable / new_appendable), remove, truncate and mkdir is counted by kind
 * (LT_FAULT_* bits) before it runs, then asks `inject` whether to fail. An armed fault
 * names a mask of kinds and a countdown n: the n-th matching operation from the arming
 * fails, and with LT_FAULT_STICKY so does every matching one after it (a full disk).
 * A failing operation fails as the OS would leave things:
 *   append     nothing written, or with LT_FAULT_PARTIAL the first half of the bytes
 *              (a short write that hit the end of the disk; only the first failure
 *              of a sticky fault writes a part);
 *   sync       nothing made durable (the data stays in the file, unsynced);
 *   sync_dir   the directory's pending entry changes stay pending;
 *   rename, create, remove, truncate, mkdir: no change at all.
 *
 * Reads, listings and locks go straight to the base env (readable files and locks are
 * the base's own objects). Writable files are wrapped to count and fail appends and
 * syncs and to record syncs. lt_env_free of the fault env does not free the base. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/status.h"
#include "env.h"

/* A file's durable length. `tracks` holds the live ones; a track whose file went away
 * (path NULL) lives on while an open file or a pending rename still points at it. */
typedef struct track { char *path; uint64_t durable; int refs; } track;

enum { OP_CREATE, OP_MKDIR, OP_RENAME };
typedef struct pending {
    int kind;
    char *path;         /* created path, or the rename target */
    char *from;         /* rename source */
    char *dir, *dir2;   /* directories still to sync (NULL once synced) */
    track *moved;       /* rename: the track of the moved file (may be NULL) */
    char *saved;        /* rename: durable contents of the replaced target */
    size_t saved_len;
    int had_target;
} pending;

enum { NKINDS = 8 };   /* LT_FAULT_APPEND .. LT_FAULT_MKDIR, one bit each */

typedef struct fault_env {
    lt_env base;
    lt_env *b;
    pthread_mutex_t mu;
    track **tracks;
    size_t ntracks, captracks;
    pending *ops;
    size_t nops, capops;
    unsigned fail_ops;  /* LT_FAULT_* kinds the armed fault matches; 0 = off */
    uint64_t fail_in;   /* matching operations until the failure (1 = the next) */
    int fail_err;
    unsigned fail_flags;
    int failing;        /* a sticky fault has fired: every matching op fails */
    uint64_t injected;
    uint64_t counts[NKINDS];
    uint64_t syncs;
} fault_env;

typedef struct fault_wfile { lt_wfile base; lt_wfile *in; track *t; char *path; } fault_wfile;

static const lt_env_vtbl fault_vtbl;
#define FE(env) ((fault_env *)(env))
#define B(fe) ((fe)->b)
#define NOMEM(op, path) lt_seterr(LT_ENOMEM, "%s %s: out of memory", op, path)

/* Count one operation of `kind` (an LT_FAULT_* bit) and decide whether it fails: 0 to
 * go ahead, else the error code, with the message set naming `op` and `path`, and
 * *partial (if not NULL) set when the fault asks for a partial write. */
static int inject(fault_env *fe, unsigned kind, const char *op, const char *path,
                  int *partial) {
    pthread_mutex_lock(&fe->mu);
    for (int i = 0; i < NKINDS; i++)
        if (kind == 1u << i) fe->counts[i]++;
    int err = 0;
    if (fe->fail_ops & kind) {
        if (fe->failing || --fe->fail_in == 0) {
            err = fe->fail_err;
            fe->injected++;
            /* A short write where the disk ran out; after it nothing more gets out. */
            if (partial) *partial = !fe->failing && (fe->fail_flags & LT_FAULT_PARTIAL);
            if (fe->fail_flags & LT_FAULT_STICKY) fe->failing = 1;
            else fe->fail_ops = 0;
        }
    }
    pthread_mutex_unlock(&fe->mu);
    if (err == LT_ENOSPC)
        return lt_seterr(err, "%s %s: No space left on device (injected)", op, path);
    if (err)
        return lt_seterr(err, "%s %s: injected failure (%s)", op, path, lt_strerror(err));
    return 0;
}

static char *norm(const char *path) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    char *s = malloc(n + 1);
    if (s) { memcpy(s, path, n); s[n] = '\0'; }
    return s;
}

/* ---- tracks and pending changes (REQUIRES: mu held) ----------------------------- */

static track *track_find(fault_env *fe, const char *path) {
    for (size_t i = 0; i < fe->ntracks; i++)
        if (strcmp(fe->tracks[i]->path, path) == 0) return fe->tracks[i];
    return NULL;
}

static void track_unref(track *t) {
    if (t && --t->refs == 0 && !t->path) free(t);
}

/* The file of t is gone: drop it from the live set. */
static void track_kill(fault_env *fe, track *t) {
    if (!t) return;
    for (size_t i = 0; i < fe->ntracks; i++)
        if (fe->tracks[i] == t) { fe->tracks[i] = fe->tracks[--fe->ntracks]; break; }
    free(t->path);
    t->path = NULL;
    if (t->refs == 0) free(t);
}

/* The live track of path, created with `durable` if there is none. */
static track *track_get(fault_env *fe, const char *path, uint64_t durable) {
    track *t = track_find(fe, path);
    if (t) return t;
    if (fe->ntracks == fe->captracks) {
        size_t cap = fe->captracks ? fe->captracks * 2 : 16;
        track **v = realloc(fe->tracks, cap * sizeof *v);
        if (!v) return NULL;
        fe->tracks = v;
        fe->captracks = cap;
    }
    if (!(t = calloc(1, sizeof *t)) || !(t->path = strdup(path))) { free(t); return NULL; }
    t->durable = durable;
    fe->tracks[fe->ntracks++] = t;
    return t;
}

static void op_free(pending *op) {
    track_unref(op->moved);
    free(op->path); free(op->from); free(op->dir); free(op->dir2); free(op->saved);
}

/* Append a pending change; takes ownership of the op's strings even on failure. */
static int op_add(fault_env *fe, pending *op) {
    if (fe->nops == fe->capops) {
        size_t cap = fe->capops ? fe->capops * 2 : 16;
        pending *v = realloc(fe->ops, cap * sizeof *v);
        if (!v) { op_free(op); return LT_ENOMEM; }
        fe->ops = v;
        fe->capops = cap;
    }
    fe->ops[fe->nops++] = *op;
    return LT_OK;
}

static int add_create(fault_env *fe, int kind, const char *path) {
    pending op = { .kind = kind, .path = norm(path), .dir = lt_path_parent(path) };
    if (!op.path || !op.dir) { op_free(&op); return NOMEM("create", path); }
    return op_add(fe, &op) ? NOMEM("create", path) : LT_OK;
}

/* ---- writable files ------------------------------------------------------------- */

static int f_open(lt_env *env, const char *path, int append, lt_wfile **out) {
    fault_env *fe = FE(env);
    *out = NULL;
    int rc = inject(fe, LT_FAULT_CREATE, "open", path, NULL);
    if (rc) return rc;
    fault_wfile *w = calloc(1, sizeof *w);
    if (!w || !(w->path = norm(path))) { free(w); return NOMEM("open", path); }
    path = w->path;
    pthread_mutex_lock(&fe->mu);
    int existed = B(fe)->v->exists(B(fe), path);
    rc = append ? B(fe)->v->new_appendable(B(fe), path, &w->in)
                    : B(fe)->v->new_writable(B(fe), path, &w->in);
    if (rc == LT_OK) {
        /* new_writable truncates: nothing of the file is durable until a sync. */
        uint64_t durable = append && existed ? lt_wsize(w->in) : 0;
        if (!(w->t = track_get(fe, path, durable))) rc = NOMEM("open", path);
        else if (!append) w->t->durable = 0;
        if (rc == LT_OK && !existed) rc = add_create(fe, OP_CREATE, path);
        if (rc == LT_OK) w->t->refs++;
        else lt_wclose(w->in);
    }
    pthread_mutex_unlock(&fe->mu);
    if (rc) { free(w->path); free(w); return rc; }
    w->base.env = env;
    *out = &w->base;
    return LT_OK;
}

static int f_new_writable(lt_env *env, const char *path, lt_wfile **out) {
    return f_open(env, path, 0, out);
}

static int f_new_appendable(lt_env *env, const char *path, lt_wfile **out) {
    return f_open(env, path, 1, out);
}

static int f_append(lt_wfile *f, const void *data, size_t n) {
    fault_wfile *w = (fault_wfile *)f;
    fault_env *fe = FE(f->env);
    int partial = 0;
    int rc = inject(fe, LT_FAULT_APPEND, "append", w->path, &partial);
    if (rc == LT_OK) return lt_wappend(w->in, data, n);
    if (partial && n / 2 > 0) {
        char msg[512];   /* the prefix's append must not replace the injected message */
        snprintf(msg, sizeof msg, "%s", lt_errmsg());
        (void)lt_wappend(w->in, data, n / 2);
        lt_seterr(rc, "%s", msg);
    }
    return rc;
}

static int f_flush(lt_wfile *f) { return lt_wflush(((fault_wfile *)f)->in); }
static uint64_t f_wsize(lt_wfile *f) { return lt_wsize(((fault_wfile *)f)->in); }

static int f_sync(lt_wfile *f) {
    fault_wfile *w = (fault_wfile *)f;
    fault_env *fe = FE(f->env);
    int rc = inject(fe, LT_FAULT_SYNC, "sync", w->path, NULL);
    if (rc == LT_OK) rc = lt_wsync(w->in);
    if (rc) return rc;
    pthread_mutex_lock(&fe->mu);
    w->t->durable = lt_wsize(w->in);
    fe->syncs++;
    pthread_mutex_unlock(&fe->mu);
    return LT_OK;
}

static int f_wclose(lt_wfile *f) {
    fault_wfile *w = (fault_wfile *)f;
    int rc = lt_wclose(w->in);
    pthread_mutex_lock(&FE(f->env)->mu);
    track_unref(w->t);
    pthread_mutex_unlock(&FE(f->env)->mu);
    free(w->path);
    free(w);
    return rc;
}

/* ---- names ---------------------------------------------------------------------- */

static int f_remove(lt_env *env, const char *path) {
    fault_env *fe = FE(env);
    int rc = inject(fe, LT_FAULT_REMOVE, "remove", path, NULL);
    if (rc) return rc;
    pthread_mutex_lock(&fe->mu);
    rc = B(fe)->v->remove(B(fe), path);
    char *key = rc == LT_OK ? norm(path) : NULL;
    if (key) {
        track_kill(fe, track_find(fe, key));
        for (size_t i = 0; i < fe->nops; i++) { /* the replaced file is gone for good */
            pending *op = &fe->ops[i];
            if (op->kind == OP_RENAME && strcmp(op->path, key) == 0) {
                free(op->saved);
                op->saved = NULL;
                op->had_target = 0;
            }
        }
    }
    pthread_mutex_unlock(&fe->mu);
    free(key);
    return rc;
}

/* Durable contents of `path` (its track's length, or all of it if untracked). */
static int read_durable(fault_env *fe, const char *path, char **data, size_t *n) {
    int rc = lt_env_read_file(B(fe), path, data, n);
    track *t = rc == LT_OK ? track_find(fe, path) : NULL;
    if (t && t->durable < *n) *n = (size_t)t->durable;
    return rc;
}

static int f_rename(lt_env *env, const char *from, const char *to) {
    fault_env *fe = FE(env);
    int rc = inject(fe, LT_FAULT_RENAME, "rename", from, NULL);
    if (rc) return rc;
    pending op = { .kind = OP_RENAME, .path = norm(to), .from = norm(from),
                   .dir = lt_path_parent(to), .dir2 = lt_path_parent(from) };
    if (!op.path || !op.from || !op.dir || !op.dir2) {
        op_free(&op);
        return NOMEM("rename", from);
    }
    if (strcmp(op.dir, op.dir2) == 0) { free(op.dir2); op.dir2 = NULL; }
    pthread_mutex_lock(&fe->mu);
    op.had_target = B(fe)->v->exists(B(fe), to);
    if (op.had_target) rc = read_durable(fe, op.path, &op.saved, &op.saved_len);
    if (rc == LT_OK) rc = B(fe)->v->rename(B(fe), from, to);
    if (rc == LT_OK) {
        if (strcmp(op.path, op.from) != 0) track_kill(fe, track_find(fe, op.path));
        if ((op.moved = track_find(fe, op.from))) {
            op.moved->refs++;
            char *p = strdup(op.path);
            if (p) { free(op.moved->path); op.moved->path = p; }
            else rc = NOMEM("rename", from);
        }
    }
    if (rc == LT_OK) rc = op_add(fe, &op) ? NOMEM("rename", from) : LT_OK;
    else op_free(&op);
    pthread_mutex_unlock(&fe->mu);
    return rc;
}

static int f_mkdir(lt_env *env, const char *path) {
    fault_env *fe = FE(env);
    int rc = inject(fe, LT_FAULT_MKDIR, "mkdir", path, NULL);
    if (rc) return rc;
    pthread_mutex_lock(&fe->mu);
    int existed = B(fe)->v->exists(B(fe), path);
    rc = B(fe)->v->mkdir(B(fe), path);
    if (rc == LT_OK && !existed) rc = add_create(fe, OP_MKDIR, path);
    pthread_mutex_unlock(&fe->mu);
    return rc;
}

static int f_sync_dir(lt_env *env, const char *path) {
    fault_env *fe = FE(env);
    int rc = inject(fe, LT_FAULT_SYNC_DIR, "sync directory", path, NULL);
    if (rc == LT_OK) rc = B(fe)->v->sync_dir(B(fe), path);
    char *key = rc == LT_OK ? norm(path) : NULL;
    if (rc == LT_OK && !key) return NOMEM("sync directory", path);
    if (rc) return rc;
    pthread_mutex_lock(&fe->mu);
    size_t keep = 0;
    for (size_t i = 0; i < fe->nops; i++) {
        pending *op = &fe->ops[i];
        if (op->dir && strcmp(op->dir, key) == 0) { free(op->dir); op->dir = NULL; }
        if (op->dir2 && strcmp(op->dir2, key) == 0) { free(op->dir2); op->dir2 = NULL; }
        if (op->dir || op->dir2) fe->ops[keep++] = *op;
        else op_free(op);
    }
    fe->nops = keep;
    fe->syncs++;
    pthread_mutex_unlock(&fe->mu);
    free(key);
    return LT_OK;
}

static int f_truncate(lt_env *env, const char *path, uint64_t size) {
    fault_env *fe = FE(env);
    int rc = inject(fe, LT_FAULT_TRUNCATE, "truncate", path, NULL);
    if (rc) return rc;
    pthread_mutex_lock(&fe->mu);
    rc = B(fe)->v->truncate(B(fe), path, size);
    char *key = rc == LT_OK ? norm(path) : NULL;
    track *t = key ? track_find(fe, key) : NULL;
    if (t && t->durable > size) t->durable = size;
    pthread_mutex_unlock(&fe->mu);
    free(key);
    return rc;
}

/* ---- straight to the base ------------------------------------------------------- */

#define BASE(env) B(FE(env))->v
static int f_new_readable(lt_env *env, const char *path, lt_rfile **out) {
    return BASE(env)->new_readable(B(FE(env)), path, out);
}
static int f_exists(lt_env *env, const char *path) {
    return BASE(env)->exists(B(FE(env)), path);
}
static int f_list_dir(lt_env *env, const char *path, char ***names, size_t *n) {
    return BASE(env)->list_dir(B(FE(env)), path, names, n);
}
static int f_file_size(lt_env *env, const char *path, uint64_t *size) {
    return BASE(env)->file_size(B(FE(env)), path, size);
}
static int f_lock(lt_env *env, const char *path, int shared, lt_flock **out) {
    return BASE(env)->lock(B(FE(env)), path, shared, out);
}
static void f_unlock(lt_env *env, lt_flock *l) { BASE(env)->unlock(B(FE(env)), l); }

/* ---- power loss ----------------------------------------------------------------- */

/* Remove path and, if it is a directory, everything under it (errors ignored). */
static void remove_tree(lt_env *b, const char *path) {
    char **names;
    size_t n;
    if (b->v->list_dir(b, path, &names, &n) == LT_OK) {
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen(path) + strlen(names[i]) + 2;
            char *child = malloc(len);
            if (child) {
                snprintf(child, len, "%s/%s", path, names[i]);
                remove_tree(b, child);
                free(child);
            }
        }
        lt_env_free_names(names, n);
    }
    if (b->v->exists(b, path)) (void)b->v->remove(b, path);
}

/* Put back `data` as the durable contents of `path`. */
static int restore_file(lt_env *b, const char *path, const char *data, size_t n) {
    lt_wfile *w;
    int rc = b->v->new_writable(b, path, &w);
    if (rc) return rc;
    rc = lt_wappend(w, data, n);
    if (rc == LT_OK) rc = lt_wsync(w);
    int crc = lt_wclose(w);
    return rc ? rc : crc;
}

/* Undo one pending change. REQUIRES: mu held. */
static int undo(fault_env *fe, pending *op) {
    lt_env *b = B(fe);
    int rc = LT_OK;
    if (op->kind == OP_CREATE) {
        track_kill(fe, track_find(fe, op->path));
        if (b->v->exists(b, op->path)) rc = b->v->remove(b, op->path);
    } else if (op->kind == OP_MKDIR) {
        size_t len = strlen(op->path);
        for (size_t i = fe->ntracks; i-- > 0;) { /* backwards: kill swaps in the last */
            const char *p = fe->tracks[i]->path;
            if (strncmp(p, op->path, len) == 0 && p[len] == '/') track_kill(fe, fe->tracks[i]);
        }
        remove_tree(b, op->path);
    } else if (b->v->exists(b, op->path)) { /* rename: move back, restore the target */
        rc = b->v->rename(b, op->path, op->from);
        if (rc == LT_OK && op->moved && op->moved->path) {
            char *p = strdup(op->from);
            if (p) { free(op->moved->path); op->moved->path = p; }
        }
        if (rc == LT_OK && op->had_target) {
            track_kill(fe, track_find(fe, op->path));
            rc = restore_file(b, op->path, op->saved, op->saved_len);
        }
    }
    return rc;
}

int lt_env_fault_drop_unsynced(lt_env *env) {
    if (!env || env->v != &fault_vtbl)
        return lt_seterr(LT_EINVAL, "drop unsynced: not a fault-injecting env");
    fault_env *fe = FE(env);
    int rc = LT_OK;
    pthread_mutex_lock(&fe->mu);
    while (fe->nops > 0) {
        pending *op = &fe->ops[--fe->nops];
        int r = undo(fe, op);
        if (rc == LT_OK) rc = r;
        op_free(op);
    }
    for (size_t i = 0; i < fe->ntracks; i++) {
        track *t = fe->tracks[i];
        uint64_t size;
        if (!B(fe)->v->exists(B(fe), t->path)) continue;
        int r = B(fe)->v->file_size(B(fe), t->path, &size);
        if (r == LT_OK && size > t->durable) r = B(fe)->v->truncate(B(fe), t->path, t->durable);
        if (rc == LT_OK) rc = r;
    }
    pthread_mutex_unlock(&fe->mu);
    return rc;
}

int lt_env_fault_fail(lt_env *env, unsigned ops, uint64_t n, int err, unsigned flags) {
    if (!env || env->v != &fault_vtbl)
        return lt_seterr(LT_EINVAL, "fail: not a fault-injecting env");
    if ((ops & ~(unsigned)LT_FAULT_ALL) || (flags & ~(unsigned)(LT_FAULT_STICKY | LT_FAULT_PARTIAL)))
        return lt_seterr(LT_EINVAL, "fail: unknown operation kinds 0x%x or flags 0x%x",
                         ops, flags);
    if (err >= 0) return lt_seterr(LT_EINVAL, "fail: error code %d is not an LT_E* code", err);
    fault_env *fe = FE(env);
    pthread_mutex_lock(&fe->mu);
    fe->fail_ops = n ? ops : 0;
    fe->fail_in = n;
    fe->fail_err = err;
    fe->fail_flags = flags;
    fe->failing = 0;
    pthread_mutex_unlock(&fe->mu);
    return LT_OK;
}

int lt_env_fault_fail_write(lt_env *env, uint64_t n, int err) {
    return lt_env_fault_fail(env, LT_FAULT_APPEND, n, err ? err : LT_EIO, 0);
}

uint64_t lt_env_fault_count(lt_env *env, unsigned ops) {
    if (!env || env->v != &fault_vtbl) return 0;
    fault_env *fe = FE(env);
    uint64_t n = 0;
    pthread_mutex_lock(&fe->mu);
    for (int i = 0; i < NKINDS; i++)
        if (ops & (1u << i)) n += fe->counts[i];
    pthread_mutex_unlock(&fe->mu);
    return n;
}

uint64_t lt_env_fault_injected(lt_env *env) {
    if (!env || env->v != &fault_vtbl) return 0;
    fault_env *fe = FE(env);
    pthread_mutex_lock(&fe->mu);
    uint64_t n = fe->injected;
    pthread_mutex_unlock(&fe->mu);
    return n;
}

uint64_t lt_env_fault_syncs(lt_env *env) {
    if (!env || env->v != &fault_vtbl) return 0;
    fault_env *fe = FE(env);
    pthread_mutex_lock(&fe->mu);
    uint64_t n = fe->syncs;
    pthread_mutex_unlock(&fe->mu);
    return n;
}

static void f_destroy(lt_env *env) {
    fault_env *fe = FE(env);
    lt_env_release(fe->b);   /* held since lt_env_fault_new */
    for (size_t i = 0; i < fe->nops; i++) op_free(&fe->ops[i]);
    free(fe->ops);
    for (size_t i = 0; i < fe->ntracks; i++) { free(fe->tracks[i]->path); free(fe->tracks[i]); }
    free(fe->tracks);
    pthread_mutex_destroy(&fe->mu);
    free(fe);
}

static const lt_env_vtbl fault_vtbl = {
    .new_writable = f_new_writable, .new_appendable = f_new_appendable,
    .new_readable = f_new_readable, .exists = f_exists, .remove = f_remove,
    .rename = f_rename, .mkdir = f_mkdir, .sync_dir = f_sync_dir, .list_dir = f_list_dir,
    .file_size = f_file_size, .truncate = f_truncate, .lock = f_lock, .unlock = f_unlock,
    .append = f_append, .flush = f_flush, .sync = f_sync, .wclose = f_wclose,
    .wsize = f_wsize, .destroy = f_destroy,
    /* read_at, readahead, rsize, rclose: readable files are the base env's objects */
};

int lt_env_fault_new(lt_env *base, lt_env **out) {
    *out = NULL;
    if (!base) return lt_seterr(LT_EINVAL, "fault env: no base env");
    fault_env *fe = calloc(1, sizeof *fe);
    if (!fe) return lt_seterr(LT_ENOMEM, "fault env: out of memory");
    pthread_mutex_init(&fe->mu, NULL);
    fe->base.v = &fault_vtbl;
    fe->b = base;
    lt_env_hold(base);   /* the base outlives this wrapper */
    *out = &fe->base;
    return LT_OK;
}
