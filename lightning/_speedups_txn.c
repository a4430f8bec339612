/* _speedups_txn.c: a KV transaction's reads from C, for the SQL layer's hot paths.
 *
 * lightning/transaction.py owns transactions. It hands this module the engine's entry
 * points once (bind_engine) and gives each Transaction a TxnReader holding the
 * engine handle, the object that keeps the handle alive, and the transaction's lock.
 * Every call here:
 *   - takes that lock without waiting (a busy lock: NotImplemented, and the caller's
 *     Python path waits for it as Transaction does),
 *   - releases the GIL around engine calls, as cffi does,
 *   - returns NotImplemented for anything unusual (an engine error, an ended
 *     transaction, an argument of another type, an entry too big for the batch):
 *     the caller then runs its Python path, which raises the right error. So these
 *     functions never change what a statement does, only how fast it runs.
 *
 *   TxnReader.get(key) -> bytes | None | NotImplemented        (Transaction.get)
 *   point_row(reader, key, ids) -> [] | [row tuple] | NotImplemented
 *       one row read and decoded for the column ids `ids` (select.PointRunner)
 *   pk_row(reader, prefix, params, nparams, cols, plain, ids) -> as point_row
 *       the same for the key of the point that parameters name (point_key: the key
 *       prefix + the parameters cols = ((k, kind, lo, hi, maxlen, desc), ...) pick,
 *       each usable as is; params a tuple of nparams values of types in `plain`)
 *   index_rows(reader, start, end, reverse, rows_prefix, fixed, ids, limit)
 *       -> [row list, ...] | NotImplemented
 *       the rows named by the index entries in [start, end): an entry's value when
 *       not empty, else its key's bytes from `fixed` on, after rows_prefix, is the
 *       row key (access.Access._index_rows). NotImplemented when there are more than
 *       `limit` entries.
 *   index_point(reader, prefix, params, nparams, cols, plain, rows_prefix, ids, limit)
 *       -> [row tuple, ...] | NotImplemented
 *       index_rows of the one point a fully pinned index equality names (point_key,
 *       as pk_row), rows decoded for `ids`
 * Reads count for serializable validation exactly as the same Transaction calls do.
 */
#include "_speedups.h"
#include "lightning.h"

static struct {
    int (*get)(lt_txn *, const void *, size_t, int, const char **, size_t *);
    int (*scan)(lt_txn *, const void *, size_t, const void *, size_t, int, char *, size_t,
                size_t, size_t *, size_t *, int *);
} eng;

static void *address(PyObject *o) {
    void *p = PyLong_AsVoidPtr(o);
    if (!p && !PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "null address");
    return p;
}

PyObject *ltsp_bind_engine(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *a[2];
    if (!PyArg_ParseTuple(args, "OO:bind_engine", &a[0], &a[1])) return NULL;
    void *p[2];
    for (int i = 0; i < 2; i++)
        if (!(p[i] = address(a[i]))) return NULL;
    /* function pointers from object pointers: the addresses cffi gave for these
     * exact functions (lt_txn_get_ex, lt_txn_scan) */
    memcpy(&eng.get, &p[0], sizeof p[0]);
    memcpy(&eng.scan, &p[1], sizeof p[1]);
    Py_RETURN_NONE;
}

/* ---- the reader ----------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    lt_txn *h;
    PyObject *owner;            /* keeps h alive (the handle's cdata, freed by ffi.gc) */
    PyObject *acquire, *release;
} Reader;

static PyTypeObject ReaderType;

static int reader_init(Reader *r, PyObject *args, PyObject *kw) {
    PyObject *addr, *owner, *lock;
    if (kw && PyDict_GET_SIZE(kw)) {
        PyErr_SetString(PyExc_TypeError, "TxnReader takes no keyword arguments");
        return -1;
    }
    if (!PyArg_ParseTuple(args, "OOO:TxnReader", &addr, &owner, &lock)) return -1;
    if (!eng.get) {
        PyErr_SetString(PyExc_RuntimeError, "lightning._speedups: bind_engine() not called");
        return -1;
    }
    void *h = address(addr);
    if (!h) return -1;
    PyObject *acq = PyObject_GetAttrString(lock, "acquire");
    PyObject *rel = acq ? PyObject_GetAttrString(lock, "release") : NULL;
    if (!rel) { Py_XDECREF(acq); return -1; }
    r->h = h;
    Py_XSETREF(r->owner, Py_NewRef(owner));
    Py_XSETREF(r->acquire, acq);
    Py_XSETREF(r->release, rel);
    return 0;
}

static void reader_dealloc(Reader *r) {
    Py_XDECREF(r->owner);
    Py_XDECREF(r->acquire);
    Py_XDECREF(r->release);
    Py_TYPE(r)->tp_free((PyObject *)r);
}

/* 1 locked, 0 busy (or a reader never initialised), -1 error. */
static int lock_try(Reader *r) {
    if (!r->acquire) return 0;
    PyObject *ok = PyObject_CallOneArg(r->acquire, Py_False);
    if (!ok) return -1;
    int got = ok == Py_True;
    Py_DECREF(ok);
    return got;
}

static int unlock(Reader *r) {
    PyObject *ok = PyObject_CallNoArgs(r->release);
    if (!ok) return -1;
    Py_DECREF(ok);
    return 0;
}

static int engine_get(Reader *r, const char *k, size_t kl, const char **v, size_t *vl) {
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = eng.get(r->h, k, kl, 0, v, vl);
    Py_END_ALLOW_THREADS
    return rc;
}

static PyObject *not_implemented(void) { return Py_NewRef(Py_NotImplemented); }

/* Finish a call made under the lock: unlock, and return `out` (NULL on an unlock
 * error, which drops `out`). */
static PyObject *finish(Reader *r, PyObject *out) {
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);             /* a pending error survives the call */
    int bad = unlock(r) < 0;
    if (et) {
        if (bad) PyErr_Clear();
        PyErr_Restore(et, ev, tb);
    }
    if (bad || et) { Py_XDECREF(out); return NULL; }
    return out;
}

static PyObject *reader_get(Reader *r, PyObject *key) {
    if (!PyBytes_CheckExact(key)) return not_implemented();
    int lk = lock_try(r);
    if (lk <= 0) return lk < 0 ? NULL : not_implemented();
    const char *v;
    size_t vl;
    int rc = engine_get(r, PyBytes_AS_STRING(key), (size_t)PyBytes_GET_SIZE(key), &v, &vl);
    PyObject *out = rc == LT_OK ? PyBytes_FromStringAndSize(v, (Py_ssize_t)vl)
                  : rc == LT_ENOTFOUND ? Py_NewRef(Py_None) : not_implemented();
    return finish(r, out);
}

static PyMethodDef reader_methods[] = {
    {"get", (PyCFunction)reader_get, METH_O,
     "get(key) -> bytes, None (absent) or NotImplemented (use Transaction.get)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "lightning._speedups.TxnReader",
    .tp_basicsize = sizeof(Reader),
    .tp_dealloc = (destructor)reader_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "TxnReader(handle_address, owner, lock): C reads of one transaction "
              "(see lightning/_speedups_txn.c).",
    .tp_methods = reader_methods,
    .tp_init = (initproc)reader_init,
    .tp_new = PyType_GenericNew,
};

int ltsp_txn_init(PyObject *module) {
    if (PyType_Ready(&ReaderType) < 0) return -1;
    return PyModule_AddObjectRef(module, "TxnReader", (PyObject *)&ReaderType);
}

/* ---- SQL reads ------------------------------------------------------------------ */

/* The row at v[0:vl) for ids: a new list (tuple when `tuple`), or DECLINE with a bytes
 * copy in *raw for the Python decoder (called after the lock is released), or NULL
 * with an error. */
static PyObject *decode_or_copy(const char *v, size_t vl, const int64_t *ids, Py_ssize_t m,
                                int tuple, PyObject **raw) {
    PyObject *row = ltsp_decode_buf((const unsigned char *)v, (Py_ssize_t)vl, ids, m, tuple);
    if (row != DECLINE) return row;
    *raw = PyBytes_FromStringAndSize(v, (Py_ssize_t)vl);
    return *raw ? DECLINE : NULL;
}

static Reader *reader_arg(PyObject *o) {
    if (Py_TYPE(o) != &ReaderType) {
        PyErr_Format(PyExc_TypeError, "expected a TxnReader, not %.100s", Py_TYPE(o)->tp_name);
        return NULL;
    }
    return (Reader *)o;
}

/* [] or [row tuple] for the row at key[0:klen), or NotImplemented. */
static PyObject *read_row(Reader *r, const char *key, size_t klen, PyObject *schema) {
    int64_t small[LTSP_SMALL_COLS], *ids;
    Py_ssize_t m;
    int rc = ltsp_ids_of(schema, small, LTSP_SMALL_COLS, &ids, &m);
    if (rc) return rc < 0 ? NULL : not_implemented();
    PyObject *out = NULL, *row = NULL, *raw = NULL;
    int lk = lock_try(r);
    if (lk <= 0) {
        out = lk < 0 ? NULL : not_implemented();
        goto done;
    }
    const char *v;
    size_t vl;
    rc = engine_get(r, key, klen, &v, &vl);
    if (rc == LT_OK) row = decode_or_copy(v, vl, ids, m, 1, &raw);
    out = finish(r, rc == LT_OK ? Py_NewRef(Py_None)
                    : rc == LT_ENOTFOUND ? PyList_New(0) : not_implemented());
    if (!out || rc != LT_OK) goto done;
    Py_CLEAR(out);
    if (row == DECLINE && (row = ltsp_py_decode(raw, schema)))
        Py_SETREF(row, PyList_AsTuple(row));
    if (!row) goto done;
    if ((out = PyList_New(1))) {
        PyList_SET_ITEM(out, 0, row);
        row = NULL;
    }
done:
    if (row != DECLINE) Py_XDECREF(row);
    Py_XDECREF(raw);
    if (ids != small) PyMem_Free(ids);
    return out;
}

PyObject *ltsp_point_row(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "point_row(reader, key, ids) takes 3 arguments");
        return NULL;
    }
    Reader *r = reader_arg(args[0]);
    if (!r) return NULL;
    PyObject *key = args[1], *schema = args[2];
    if (!PyBytes_CheckExact(key) || !PyTuple_CheckExact(schema)) return not_implemented();
    return read_row(r, PyBytes_AS_STRING(key), (size_t)PyBytes_GET_SIZE(key), schema);
}

int ltsp_all_plain(PyObject *params, PyObject *plain) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(params); i++) {
        int in = PySet_Contains(plain, (PyObject *)Py_TYPE(PyTuple_GET_ITEM(params, i)));
        if (in <= 0) return in;
    }
    return 1;
}

/* The point `prefix` + the key elements of the parameters that `cols` picks:
 * ((k, kind, lo, hi, maxlen, desc), ...), params[k] stored as it is in a column of
 * that kind (insert_row's test), its element inverted for DESC. `params` must be a
 * tuple of `nparams` values whose types are all in the frozenset `plain` (what
 * bind() passes through). 1 built in *key, 0 NotImplemented, -1 error. */
static int point_key(PyObject *prefix, PyObject *params, PyObject *nparams, PyObject *cols,
                     PyObject *plain, Buf *key) {
    if (!PyBytes_CheckExact(prefix) || !PyTuple_CheckExact(params) ||
        !PyTuple_CheckExact(cols) || !PyFrozenSet_CheckExact(plain))
        return 0;
    Py_ssize_t want = PyLong_AsSsize_t(nparams);
    if (want == -1 && PyErr_Occurred()) return -1;
    if (PyTuple_GET_SIZE(params) != want) return 0;
    int pl = ltsp_all_plain(params, plain);
    if (pl <= 0) return pl;
    if (buf_put(key, PyBytes_AS_STRING(prefix), (size_t)PyBytes_GET_SIZE(prefix)) < 0)
        return -1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(cols); i++) {
        long long f[5];
        PyObject *c = PyTuple_GET_ITEM(cols, i);
        if (!PyTuple_CheckExact(c) || PyTuple_GET_SIZE(c) != 6) return 0;
        for (int j = 0; j < 5; j++) {
            int ovf;
            f[j] = PyLong_AsLongLongAndOverflow(PyTuple_GET_ITEM(c, j), &ovf);
            if (f[j] == -1 && PyErr_Occurred()) return -1;
            if (ovf) return 0;
        }
        if (f[0] < 0 || f[0] >= want) return 0;
        PyObject *v = PyTuple_GET_ITEM(params, (Py_ssize_t)f[0]);
        if (!ltsp_storable(v, (long)f[1], f[2], f[3], (long)f[4])) return PyErr_Occurred() ? -1 : 0;
        size_t at = key->len;
        PyObject *e = ltsp_key_element(key, v);
        if (!e || e == DECLINE) return e ? 0 : -1;
        if (PyTuple_GET_ITEM(c, 5) == Py_True)
            for (size_t j = at; j < key->len; j++) key->p[j] = (unsigned char)~key->p[j];
    }
    return 1;
}

PyObject *ltsp_pk_row(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "pk_row(reader, prefix, params, nparams, cols, "
                        "plain, ids) takes 7 arguments");
        return NULL;
    }
    Reader *r = reader_arg(args[0]);
    if (!r) return NULL;
    if (!PyTuple_CheckExact(args[6])) return not_implemented();
    Buf key;
    buf_init(&key);
    int rc = point_key(args[1], args[2], args[3], args[4], args[5], &key);
    PyObject *out = rc < 0 ? NULL : rc == 0 ? not_implemented()
                  : read_row(r, (const char *)key.p, key.len, args[6]);
    buf_free(&key);
    return out;
}

#define INDEX_BATCH 4096    /* bytes of index entries read in one go */

#define MAX_ROW_KEY 1024    /* longer row keys: the Python path */

/* What index_fetch found: the values of the rows, copied (malloc: filled without the
 * GIL), one span each. */
typedef struct {
    char *vals;                 /* `small`, or a malloc'ed block once they outgrow it */
    size_t len, cap;
    size_t n, off[65], vlen[65];
    char small[2048];
} fetched;

static int keep_value(fetched *f, const char *v, size_t vl) {
    if (f->cap - f->len < vl) {
        size_t cap = f->cap * 2;
        while (cap - f->len < vl) cap *= 2;
        char *p = f->vals == f->small ? malloc(cap) : realloc(f->vals, cap);
        if (!p) return -1;
        if (f->vals == f->small) memcpy(p, f->small, f->len);
        f->vals = p;
        f->cap = cap;
    }
    memcpy(f->vals + f->len, v, vl);
    f->off[f->n] = f->len;
    f->vlen[f->n++] = vl;
    f->len += vl;
    return 0;
}

/* The engine part of index_rows, without the GIL (called under the transaction's
 * lock): read the entries of [start, end), then the row each names (rp + the entry's
 * value, or + its key from `fixed` on when the value is empty), into *f. 1 done, 0
 * NotImplemented: an engine error, more than `limit` (<= 64) entries, entries that
 * do not fit in one buffer, a row key over MAX_ROW_KEY, or no memory. */
static int index_fetch(Reader *r, const char *start, size_t sl, const char *end, size_t el,
                       int reverse, const char *rp, size_t rpl, size_t fixed,
                       size_t limit, fetched *f) {
    char buf[INDEX_BATCH], key[MAX_ROW_KEY];
    size_t n, used;
    int finished;
    /* one more entry than the limit, to know there are too many; the range must
     * have been read to its end */
    int rc = eng.scan(r->h, start, sl, end, el, reverse, buf, INDEX_BATCH, limit + 1, &n,
                      &used, &finished);
    if (rc != LT_OK || !finished || n > limit || rpl > MAX_ROW_KEY) return 0;
    memcpy(key, rp, rpl);
    const char *p = buf;
    for (size_t i = 0; i < n; i++) {
        uint32_t kl, vl;
        memcpy(&kl, p, 4);                     /* u32le: the engine's batch format */
        memcpy(&vl, p + 4, 4);
        const char *k = p + 8, *ev = k + kl;
        p = ev + vl;
        if (!vl && fixed > kl) return 0;
        const char *pk = vl ? ev : k + fixed;
        size_t pkl = vl ? vl : kl - fixed;
        if (pkl > MAX_ROW_KEY - rpl) return 0;
        memcpy(key + rpl, pk, pkl);
        const char *v;
        size_t rvl;
        rc = eng.get(r->h, key, rpl + pkl, LT_GET_PRESENT, &v, &rvl);  /* it should be there */
        if (rc == LT_ENOTFOUND) continue;
        if (rc != LT_OK || keep_value(f, v, rvl) < 0) return 0;
    }
    return 1;
}

/* index_rows' work: the rows (lists, or tuples when `tuples`) named by the entries
 * of [start, end), or NotImplemented. One release of the GIL for all engine calls. */
static PyObject *index_core(Reader *r, const char *start, size_t sl, const char *end,
                            size_t el, int reverse, PyObject *rp, size_t fixed,
                            PyObject *schema, size_t limit, int tuples) {
    int64_t small[LTSP_SMALL_COLS], *ids;
    Py_ssize_t m;
    int rc = ltsp_ids_of(schema, small, LTSP_SMALL_COLS, &ids, &m);
    if (rc) return rc < 0 ? NULL : not_implemented();
    PyObject *out = NULL;
    fetched f;
    f.vals = f.small;
    f.cap = sizeof f.small;
    f.len = f.n = 0;
    int lk = lock_try(r), ok;
    if (lk <= 0) {
        out = lk < 0 ? NULL : not_implemented();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    ok = index_fetch(r, start, sl, end, el, reverse, PyBytes_AS_STRING(rp),
                     (size_t)PyBytes_GET_SIZE(rp), fixed, limit, &f);
    Py_END_ALLOW_THREADS
    /* the values are copies: decoded after the lock is released */
    if (!(out = finish(r, ok ? PyList_New((Py_ssize_t)f.n) : not_implemented())) || !ok)
        goto done;
    for (size_t i = 0; i < f.n; i++) {
        const char *v = f.vals + f.off[i];
        PyObject *raw = NULL, *row = decode_or_copy(v, f.vlen[i], ids, m, tuples, &raw);
        if (row == DECLINE) {
            row = ltsp_py_decode(raw, schema);
            Py_DECREF(raw);
            if (row && tuples) Py_SETREF(row, PyList_AsTuple(row));
        }
        if (!row) { Py_CLEAR(out); break; }
        PyList_SET_ITEM(out, (Py_ssize_t)i, row);
    }
done:
    if (f.vals != f.small) free(f.vals);
    if (ids != small) PyMem_Free(ids);
    return out;
}

PyObject *ltsp_index_rows(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError, "index_rows(reader, start, end, reverse, "
                        "rows_prefix, fixed, ids, limit) takes 8 arguments");
        return NULL;
    }
    Reader *r = reader_arg(args[0]);
    if (!r) return NULL;
    PyObject *start = args[1], *end = args[2], *rp = args[4], *schema = args[6];
    if (!PyBytes_CheckExact(start) || !PyBytes_CheckExact(end) || !PyBytes_CheckExact(rp) ||
        !PyTuple_CheckExact(schema) || !PyLong_CheckExact(args[5]) ||
        !PyLong_CheckExact(args[7]))
        return not_implemented();
    int reverse = PyObject_IsTrue(args[3]);
    Py_ssize_t fixed = PyLong_AsSsize_t(args[5]), limit = PyLong_AsSsize_t(args[7]);
    if (reverse < 0 || ((fixed == -1 || limit == -1) && PyErr_Occurred())) return NULL;
    if (fixed < 0 || limit < 0 || limit > 64) return not_implemented();
    return index_core(r, PyBytes_AS_STRING(start), (size_t)PyBytes_GET_SIZE(start),
                      PyBytes_AS_STRING(end), (size_t)PyBytes_GET_SIZE(end), reverse, rp,
                      (size_t)fixed, schema, (size_t)limit, 0);
}

PyObject *ltsp_index_point(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 9) {
        PyErr_SetString(PyExc_TypeError, "index_point(reader, prefix, params, nparams, "
                        "cols, plain, rows_prefix, ids, limit) takes 9 arguments");
        return NULL;
    }
    Reader *r = reader_arg(args[0]);
    if (!r) return NULL;
    PyObject *rp = args[6], *schema = args[7];
    if (!PyBytes_CheckExact(rp) || !PyTuple_CheckExact(schema)) return not_implemented();
    Py_ssize_t limit = PyLong_AsSsize_t(args[8]);
    if (limit == -1 && PyErr_Occurred()) return NULL;
    if (limit < 0 || limit > 64) return not_implemented();
    Buf key;
    buf_init(&key);
    PyObject *out = NULL;
    int rc = point_key(args[1], args[2], args[3], args[4], args[5], &key);
    if (rc <= 0) {
        out = rc < 0 ? NULL : not_implemented();
        goto done;
    }
    /* the entries are start + the pk: [start, successor of start) */
    size_t sl = key.len, el = sl;
    if (buf_reserve(&key, sl) < 0) goto done;   /* (then copy: key.p may have moved) */
    memcpy(key.p + sl, key.p, sl);
    key.len += sl;
    unsigned char *end = key.p + sl;
    while (el > 0 && end[el - 1] == 0xFF) el--;
    if (el == 0) { out = not_implemented(); goto done; }
    end[el - 1]++;
    out = index_core(r, (const char *)key.p, sl, (const char *)end, el, 0, rp, sl, schema,
                     (size_t)limit, 1);
done:
    buf_free(&key);
    return out;
}
