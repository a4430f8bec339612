/* env_posix.c: the lt_env over the POSIX file system (lt_env_posix()).
 *
 * Writable files keep a 64 KiB user-space buffer: appends are copied into it, an
 * append larger than the buffer goes straight to write(2), flush writes the buffer out
 * (looping over EINTR and short writes), sync = flush + fdatasync. Created files are
 * O_CLOEXEC, mode 0600. Readable files use pread, so reads may run concurrently.
 *
 * The database lock is an fcntl(F_SETLK) lock over the whole lock file: a write lock
 * for a writer, which then writes its pid into the file, or a read lock taken on the
 * file opened O_RDONLY for a read-only open, which writes nothing (so it works on
 * read-only media, and readers share while a writer excludes them all). fcntl locks
 * belong to the process, so a second lock of
 * the same file from this process would succeed (and closing any descriptor of the
 * file would drop the lock): a process-wide table of held lock paths (by realpath)
 * refuses the second lock before the file is even opened. Errors name the operation
 * and path and carry strerror(errno); nothing is ever printed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "../util/status.h"
#include "env.h"

#define WBUF_SIZE (64 * 1024)

typedef struct posix_wfile {
    lt_wfile base;
    int fd;
    size_t len;     /* bytes in buf */
    uint64_t size;  /* file size including buffered bytes */
    char *buf;
    char *path;
} posix_wfile;

typedef struct posix_rfile {
    lt_rfile base;
    int fd;
    uint64_t size_at_open;
    char *path;
} posix_rfile;

typedef struct posix_flock {
    lt_flock base;
    int fd;
    char *key;  /* entry in the lock table */
    struct posix_flock *next;
} posix_flock;

static lt_env posix_env;

/* ---- writable files ------------------------------------------------------------ */

static int write_all(posix_wfile *w, const char *p, size_t n) {
    while (n > 0) {
        ssize_t k = write(w->fd, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return lt_seterr_errno(errno, "write %s", w->path);
        }
        if (k == 0) return lt_seterr(LT_EIO, "write %s: wrote nothing", w->path);
        p += k;
        n -= (size_t)k;
    }
    return LT_OK;
}

static int flush_buf(posix_wfile *w) {
    if (w->len == 0) return LT_OK;
    int rc = write_all(w, w->buf, w->len);
    w->len = 0; /* on error the file state is unknown; the caller must stop writing */
    return rc;
}

static int p_append(lt_wfile *f, const void *data, size_t n) {
    posix_wfile *w = (posix_wfile *)f;
    const char *p = data;
    size_t fit = WBUF_SIZE - w->len;
    size_t k = n < fit ? n : fit;
    if (k) memcpy(w->buf + w->len, p, k);
    w->len += k;
    if (k == n) { w->size += n; return LT_OK; }
    int rc = flush_buf(w);
    if (rc == LT_OK) {
        p += k;
        size_t rest = n - k;
        if (rest < WBUF_SIZE) {
            memcpy(w->buf, p, rest);
            w->len = rest;
        } else {
            rc = write_all(w, p, rest);
        }
    }
    if (rc == LT_OK) w->size += n;
    return rc;
}

static int p_flush(lt_wfile *f) { return flush_buf((posix_wfile *)f); }

static int p_sync(lt_wfile *f) {
    posix_wfile *w = (posix_wfile *)f;
    int rc = flush_buf(w);
    if (rc) return rc;
    while (fdatasync(w->fd) != 0) {
        if (errno != EINTR) return lt_seterr_errno(errno, "fdatasync %s", w->path);
    }
    return LT_OK;
}

static int p_wclose(lt_wfile *f) {
    posix_wfile *w = (posix_wfile *)f;
    int rc = flush_buf(w);
    if (close(w->fd) != 0 && rc == LT_OK) rc = lt_seterr_errno(errno, "close %s", w->path);
    free(w->buf);
    free(w->path);
    free(w);
    return rc;
}

static uint64_t p_wsize(lt_wfile *f) { return ((posix_wfile *)f)->size; }

static int open_writable(const char *path, int flags, lt_wfile **out) {
    *out = NULL;
    posix_wfile *w = calloc(1, sizeof *w);
    char *buf = malloc(WBUF_SIZE);
    char *cpath = strdup(path);
    if (!w || !buf || !cpath) {
        free(w); free(buf); free(cpath);
        return lt_seterr(LT_ENOMEM, "open %s: out of memory", path);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0600);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int rc = lt_seterr_errno(errno, "open %s for writing", path);
        if (fd >= 0) close(fd);
        free(w); free(buf); free(cpath);
        return rc;
    }
    w->base.env = &posix_env;
    w->fd = fd;
    w->buf = buf;
    w->path = cpath;
    w->size = (flags & O_APPEND) ? (uint64_t)st.st_size : 0;
    *out = &w->base;
    return LT_OK;
}

static int p_new_writable(lt_env *env, const char *path, lt_wfile **out) {
    (void)env; return open_writable(path, O_TRUNC, out);
}
static int p_new_appendable(lt_env *env, const char *path, lt_wfile **out) {
    (void)env; return open_writable(path, O_APPEND, out);
}

/* ---- readable files ------------------------------------------------------------ */

static int p_new_readable(lt_env *env, const char *path, lt_rfile **out) {
    (void)env;
    *out = NULL;
    posix_rfile *r = calloc(1, sizeof *r);
    char *cpath = strdup(path);
    if (!r || !cpath) {
        free(r); free(cpath);
        return lt_seterr(LT_ENOMEM, "open %s: out of memory", path);
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int rc = lt_seterr_errno(errno, "open %s for reading", path);
        if (fd >= 0) close(fd);
        free(r); free(cpath);
        return rc;
    }
    r->base.env = &posix_env;
    r->fd = fd;
    r->size_at_open = (uint64_t)st.st_size;
    r->path = cpath;
    *out = &r->base;
    return LT_OK;
}

static int p_read_at(lt_rfile *f, uint64_t off, size_t n, char *scratch, size_t *got) {
    posix_rfile *r = (posix_rfile *)f;
    size_t done = 0;
    *got = 0;
    while (done < n) {
        ssize_t k = pread(r->fd, scratch + done, n - done, (off_t)(off + done));
        if (k < 0) {
            if (errno == EINTR) continue;
            return lt_seterr_errno(errno, "read %s at offset %llu", r->path,
                                   (unsigned long long)(off + done));
        }
        if (k == 0) break; /* end of file */
        done += (size_t)k;
    }
    *got = done;
    return LT_OK;
}

static void p_readahead(lt_rfile *f, uint64_t off, size_t len) {
    posix_rfile *r = (posix_rfile *)f;
    (void)posix_fadvise(r->fd, (off_t)off, (off_t)len, POSIX_FADV_WILLNEED);
}

static uint64_t p_rsize(lt_rfile *f) {
    posix_rfile *r = (posix_rfile *)f;
    struct stat st;
    if (fstat(r->fd, &st) == 0) return (uint64_t)st.st_size;
    return r->size_at_open;
}

static void p_rclose(lt_rfile *f) {
    posix_rfile *r = (posix_rfile *)f;
    close(r->fd);
    free(r->path);
    free(r);
}

/* ---- names and directories ----------------------------------------------------- */

static int p_exists(lt_env *env, const char *path) { (void)env; return access(path, F_OK) == 0; }

static int p_remove(lt_env *env, const char *path) {
    (void)env;
    if (unlink(path) == 0) return LT_OK;
    int e = errno;
    if ((e == EISDIR || e == EPERM) && rmdir(path) == 0) return LT_OK; /* empty dir */
    return lt_seterr_errno(e, "remove %s", path);
}

static int p_rename(lt_env *env, const char *from, const char *to) {
    (void)env;
    if (rename(from, to) != 0) return lt_seterr_errno(errno, "rename %s to %s", from, to);
    return LT_OK;
}

static int p_mkdir(lt_env *env, const char *path) {
    (void)env;
    if (mkdir(path, 0700) == 0) return LT_OK;
    int e = errno;
    struct stat st;
    if (e == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return LT_OK;
    return lt_seterr_errno(e, "mkdir %s", path);
}

static int p_sync_dir(lt_env *env, const char *path) {
    (void)env;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return lt_seterr_errno(errno, "open directory %s", path);
    int rc = LT_OK;
    while (fsync(fd) != 0) {
        if (errno != EINTR) { rc = lt_seterr_errno(errno, "fsync directory %s", path); break; }
    }
    close(fd);
    return rc;
}

static int p_list_dir(lt_env *env, const char *path, char ***names, size_t *n) {
    (void)env;
    *names = NULL;
    *n = 0;
    DIR *d = opendir(path);
    if (!d) return lt_seterr_errno(errno, "list directory %s", path);
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = LT_OK;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno) rc = lt_seterr_errno(errno, "list directory %s", path);
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nv = realloc(v, ncap * sizeof *nv);
            if (!nv) { rc = lt_seterr(LT_ENOMEM, "list directory %s: out of memory", path); break; }
            v = nv;
            cap = ncap;
        }
        if (!(v[cnt] = strdup(de->d_name))) {
            rc = lt_seterr(LT_ENOMEM, "list directory %s: out of memory", path);
            break;
        }
        cnt++;
    }
    closedir(d);
    if (rc) { lt_env_free_names(v, cnt); return rc; }
    *names = v;
    *n = cnt;
    return LT_OK;
}

static int p_file_size(lt_env *env, const char *path, uint64_t *size) {
    (void)env;
    struct stat st;
    if (stat(path, &st) != 0) return lt_seterr_errno(errno, "stat %s", path);
    *size = (uint64_t)st.st_size;
    return LT_OK;
}

static int p_truncate(lt_env *env, const char *path, uint64_t size) {
    (void)env;
    while (truncate(path, (off_t)size) != 0) {
        if (errno != EINTR)
            return lt_seterr_errno(errno, "truncate %s to %llu bytes", path,
                                   (unsigned long long)size);
    }
    return LT_OK;
}

/* ---- the database lock --------------------------------------------------------- */

static pthread_mutex_t lock_mu = PTHREAD_MUTEX_INITIALIZER;
static posix_flock *lock_held; /* locks this process holds; guarded by lock_mu */

/* Take an fcntl lock of `type` (F_WRLCK or F_RDLCK) on the whole file. */
static int lock_taken(const char *path, int fd, short type) {
    for (int attempt = 0; attempt < 3; attempt++) {
        struct flock fl;
        memset(&fl, 0, sizeof fl);
        fl.l_type = type;
        fl.l_whence = SEEK_SET;
        if (fcntl(fd, F_SETLK, &fl) == 0) return LT_OK;
        int e = errno;
        if (e == EINTR) continue;
        if (e != EAGAIN && e != EACCES) return lt_seterr_errno(e, "lock %s", path);
        memset(&fl, 0, sizeof fl);
        fl.l_type = type;
        fl.l_whence = SEEK_SET;
        if (fcntl(fd, F_GETLK, &fl) != 0) return lt_seterr_errno(errno, "lock %s", path);
        if (fl.l_type == F_UNLCK) continue; /* the holder just let go: try again */
        return lt_seterr(LT_ELOCKED, "database is locked by pid %ld%s (lock file %s)",
                         (long)fl.l_pid, fl.l_type == F_RDLCK ? ", which has it open read-only" : "",
                         path);
    }
    return lt_seterr(LT_ELOCKED, "database is locked by another process (lock file %s)", path);
}

/* The lock table key: the real path of the lock file's directory (which exists)
 * plus the file name, so spellings of one path agree whether or not the file exists. */
static char *lock_key(const char *path) {
    char *parent = lt_path_parent(path);
    if (!parent) return NULL;
    char *dir = realpath(parent, NULL);
    free(parent);
    if (!dir) return strdup(path);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t n = strlen(dir) + strlen(base) + 2;
    char *key = malloc(n);
    if (key) snprintf(key, n, "%s/%s", dir, base);
    free(dir);
    return key;
}

static int p_lock(lt_env *env, const char *path, int shared, lt_flock **out) {
    (void)env;
    *out = NULL;
    char *key = lock_key(path);
    posix_flock *l = calloc(1, sizeof *l);
    if (!key || !l) {
        free(key); free(l);
        return lt_seterr(LT_ENOMEM, "lock %s: out of memory", path);
    }
    int rc = LT_OK, fd = -1;
    pthread_mutex_lock(&lock_mu);
    for (posix_flock *h = lock_held; h; h = h->next) {
        if (strcmp(h->key, key) == 0) {
            rc = lt_seterr(LT_ELOCKED, "database is locked by pid %ld (this process; "
                           "lock file %s)", (long)getpid(), path);
            goto out;
        }
    }
    if (shared) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno != ENOENT) { rc = lt_seterr_errno(errno, "open lock file %s", path); goto out; }
        if (fd >= 0 && (rc = lock_taken(path, fd, F_RDLCK))) goto out;
        goto held;   /* (no file: nothing to lock, see env.h) */
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) { rc = lt_seterr_errno(errno, "open lock file %s", path); goto out; }
    rc = lock_taken(path, fd, F_WRLCK);
    if (rc) goto out;
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    ssize_t wrote = -1;
    if (ftruncate(fd, 0) == 0) wrote = pwrite(fd, pid, (size_t)len, 0);
    if (wrote != (ssize_t)len) {
        rc = lt_seterr_errno(wrote < 0 ? errno : EIO, "write pid to lock file %s", path);
        goto out;
    }
held:
    l->base.env = &posix_env;
    l->fd = fd;
    l->key = key;
    l->next = lock_held;
    lock_held = l;
    *out = &l->base;
out:
    pthread_mutex_unlock(&lock_mu);
    if (rc) {
        if (fd >= 0) close(fd);
        free(key);
        free(l);
    }
    return rc;
}

static void p_unlock(lt_env *env, lt_flock *fl) {
    (void)env;
    if (!fl) return;
    posix_flock *l = (posix_flock *)fl;
    pthread_mutex_lock(&lock_mu);
    for (posix_flock **pp = &lock_held; *pp; pp = &(*pp)->next) {
        if (*pp == l) { *pp = l->next; break; }
    }
    if (l->fd >= 0) close(l->fd); /* releases the fcntl lock; under lock_mu so a re-lock sees it gone */
    pthread_mutex_unlock(&lock_mu);
    free(l->key);
    free(l);
}

void lt_env_posix_atfork(int phase) {
    if (phase == 0) { pthread_mutex_lock(&lock_mu); return; }
    /* The child holds none of the parent's fcntl locks: forget them. Closing our
     * copies of the descriptors releases nothing of the parent's (the locks belong
     * to its process); the entries stay with the engines the child leaks. */
    if (phase == 2) {
        for (posix_flock *h = lock_held; h; h = h->next)
            if (h->fd >= 0) { close(h->fd); h->fd = -1; }
        lock_held = NULL;
    }
    pthread_mutex_unlock(&lock_mu);
}

static void p_destroy(lt_env *env) { (void)env; /* process-wide, never freed */ }

static const lt_env_vtbl posix_vtbl = {
    .new_writable = p_new_writable, .new_appendable = p_new_appendable,
    .new_readable = p_new_readable, .exists = p_exists, .remove = p_remove,
    .rename = p_rename, .mkdir = p_mkdir, .sync_dir = p_sync_dir, .list_dir = p_list_dir,
    .file_size = p_file_size, .truncate = p_truncate, .lock = p_lock, .unlock = p_unlock,
    .append = p_append, .flush = p_flush, .sync = p_sync, .wclose = p_wclose,
    .wsize = p_wsize, .read_at = p_read_at, .readahead = p_readahead, .rsize = p_rsize,
    .rclose = p_rclose, .destroy = p_destroy,
};

static lt_env posix_env = { &posix_vtbl, 0, 0 };

lt_env *lt_env_posix(void) {
    return &posix_env;
}
