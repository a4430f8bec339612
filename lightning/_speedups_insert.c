/* _speedups_insert.c: insert_row, the KV writes of one SQL row in one call (the
 * reference is dml.TableWriter.prepare_row + insert_items). */
#include "_speedups.h"

/* ---- inserts: the KV writes of one row ------------------------------------------- */

/* Encode the key elements of row[pos[i]] (DESC ones inverted) onto b. 1 done, 0
 * declined (a value only Python encodes), -1 error. */
static int key_of(Buf *b, PyObject *row, PyObject *pos, PyObject *desc) {
    Py_ssize_t n = PyTuple_GET_SIZE(pos);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyLong_CheckExact(PyTuple_GET_ITEM(pos, i))) return 0;  /* no Python code */
        Py_ssize_t at = PyLong_AsSsize_t(PyTuple_GET_ITEM(pos, i));
        if (at < 0 || at >= PyList_GET_SIZE(row)) return PyErr_Occurred() ? -1 : 0;
        size_t start = b->len;
        PyObject *e = ltsp_key_element(b, PyList_GET_ITEM(row, at));
        if (!e) return -1;
        if (e == DECLINE) return 0;
        if (desc != Py_None && PyTuple_GET_ITEM(desc, i) == Py_True)
            for (size_t j = start; j < b->len; j++) b->p[j] = (unsigned char)~b->p[j];
    }
    return 1;
}

/* Is v storable as is in a column of this kind (dml.TableWriter.prepare_row's fast
 * checks: 1 INTEGER within [lo, hi], 2 REAL, 3 TEXT of at most maxlen characters,
 * 4 BLOB of at most maxlen bytes; maxlen < 0: no limit)? */
int ltsp_storable(PyObject *v, long kind, long long lo, long long hi, long maxlen) {
    if (kind == 1) {
        if (!PyLong_CheckExact(v)) return 0;
        int ovf;
        long long x = PyLong_AsLongLongAndOverflow(v, &ovf);
        if (x == -1 && PyErr_Occurred()) { PyErr_Clear(); return 0; }
        return !ovf && x >= lo && x <= hi;
    }
    if (kind == 2) return PyFloat_CheckExact(v);
    if (kind == 3) return PyUnicode_CheckExact(v) && (maxlen < 0 || PyUnicode_GET_LENGTH(v) <= maxlen);
    if (kind == 4) return PyBytes_CheckExact(v) && (maxlen < 0 || PyBytes_GET_SIZE(v) <= maxlen);
    return 0;
}

/* Append n bytes to a bytearray; -1 with an error set on failure. */
static int ba_put(PyObject *ba, const void *p, size_t n) {
    Py_ssize_t old = PyByteArray_GET_SIZE(ba);
    if (PyByteArray_Resize(ba, old + (Py_ssize_t)n) < 0) return -1;
    memcpy(PyByteArray_AS_STRING(ba) + old, p, n);
    return 0;
}

static int ba_u32(PyObject *ba, uint32_t v) { return ba_put(ba, &v, 4); }   /* native */

#define MAX_ENTRIES 64                  /* the row and up to 63 index entries */

/* insert_row(spec, row, pending, row_no) -> bool: dml.TableWriter.prepare_row's
 * checks and insert_items() in one call, for a row (a list) whose every value is
 * storable as it is. Appends the row's entry and then its index entries, exactly as
 * insert_items does, to `pending` = (keys, klens, vals, vlens, absent, item_row,
 * item_ix), all bytearrays: keys/vals the concatenated bytes, klens/vlens/item_row
 * one native-endian uint32 per entry, absent one 0/1 byte per entry, item_ix one
 * uint32 per entry (0: the row, k: the k-th index). row_no is stored in item_row. Returns
 * True; or False, appending nothing, when any value needs Python (a coercion, a NOT
 * NULL violation, a type or length only Python checks). spec (dml.TableWriter):
 * (kinds, los, his, maxlens, not_null, col_ids, row_prefix, pk_pos, pk_desc,
 *  ((index, prefix, pos, desc, unique), ...)) with desc None or a tuple of bools. */
PyObject *ltsp_insert_row(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 4 || !PyTuple_CheckExact(args[0]) || PyTuple_GET_SIZE(args[0]) != 10 ||
        !PyList_CheckExact(args[1]) || !PyTuple_CheckExact(args[2]) ||
        PyTuple_GET_SIZE(args[2]) != 7 || !PyLong_CheckExact(args[3])) {
        PyErr_SetString(PyExc_TypeError, "insert_row(spec, row: list, pending: 7-tuple, "
                        "row_no: int)");
        return NULL;
    }
    PyObject *spec = args[0], *row = args[1], *pend = args[2];
    for (int i = 0; i < 7; i++)
        if (!PyByteArray_CheckExact(PyTuple_GET_ITEM(pend, i))) {
            PyErr_SetString(PyExc_TypeError, "insert_row: pending holds bytearrays");
            return NULL;
        }
    unsigned long rn = PyLong_AsUnsignedLong(args[3]);
    if (PyErr_Occurred()) return NULL;
    if (rn > UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "insert_row: row_no over 2**32 - 1");
        return NULL;
    }
    uint32_t row_no = (uint32_t)rn;
    PyObject *kinds = PyTuple_GET_ITEM(spec, 0), *los = PyTuple_GET_ITEM(spec, 1),
             *his = PyTuple_GET_ITEM(spec, 2), *maxlens = PyTuple_GET_ITEM(spec, 3),
             *notnull = PyTuple_GET_ITEM(spec, 4), *ids = PyTuple_GET_ITEM(spec, 5),
             *prefix = PyTuple_GET_ITEM(spec, 6), *pk_pos = PyTuple_GET_ITEM(spec, 7),
             *pk_desc = PyTuple_GET_ITEM(spec, 8), *indexes = PyTuple_GET_ITEM(spec, 9);
    Py_ssize_t n = PyList_GET_SIZE(row);
    /* the spec's shape (built by dml.py; checked so that no input can crash us) */
    int ok = PyTuple_CheckExact(kinds) && PyTuple_CheckExact(los) && PyTuple_CheckExact(his) &&
             PyTuple_CheckExact(maxlens) && PyTuple_CheckExact(notnull) &&
             PyTuple_CheckExact(ids) && PyBytes_CheckExact(prefix) &&
             PyTuple_CheckExact(pk_pos) && PyTuple_CheckExact(indexes) &&
             (pk_desc == Py_None || (PyTuple_CheckExact(pk_desc) &&
                                     PyTuple_GET_SIZE(pk_desc) == PyTuple_GET_SIZE(pk_pos))) &&
             PyTuple_GET_SIZE(kinds) == n && PyTuple_GET_SIZE(los) == n &&
             PyTuple_GET_SIZE(his) == n && PyTuple_GET_SIZE(maxlens) == n &&
             PyTuple_GET_SIZE(notnull) == n && PyTuple_GET_SIZE(ids) == n;
    Py_ssize_t nix = ok ? PyTuple_GET_SIZE(indexes) : 0;
    for (Py_ssize_t x = 0; ok && x < nix; x++) {
        PyObject *ix = PyTuple_GET_ITEM(indexes, x);
        ok = PyTuple_CheckExact(ix) && PyTuple_GET_SIZE(ix) == 5 &&
             PyBytes_CheckExact(PyTuple_GET_ITEM(ix, 1)) &&
             PyTuple_CheckExact(PyTuple_GET_ITEM(ix, 2)) &&
             (PyTuple_GET_ITEM(ix, 3) == Py_None ||
              (PyTuple_CheckExact(PyTuple_GET_ITEM(ix, 3)) &&
               PyTuple_GET_SIZE(PyTuple_GET_ITEM(ix, 3)) ==
                   PyTuple_GET_SIZE(PyTuple_GET_ITEM(ix, 2))));
    }
    if (!ok) {
        PyErr_SetString(PyExc_TypeError, "insert_row: malformed spec");
        return NULL;
    }
    if (nix + 1 > MAX_ENTRIES) Py_RETURN_FALSE;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyList_GET_ITEM(row, i);
        if (v == Py_None) {
            if (PyTuple_GET_ITEM(notnull, i) == Py_True) Py_RETURN_FALSE;
            continue;
        }
        /* exact ints only: converting anything else could run Python code (__index__)
         * that changes `row` under us */
        if (!PyLong_CheckExact(PyTuple_GET_ITEM(kinds, i)) ||
            !PyLong_CheckExact(PyTuple_GET_ITEM(los, i)) ||
            !PyLong_CheckExact(PyTuple_GET_ITEM(his, i)) ||
            !PyLong_CheckExact(PyTuple_GET_ITEM(maxlens, i))) {
            PyErr_SetString(PyExc_TypeError, "insert_row: malformed spec");
            return NULL;
        }
        long kind = PyLong_AsLong(PyTuple_GET_ITEM(kinds, i));
        long long lo = PyLong_AsLongLong(PyTuple_GET_ITEM(los, i));
        long long hi = PyLong_AsLongLong(PyTuple_GET_ITEM(his, i));
        long maxlen = PyLong_AsLong(PyTuple_GET_ITEM(maxlens, i));
        if (PyErr_Occurred()) return NULL;
        if (!ltsp_storable(v, kind, lo, hi, maxlen)) Py_RETURN_FALSE;
    }
    /* every entry into local buffers first (nothing appended on a decline) */
    PyObject *value = NULL, *r = NULL;
    Buf pk, keys, vals;
    buf_init(&pk);
    buf_init(&keys);
    buf_init(&vals);
    uint32_t klen[MAX_ENTRIES], vlen[MAX_ENTRIES];
    unsigned char absent[MAX_ENTRIES];
    int rc = key_of(&pk, row, pk_pos, pk_desc);
    if (rc <= 0) goto declined_or_error;
    value = ltsp_encode_row_ids(NULL, (PyObject *[]){ids, row}, 2);
    if (!value) goto done;
    if (value == Py_NotImplemented) { rc = 0; goto declined_or_error; }
    if (buf_put(&keys, PyBytes_AS_STRING(prefix), (size_t)PyBytes_GET_SIZE(prefix)) < 0 ||
        buf_put(&keys, pk.p, pk.len) < 0 ||
        buf_put(&vals, PyBytes_AS_STRING(value), (size_t)PyBytes_GET_SIZE(value)) < 0)
        goto done;
    klen[0] = (uint32_t)keys.len;
    vlen[0] = (uint32_t)vals.len;
    absent[0] = 1;
    for (Py_ssize_t x = 0; x < nix; x++) {
        PyObject *ix = PyTuple_GET_ITEM(indexes, x);
        PyObject *ipfx = PyTuple_GET_ITEM(ix, 1), *ipos = PyTuple_GET_ITEM(ix, 2);
        int unique = PyTuple_GET_ITEM(ix, 4) == Py_True, has_null = 0;
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(ipos); j++) {
            if (!PyLong_CheckExact(PyTuple_GET_ITEM(ipos, j))) { rc = 0; goto declined_or_error; }
            Py_ssize_t at = PyLong_AsSsize_t(PyTuple_GET_ITEM(ipos, j));
            if (at < 0 || at >= n) { rc = PyErr_Occurred() ? -1 : 0; goto declined_or_error; }
            has_null |= PyList_GET_ITEM(row, at) == Py_None;
        }
        size_t k0 = keys.len, v0 = vals.len;
        if (buf_put(&keys, PyBytes_AS_STRING(ipfx), (size_t)PyBytes_GET_SIZE(ipfx)) < 0)
            goto done;
        rc = key_of(&keys, row, ipos, PyTuple_GET_ITEM(ix, 3));
        if (rc <= 0) goto declined_or_error;
        if ((!unique || has_null) && buf_put(&keys, pk.p, pk.len) < 0) goto done;
        if (unique && buf_put(&vals, pk.p, pk.len) < 0) goto done;
        klen[x + 1] = (uint32_t)(keys.len - k0);
        vlen[x + 1] = (uint32_t)(vals.len - v0);
        absent[x + 1] = (unsigned char)(unique && !has_null);
    }
    if (keys.len > UINT32_MAX || vals.len > UINT32_MAX) {   /* lengths are uint32 */
        rc = 0;
        goto declined_or_error;
    }
    PyObject *pkeys = PyTuple_GET_ITEM(pend, 0), *pklens = PyTuple_GET_ITEM(pend, 1),
             *pvals = PyTuple_GET_ITEM(pend, 2), *pvlens = PyTuple_GET_ITEM(pend, 3),
             *pabsent = PyTuple_GET_ITEM(pend, 4), *prow = PyTuple_GET_ITEM(pend, 5),
             *pix = PyTuple_GET_ITEM(pend, 6);
    Py_ssize_t before[7];               /* to undo a partial append (out of memory) */
    for (int i = 0; i < 7; i++) before[i] = PyByteArray_GET_SIZE(PyTuple_GET_ITEM(pend, i));
    int bad = ba_put(pkeys, keys.p, keys.len) < 0 || ba_put(pvals, vals.p, vals.len) < 0 ||
              ba_put(pabsent, absent, (size_t)nix + 1) < 0;
    for (Py_ssize_t x = 0; !bad && x <= nix; x++)
        bad = ba_u32(pklens, klen[x]) < 0 || ba_u32(pvlens, vlen[x]) < 0 ||
              ba_u32(prow, row_no) < 0 || ba_u32(pix, (uint32_t)x) < 0;
    if (bad) {
        for (int i = 0; i < 7; i++) {   /* shrinking cannot fail */
            PyObject *ba = PyTuple_GET_ITEM(pend, i);
            if (PyByteArray_GET_SIZE(ba) > before[i]) {
#if PY_VERSION_HEX >= 0x030C0000
                PyObject *exc = PyErr_GetRaisedException();
                if (PyByteArray_Resize(ba, before[i]) < 0) PyErr_Clear();
                PyErr_SetRaisedException(exc);
#else
                PyObject *et, *ev, *tb;
                PyErr_Fetch(&et, &ev, &tb);
                if (PyByteArray_Resize(ba, before[i]) < 0) PyErr_Clear();
                PyErr_Restore(et, ev, tb);
#endif
            }
        }
        goto done;
    }
    r = Py_NewRef(Py_True);
    goto done;
declined_or_error:
    if (rc == 0) r = Py_NewRef(Py_False);
done:
    Py_XDECREF(value);
    buf_free(&pk);
    buf_free(&keys);
    buf_free(&vals);
    return r;
}


/* plain_params(params, n, plain) -> params | NotImplemented: dbapi.params.bind()'s
 * common case in one call (executemany's rows): a tuple of n values whose types are
 * all in the frozenset `plain` is used as it is; anything else is bind()'s to check. */
PyObject *ltsp_plain_params(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "plain_params(params, n, plain) takes 3 arguments");
        return NULL;
    }
    PyObject *params = args[0];
    Py_ssize_t n = PyLong_AsSsize_t(args[1]);
    if (n == -1 && PyErr_Occurred()) return NULL;
    if (!PyTuple_CheckExact(params) || PyTuple_GET_SIZE(params) != n ||
        !PyFrozenSet_CheckExact(args[2]))
        return Py_NewRef(Py_NotImplemented);
    int pl = ltsp_all_plain(params, args[2]);
    if (pl < 0) return NULL;
    return Py_NewRef(pl ? params : Py_NotImplemented);
}
