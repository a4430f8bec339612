/* _speedups_rows.c: the row value format in C (rowcodec.py is the reference):
 * decode_row, encode_row, encode_row_ids. */
#include "_speedups.h"
#include <datetime.h>

/* ---- rows: decoding ---------------------------------------------------------------- */

enum { K_INT = 1, K_FLOAT, K_FALSE, K_TRUE, K_TEXT, K_BYTES, K_DECIMAL, K_DATE, K_TIME,
       K_DATETIME };

#define MAX_ORDINAL 3652059           /* date.max.toordinal() */
#define US_PER_DAY 86400000000ULL

static PyObject *bad_row(Py_ssize_t off, const char *what) {
    PyErr_Format(ltsp_CorruptionError, "malformed row value at offset %zd: %s", off, what);
    return NULL;
}

/* An unsigned LEB128 varint at *off. Returns 0, -1 (ltsp_CorruptionError set) or 1 (more
 * than 64 bits: the caller declines). */
static int read_varint(const unsigned char *p, Py_ssize_t end, Py_ssize_t *off,
                       uint64_t *out) {
    uint64_t n = 0;
    unsigned shift = 0;
    Py_ssize_t o = *off;
    for (;;) {
        if (o >= end) { bad_row(o, "truncated varint"); return -1; }
        unsigned b = p[o++];
        if (shift == 63 && b > 1) return 1;
        n |= (uint64_t)(b & 0x7F) << shift;
        if (b < 0x80) break;
        shift += 7;
    }
    *off = o;
    *out = n;
    return 0;
}

static int is_leap(int y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

/* Proleptic Gregorian ordinal (1 = 0001-01-01) to y/m/d, as CPython's datetime. */
static void ord_to_ymd(int ordinal, int *year, int *month, int *day) {
    static const int before[] = {0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    static const int dim[] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int n = ordinal - 1;
    int n400 = n / 146097; n %= 146097;
    int n100 = n / 36524;  n %= 36524;
    int n4 = n / 1461;     n %= 1461;
    int n1 = n / 365;      n %= 365;
    *year = n400 * 400 + 1 + n100 * 100 + n4 * 4 + n1;
    if (n1 == 4 || n100 == 4) { *year -= 1; *month = 12; *day = 31; return; }
    int leap = n1 == 3 && (n4 != 24 || n100 == 3);
    int m = (n + 50) >> 5;
    int preceding = before[m] + (m > 2 && leap);
    if (preceding > n) {
        m -= 1;
        preceding -= dim[m] + (m == 2 && is_leap(*year));
    }
    *month = m;
    *day = n - preceding + 1;
}

/* date / time / datetime from an ordinal / microseconds; NULL (no error set) when out
 * of range. */
PyObject *ltsp_make_date(uint64_t ordinal) {
    int y, m, d;
    if (ordinal < 1 || ordinal > MAX_ORDINAL) return NULL;
    ord_to_ymd((int)ordinal, &y, &m, &d);
    return PyDate_FromDate(y, m, d);
}

PyObject *ltsp_make_time(uint64_t us) {
    uint64_t s = us / 1000000;
    if (us >= US_PER_DAY) return NULL;
    return PyTime_FromTime((int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60),
                           (int)(us % 1000000));
}

PyObject *ltsp_make_datetime(uint64_t us) {
    uint64_t days = us / US_PER_DAY, s = us % US_PER_DAY / 1000000;
    int y, m, d;
    if (days >= MAX_ORDINAL) return NULL;
    ord_to_ymd((int)days + 1, &y, &m, &d);
    return PyDateTime_FromDateAndTime(y, m, d, (int)(s / 3600), (int)(s / 60 % 60),
                                      (int)(s % 60), (int)(us % 1000000));
}

/* The value of `kind` whose payload starts at *off; advances *off. NULL + error, or
 * DECLINE (no error) for an over-long varint. */
static PyObject *decode_value(const unsigned char *p, Py_ssize_t end, Py_ssize_t *off,
                              unsigned kind) {
    uint64_t n;
    Py_ssize_t start = *off;
    int rc;
    switch (kind) {
    case K_FALSE: Py_RETURN_FALSE;
    case K_TRUE: Py_RETURN_TRUE;
    case K_FLOAT: {
        if (end - start < 8) return bad_row(start, "truncated float");
        double d = PyFloat_Unpack8((const char *)p + start, 1);
        if (d == -1.0 && PyErr_Occurred()) return NULL;
        *off = start + 8;
        return PyFloat_FromDouble(d);
    }
    case K_INT: case K_TEXT: case K_BYTES: case K_DECIMAL: case K_DATE: case K_TIME:
    case K_DATETIME:
        break;
    default: {
        char what[40];
        snprintf(what, sizeof what, "unknown value kind %u", kind);
        return bad_row(start, what);
    }
    }
    if ((rc = read_varint(p, end, off, &n)) != 0) return rc > 0 ? DECLINE : NULL;
    if (kind == K_INT) {
        int64_t v = (n & 1) ? -(int64_t)(n >> 1) - 1 : (int64_t)(n >> 1);
        return PyLong_FromLongLong(v);
    }
    if (kind == K_TEXT || kind == K_BYTES || kind == K_DECIMAL) {
        Py_ssize_t o = *off;
        if (n > (uint64_t)(end - o)) return bad_row(o, "truncated string");
        const char *s = (const char *)p + o;
        *off = o + (Py_ssize_t)n;
        if (kind == K_BYTES) return PyBytes_FromStringAndSize(s, (Py_ssize_t)n);
        if (kind == K_TEXT) {
            PyObject *r = PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, NULL);
            if (!r && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
                PyErr_Clear();
                return bad_row(o, "invalid UTF-8 in text");
            }
            return r;
        }
        PyObject *str = PyUnicode_DecodeASCII(s, (Py_ssize_t)n, NULL), *r = NULL;
        if (str) {
            r = PyObject_CallOneArg(ltsp_DecimalType, str);
            Py_DECREF(str);
        }
        if (!r && (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError) ||
                   PyErr_ExceptionMatches(PyExc_ArithmeticError))) {
            PyErr_Clear();
            return bad_row(o, "bad decimal");
        }
        return r;
    }
    PyObject *r = kind == K_DATE ? ltsp_make_date(n) : kind == K_TIME ? ltsp_make_time(n)
                                                                 : ltsp_make_datetime(n);
    if (!r && !PyErr_Occurred())
        return bad_row(start, kind == K_DATE ? "date out of range" : kind == K_TIME
                       ? "time out of range" : "datetime out of range");
    return r;
}

PyObject *ltsp_py_decode(PyObject *data, PyObject *schema) {
    return PyObject_CallFunctionObjArgs(ltsp_PyDecodeRow, data, schema, NULL);
}

/* Fill ids[] (-1 = never matches) from the sequence items. Returns 0, -1 (error) or
 * 1 (decline: an .id that is not an int). A duplicated id keeps its last position. */
static int schema_ids(PyObject **items, Py_ssize_t m, int64_t *ids) {
    int ascending = 1;
    for (Py_ssize_t i = 0; i < m; i++) {
        PyObject *c = items[i], *o = NULL;
        if (!PyLong_Check(c)) {
            o = PyObject_GetAttr(c, ltsp_IdStr);
            if (!o) return -1;
            if (!PyLong_Check(o)) { Py_DECREF(o); return 1; }
            c = o;
        }
        int ovf;
        long long v = PyLong_AsLongLongAndOverflow(c, &ovf);
        Py_XDECREF(o);
        if (v == -1 && PyErr_Occurred()) return -1;
        ids[i] = (ovf || v < 0) ? -1 : (int64_t)v;
        if (i && ids[i] <= ids[i - 1]) ascending = 0;
    }
    if (!ascending)
        for (Py_ssize_t i = 0; i < m; i++)
            for (Py_ssize_t j = i + 1; j < m && ids[i] >= 0; j++)
                if (ids[j] == ids[i]) ids[i] = -1;
    return 0;
}

/* The row p[0:end) decoded for the m column ids `ids` (schema_ids): a new list, NULL
 * with an error, or DECLINE (an input only the Python reference handles). */
PyObject *ltsp_decode_buf(const unsigned char *p, Py_ssize_t end, const int64_t *ids,
                          Py_ssize_t m, int tuple) {
    Py_ssize_t off = 1, hint = 0;
    if (end == 0 || p[0] != 1) {
        if (end == 0) bad_row(0, "unknown row format None");
        else PyErr_Format(ltsp_CorruptionError, "malformed row value at offset 0: "
                          "unknown row format %d", (int)p[0]);
        return NULL;
    }
    /* a new tuple is filled like a list: nobody else sees it before it is returned */
    PyObject *out = tuple ? PyTuple_New(m) : PyList_New(m);
    if (!out) return NULL;
    PyObject **items = tuple ? &PyTuple_GET_ITEM(out, 0) : PySequence_Fast_ITEMS(out);
    for (Py_ssize_t i = 0; i < m; i++) items[i] = Py_NewRef(Py_None);
    while (off < end) {
        uint64_t head;
        int rc = read_varint(p, end, &off, &head);
        if (rc != 0) {
            Py_DECREF(out);
            return rc > 0 ? DECLINE : NULL;
        }
        PyObject *v = decode_value(p, end, &off, (unsigned)(head & 0xF));
        if (v == DECLINE || !v) {
            Py_DECREF(out);
            return v;
        }
        int64_t cid = (int64_t)(head >> 4);
        Py_ssize_t found = -1;
        for (Py_ssize_t k = 0; k < m; k++) {   /* from the last hit: rows are sorted */
            Py_ssize_t i = hint + k < m ? hint + k : hint + k - m;
            if (ids[i] == cid) { found = i; break; }
        }
        if (found >= 0) {
            Py_SETREF(items[found], v);         /* steals v, drops the old value */
            hint = found + 1 < m ? found + 1 : 0;
        } else {
            Py_DECREF(v);
        }
    }
    return out;
}

int ltsp_ids_of(PyObject *schema, int64_t *small, Py_ssize_t nsmall, int64_t **ids,
                Py_ssize_t *m) {
    *ids = small;
    *m = PyTuple_GET_SIZE(schema);
    if (*m > nsmall && !(*ids = PyMem_Malloc(sizeof(int64_t) * (size_t)*m))) {
        PyErr_NoMemory();
        return -1;
    }
    int rc = schema_ids(PySequence_Fast_ITEMS(schema), *m, *ids);
    if (rc != 0 && *ids != small) PyMem_Free(*ids);
    return rc;
}

PyObject *ltsp_decode_row(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "decode_row(data, schema) takes 2 arguments");
        return NULL;
    }
    if (!ltsp_CorruptionError) {
        PyErr_SetString(PyExc_RuntimeError, "lightning._speedups: _init() not called");
        return NULL;
    }
    PyObject *data = args[0];
    /* a tuple (a list is copied: reading .id may run Python code that changes it) */
    PyObject *seq = PySequence_Tuple(args[1]);
    if (!seq) return NULL;
    int64_t small[LTSP_SMALL_COLS], *ids;
    Py_ssize_t m;
    PyObject *r = NULL;
    int rc = ltsp_ids_of(seq, small, LTSP_SMALL_COLS, &ids, &m);
    if (rc < 0) goto done;
    if (rc == 0) {
        r = !PyBytes_CheckExact(data) ? DECLINE :
            ltsp_decode_buf((const unsigned char *)PyBytes_AS_STRING(data),
                            PyBytes_GET_SIZE(data), ids, m, 0);
        if (ids != small) PyMem_Free(ids);
        if (r != DECLINE) goto done;
    }
    r = ltsp_py_decode(data, seq);
done:
    Py_DECREF(seq);
    return r;
}

/* ---- rows: encoding ----------------------------------------------------------------- */

typedef struct { int64_t id; PyObject *key, *value; } Item;

/* Append one column (head + payload); DECLINE (no error) for a value Python must do. */
static PyObject *encode_column(Buf *b, uint64_t cid, PyObject *v) {
    uint64_t head = cid << 4;
    int rc;
    if (PyLong_CheckExact(v)) {
        int ovf;
        long long x = PyLong_AsLongLongAndOverflow(v, &ovf);
        if (ovf) return DECLINE;
        if (x == -1 && PyErr_Occurred()) return NULL;
        uint64_t z = x >= 0 ? (uint64_t)x << 1 : (((uint64_t)(-(x + 1))) << 1) + 1;
        rc = buf_varint(b, head | K_INT) < 0 || buf_varint(b, z) < 0 ? -1 : 0;
    } else if (PyUnicode_CheckExact(v)) {
        PyObject *tmp;
        Py_ssize_t n;
        const char *s = utf8_of(v, &n, &tmp);
        if (!s) return PyErr_Occurred() ? NULL : DECLINE;
        rc = buf_varint(b, head | K_TEXT) < 0 || buf_varint(b, (uint64_t)n) < 0 ||
             buf_put(b, s, (size_t)n) < 0 ? -1 : 0;
        Py_XDECREF(tmp);
    } else if (PyFloat_CheckExact(v)) {
        unsigned char f[8];
        if (PyFloat_Pack8(PyFloat_AS_DOUBLE(v), (char *)f, 1) < 0) return NULL;
        rc = buf_varint(b, head | K_FLOAT) < 0 || buf_put(b, f, 8) < 0 ? -1 : 0;
    } else if (v == Py_True || v == Py_False) {
        rc = buf_varint(b, head | (v == Py_True ? K_TRUE : K_FALSE));
    } else if (PyBytes_CheckExact(v) || PyByteArray_CheckExact(v)) {
        int isb = PyBytes_CheckExact(v);
        Py_ssize_t n = isb ? PyBytes_GET_SIZE(v) : PyByteArray_GET_SIZE(v);
        rc = buf_varint(b, head | K_BYTES) < 0 || buf_varint(b, (uint64_t)n) < 0 ||
             buf_put(b, isb ? PyBytes_AS_STRING(v) : PyByteArray_AS_STRING(v),
                     (size_t)n) < 0 ? -1 : 0;
    } else {
        return DECLINE;
    }
    return rc < 0 ? NULL : Py_None;
}

/* Python's check: isinstance(v, pt) and not (type(v) is bool and pt is not bool).
 * 1 ok, 0 mismatch (decline: Python raises), -1 error. */
static int type_ok(PyObject *types, PyObject *key, PyObject *v) {
    PyObject *t = PyObject_GetItem(types, key);
    if (!t) return -1;
    PyObject *pt = PyObject_GetAttr(t, ltsp_PyTypeStr);
    Py_DECREF(t);
    if (!pt) return -1;
    int ok = PyObject_IsInstance(v, pt);
    if (ok > 0 && PyBool_Check(v) && pt != (PyObject *)&PyBool_Type) ok = 0;
    Py_DECREF(pt);
    return ok;
}

PyObject *ltsp_encode_row(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "encode_row(values, types) takes 2 arguments");
        return NULL;
    }
    PyObject *values = args[0], *types = args[1];
    if (!PyDict_CheckExact(values)) Py_RETURN_NOTIMPLEMENTED;
    Py_ssize_t n = PyDict_GET_SIZE(values), pos = 0, cnt = 0;
    Item small[LTSP_SMALL_COLS], *items = small;
    PyObject *k, *v, *r = NULL;
    if (n > LTSP_SMALL_COLS && !(items = PyMem_Malloc(sizeof(Item) * (size_t)n)))
        return PyErr_NoMemory();
    Buf b;
    buf_init(&b);
    while (cnt < n && PyDict_Next(values, &pos, &k, &v)) {
        int ovf;
        long long id = PyLong_CheckExact(k) ? PyLong_AsLongLongAndOverflow(k, &ovf) : -1;
        if (!PyLong_CheckExact(k) || ovf || id < 0 || (id >> 59) != 0) {
            r = Py_NewRef(Py_NotImplemented);  /* Python sorts / raises / goes big */
            goto done;
        }
        Py_ssize_t j = cnt++;                   /* insertion sort by id */
        while (j > 0 && items[j - 1].id > id) { items[j] = items[j - 1]; j--; }
        items[j].id = id;
        items[j].key = Py_NewRef(k);
        items[j].value = Py_NewRef(v);
    }
    if (cnt != n) { r = Py_NewRef(Py_NotImplemented); goto done; }
    if (buf_byte(&b, 1) < 0) goto done;
    for (Py_ssize_t i = 0; i < cnt; i++) {
        PyObject *val = items[i].value;
        if (val == Py_None) continue;
        if (types != Py_None) {
            int ok = type_ok(types, items[i].key, val);
            if (ok < 0) goto done;
            if (!ok) { r = Py_NewRef(Py_NotImplemented); goto done; }
        }
        PyObject *e = encode_column(&b, (uint64_t)items[i].id, val);
        if (!e) goto done;
        if (e == DECLINE) { r = Py_NewRef(Py_NotImplemented); goto done; }
    }
    r = PyBytes_FromStringAndSize((const char *)b.p, (Py_ssize_t)b.len);
done:
    for (Py_ssize_t i = 0; i < cnt; i++) {
        Py_DECREF(items[i].key);
        Py_DECREF(items[i].value);
    }
    if (items != small) PyMem_Free(items);
    buf_free(&b);
    return r;
}

/* encode_row_ids(ids: tuple of ints, values: list | tuple) -> bytes | NotImplemented:
 * encode_row(dict(zip(ids, values))) without building the dict. */
PyObject *ltsp_encode_row_ids(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "encode_row_ids(ids, values) takes 2 arguments");
        return NULL;
    }
    PyObject *ids = args[0], *values = args[1];
    if (!PyTuple_CheckExact(ids) || !(PyList_CheckExact(values) || PyTuple_CheckExact(values)))
        Py_RETURN_NOTIMPLEMENTED;
    Py_ssize_t n = PyTuple_GET_SIZE(ids);
    if (PySequence_Fast_GET_SIZE(values) != n) Py_RETURN_NOTIMPLEMENTED;
    PyObject **vals = PySequence_Fast_ITEMS(values);
    Item small[LTSP_SMALL_COLS], *items = small;
    PyObject *r = NULL;
    if (n > LTSP_SMALL_COLS && !(items = PyMem_Malloc(sizeof(Item) * (size_t)n)))
        return PyErr_NoMemory();
    Buf b;
    buf_init(&b);
    for (Py_ssize_t i = 0; i < n; i++) {      /* borrowed refs: `values` holds them */
        PyObject *k = PyTuple_GET_ITEM(ids, i);
        int ovf;
        long long id = PyLong_CheckExact(k) ? PyLong_AsLongLongAndOverflow(k, &ovf) : -1;
        if (!PyLong_CheckExact(k) || ovf || id < 0 || (id >> 59) != 0) {
            r = Py_NewRef(Py_NotImplemented);
            goto done;
        }
        Py_ssize_t j = i;                       /* insertion sort by id */
        while (j > 0 && items[j - 1].id > id) { items[j] = items[j - 1]; j--; }
        if (j > 0 && items[j - 1].id == id) { r = Py_NewRef(Py_NotImplemented); goto done; }
        items[j].id = id;
        items[j].key = NULL;
        items[j].value = vals[i];
    }
    if (buf_byte(&b, 1) < 0) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *val = items[i].value;
        if (val == Py_None) continue;
        PyObject *e = encode_column(&b, (uint64_t)items[i].id, val);
        if (!e) goto done;
        if (e == DECLINE) { r = Py_NewRef(Py_NotImplemented); goto done; }
    }
    r = PyBytes_FromStringAndSize((const char *)b.p, (Py_ssize_t)b.len);
done:
    if (items != small) PyMem_Free(items);
    buf_free(&b);
    return r;
}


int ltsp_rows_init(void) {
    PyDateTime_IMPORT;                  /* datetime.h's API pointer is per file */
    return PyDateTimeAPI ? 0 : -1;
}
