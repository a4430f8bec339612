/* env.h: all file I/O goes through an lt_env, so the engine runs over POSIX, over an
 * in-memory file system (":memory:" databases) or over a fault-injecting layer (tests).
 *
 * Paths are plain strings; a database is one directory. Every function returns LT_OK
 * or an LT_E* code with the message set (lt_seterr), naming the path.
 * Thread-safety: env functions may be called from many threads. A writable file is
 * used by one thread at a time; a readable file's read_at may be called concurrently.
 * Created files have mode 0600. */
#ifndef LT_ENV_H
#define LT_ENV_H

#include <stddef.h>
#include <stdint.h>
#include "../include/lightning.h"

typedef struct lt_wfile lt_wfile; /* append-only writable file */
typedef struct lt_rfile lt_rfile; /* random-access readable file */
typedef struct lt_flock lt_flock; /* a held database lock */

typedef struct lt_env_vtbl {
    /* Create (truncating) a file for appending. */
    int (*new_writable)(lt_env *env, const char *path, lt_wfile **out);
    /* Open an existing file for appending at its end (log reuse). */
    int (*new_appendable)(lt_env *env, const char *path, lt_wfile **out);
    int (*new_readable)(lt_env *env, const char *path, lt_rfile **out);
    /* 1 if exists, 0 if not (never an error). */
    int (*exists)(lt_env *env, const char *path);
    int (*remove)(lt_env *env, const char *path);
    int (*rename)(lt_env *env, const char *from, const char *to);
    int (*mkdir)(lt_env *env, const char *path);   /* LT_OK if it exists already */
    /* fsync the directory so that creates, renames and removes in it are durable. */
    int (*sync_dir)(lt_env *env, const char *path);
    /* Names (not paths) of the entries of a directory, malloc'ed array of malloc'ed
     * strings; free with lt_env_free_names. */
    int (*list_dir)(lt_env *env, const char *path, char ***names, size_t *n);
    int (*file_size)(lt_env *env, const char *path, uint64_t *size);
    /* Shrink a file to `size` bytes (recovery cuts a torn log tail). */
    int (*truncate)(lt_env *env, const char *path, uint64_t size);
    /* Take the database lock file `path`.
     * Exclusive (shared = 0), for a writer: creates the file if missing and writes
     * our pid into it.
     * Shared (shared = 1), for a read-only open: opens the existing file read-only
     * and creates, writes and changes nothing, so it works on read-only media. A
     * missing lock file is not created: the lock then holds nothing (a database
     * copied without its lock file still opens read-only, but a writer opening it
     * at the same time is not kept out).
     * Any number of shared holders coexist; an exclusive holder excludes everyone
     * else. A conflict gives LT_ELOCKED, message "database is locked by pid N ..."
     * naming one holder. A second lock of one path in the same process, of either
     * kind, is a conflict too (the database registry shares one engine instead). */
    int (*lock)(lt_env *env, const char *path, int shared, lt_flock **out);
    void (*unlock)(lt_env *env, lt_flock *l);

    /* Writable files. append may buffer in user space; flush hands buffered bytes to
     * the OS (after it a process crash loses nothing); sync = flush + fdatasync. */
    int (*append)(lt_wfile *f, const void *data, size_t n);
    int (*flush)(lt_wfile *f);
    int (*sync)(lt_wfile *f);
    int (*wclose)(lt_wfile *f);        /* flushes (does not sync) and frees */
    /* Size of the file as written through this handle: its size at open (0 for
     * new_writable) plus the bytes appended since, buffered or not. */
    uint64_t (*wsize)(lt_wfile *f);

    /* Readable files: read up to n bytes at offset into scratch; *got = bytes read
     * (short only at end of file). */
    int (*read_at)(lt_rfile *f, uint64_t off, size_t n, char *scratch, size_t *got);
    /* Advise sequential access from off for len bytes (readahead); may be a no-op. */
    void (*readahead)(lt_rfile *f, uint64_t off, size_t len);
    uint64_t (*rsize)(lt_rfile *f);
    void (*rclose)(lt_rfile *f);

    void (*destroy)(lt_env *env);
} lt_env_vtbl;

struct lt_env {
    const lt_env_vtbl *v;
    /* Lifetime (env_util.c): an env is destroyed when its owner has called lt_env_free
     * and no database or wrapping env holds it any more, whatever the order (Python's
     * garbage collector may free an env object before the database using it). */
    int holders;
    int released;
};

/* Keep `env` alive until the matching lt_env_release (no-op for the POSIX env). */
void lt_env_hold(lt_env *env);
void lt_env_release(lt_env *env);

/* Every lt_wfile / lt_rfile / lt_flock begins with a pointer to its env, so the
 * wrappers below can dispatch. */
struct lt_wfile { lt_env *env; };
struct lt_rfile { lt_env *env; };
struct lt_flock { lt_env *env; };

static inline int lt_wappend(lt_wfile *f, const void *d, size_t n) { return f->env->v->append(f, d, n); }
static inline int lt_wflush(lt_wfile *f) { return f->env->v->flush(f); }
static inline int lt_wsync(lt_wfile *f) { return f->env->v->sync(f); }
static inline int lt_wclose(lt_wfile *f) { return f->env->v->wclose(f); }
static inline uint64_t lt_wsize(lt_wfile *f) { return f->env->v->wsize(f); }
static inline int lt_rread(lt_rfile *f, uint64_t off, size_t n, char *s, size_t *got) { return f->env->v->read_at(f, off, n, s, got); }
static inline void lt_rreadahead(lt_rfile *f, uint64_t off, size_t n) { f->env->v->readahead(f, off, n); }
static inline uint64_t lt_rsize(lt_rfile *f) { return f->env->v->rsize(f); }
static inline void lt_rclose(lt_rfile *f) { if (f) f->env->v->rclose(f); }

void lt_env_free_names(char **names, size_t n);

/* fork() support; db_open.c's pthread_atfork handlers call these with phase 0 before
 * fork (take the mutex), 1 in the parent after it (release), 2 in the child (release;
 * lt_env_posix_atfork also forgets the locks the parent holds, which the child does
 * not hold, so the child can try to lock those databases itself). */
void lt_env_util_atfork(int phase);   /* env_util.c: env lifetimes */
void lt_env_posix_atfork(int phase);  /* env_posix.c: the table of held locks */

/* The directory part of `path` (malloc'ed; NULL on ENOMEM): "a/b/c" -> "a/b",
 * "/x" -> "/", "x" -> ".". Trailing slashes of `path` are ignored. */
char *lt_path_parent(const char *path);

/* Read a whole (small) file into a malloc'ed buffer; *data must be freed. The buffer
 * has a NUL byte after the *n bytes read, so text files can be parsed in place. */
int lt_env_read_file(lt_env *env, const char *path, char **data, size_t *n);
/* Write a whole file durably: write `tmp`, sync it, rename over `path`, sync `dir`. */
int lt_env_write_file_atomic(lt_env *env, const char *dir, const char *tmp,
                             const char *path, const void *data, size_t n);

#endif
