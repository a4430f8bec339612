/* env_util.c: helpers built only on the env interface, whatever the env: whole-file
 * read, durable whole-file replace (write tmp, sync, rename, sync dir), freeing
 * directory listings, path parents, and lt_env_free. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/status.h"
#include "env.h"

void lt_env_free_names(char **names, size_t n) {
    if (!names) return;
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

char *lt_path_parent(const char *path) {
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/') len--;           /* trailing slashes */
    while (len > 0 && path[len - 1] != '/') len--;           /* the last name */
    while (len > 1 && path[len - 1] == '/') len--;           /* its separator(s) */
    const char *src = path;
    if (len == 0) { src = "."; len = 1; }                    /* no directory part */
    char *out = malloc(len + 1);
    if (!out) return NULL;
    memcpy(out, src, len);
    out[len] = '\0';
    return out;
}

int lt_env_read_file(lt_env *env, const char *path, char **data, size_t *n) {
    *data = NULL;
    *n = 0;
    lt_rfile *f = NULL;
    int rc = env->v->new_readable(env, path, &f);
    if (rc) return rc;
    uint64_t size = lt_rsize(f);
    if (size >= (uint64_t)SIZE_MAX) {
        lt_rclose(f);
        return lt_seterr(LT_ENOMEM, "read %s: file of %llu bytes is too large", path,
                         (unsigned long long)size);
    }
    char *buf = malloc((size_t)size + 1);
    if (!buf) {
        lt_rclose(f);
        return lt_seterr(LT_ENOMEM, "read %s: out of memory for %llu bytes", path,
                         (unsigned long long)size);
    }
    size_t got = 0;
    rc = lt_rread(f, 0, (size_t)size, buf, &got);
    lt_rclose(f);
    if (rc) { free(buf); return rc; }
    buf[got] = '\0';
    *data = buf;
    *n = got;
    return LT_OK;
}

int lt_env_write_file_atomic(lt_env *env, const char *dir, const char *tmp,
                             const char *path, const void *data, size_t n) {
    lt_wfile *f = NULL;
    int rc = env->v->new_writable(env, tmp, &f);
    if (rc) return rc;
    rc = lt_wappend(f, data, n);
    if (rc == LT_OK) rc = lt_wsync(f);
    int crc = lt_wclose(f);
    if (rc == LT_OK) rc = crc;
    if (rc == LT_OK) rc = env->v->rename(env, tmp, path);
    if (rc) {
        /* Best effort: do not leave the temporary behind, keep the first message. */
        char saved[512];
        snprintf(saved, sizeof saved, "%s", lt_errmsg());
        if (env->v->exists(env, tmp)) (void)env->v->remove(env, tmp);
        return lt_seterr(rc, "%s", saved);
    }
    return env->v->sync_dir(env, dir);
}

static pthread_mutex_t env_life_mu = PTHREAD_MUTEX_INITIALIZER;

void lt_env_hold(lt_env *env) {
    if (!env || env == lt_env_posix()) return;
    pthread_mutex_lock(&env_life_mu);
    env->holders++;
    pthread_mutex_unlock(&env_life_mu);
}

/* Destroy when released by its owner and held by nobody. */
static void env_drop(lt_env *env, int owner) {
    pthread_mutex_lock(&env_life_mu);
    if (owner) env->released = 1; else env->holders--;
    int dead = env->released && env->holders == 0;
    pthread_mutex_unlock(&env_life_mu);
    if (dead && env->v->destroy) env->v->destroy(env);
}

void lt_env_util_atfork(int phase) {
    if (phase == 0) pthread_mutex_lock(&env_life_mu);
    else pthread_mutex_unlock(&env_life_mu);
}

void lt_env_release(lt_env *env) {
    if (env && env != lt_env_posix()) env_drop(env, 0);
}

void lt_env_free(lt_env *env) {
    if (env && env != lt_env_posix()) env_drop(env, 1);
}
