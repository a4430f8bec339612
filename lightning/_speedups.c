/* lightning._speedups: C versions of the SQL layer's hot codec functions.
 *
 * A plain CPython extension (no cffi, no engine calls). The format references are
 * the pure-Python modules lightning/sql/rowcodec.py (row values) and
 * lightning/sql/keycodec.py (order-preserving keys); every function here produces
 * exactly their bytes / values / errors. What this file does not handle it declines:
 *
 *   decode_row(data, schema) -> list        (rowcodec.decode_row; calls the Python
 *                                            reference itself for the rare inputs it
 *                                            declines: varints over 64 bits, a
 *                                            non-bytes `data`, a non-int column id)
 *   encode_row(values, types) -> bytes | NotImplemented   (rowcodec.encode_row)
 *   encode_row_ids(ids, values) -> bytes | NotImplemented (rowcodec.encode_row_ids)
 *   encode_key(values, desc)  -> bytes | NotImplemented   (keycodec.encode_key;
 *                                            desc: None or a sequence of bools)
 *   insert_row(spec, row, pending, row_no) -> bool  (dml.TableWriter's
 *                                            prepare_row checks + insert_items)
 *   decode_key(data, count, desc, offset) -> (values, offset) | NotImplemented
 *                                           (keycodec.decode_key; declines decimals
 *                                            and every malformed key)
 *
 * NotImplemented means "use the Python reference" (a value type or range handled only
 * there, or an error whose message Python produces). _init(...) hands over the
 * Python-side objects this module needs (see rowcodec.py).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <stdint.h>
#include <string.h>

static PyObject *CorruptionError, *DecimalType, *PyDecodeRow, *IdStr, *PyTypeStr;

#define DECLINE ((PyObject *)1)   /* internal marker: "hand the input to Python" */

/* ---- growable output buffer ---------------------------------------------------- */

typedef struct {
    unsigned char *p;
    size_t len, cap;
    unsigned char stack[256];
} Buf;

static void buf_init(Buf *b) { b->p = b->stack; b->len = 0; b->cap = sizeof b->stack; }
static void buf_free(Buf *b) { if (b->p != b->stack) PyMem_Free(b->p); }

static int buf_reserve(Buf *b, size_t extra) {
    if (b->cap - b->len >= extra) return 0;
    if (extra > (size_t)PY_SSIZE_T_MAX - b->len) { PyErr_NoMemory(); return -1; }
    size_t cap = b->cap * 2;
    if (cap < b->len + extra) cap = b->len + extra;
    unsigned char *np;
    if (b->p == b->stack) {
        np = PyMem_Malloc(cap);
        if (np) memcpy(np, b->stack, b->len);
    } else {
        np = PyMem_Realloc(b->p, cap);
    }
    if (!np) { PyErr_NoMemory(); return -1; }
    b->p = np;
    b->cap = cap;
    return 0;
}

static int buf_put(Buf *b, const void *src, size_t n) {
    if (buf_reserve(b, n) < 0) return -1;
    memcpy(b->p + b->len, src, n);
    b->len += n;
    return 0;
}

static int buf_byte(Buf *b, unsigned char c) { return buf_put(b, &c, 1); }

static int buf_varint(Buf *b, uint64_t n) {
    unsigned char tmp[10];
    size_t k = 0;
    while (n > 0x7F) { tmp[k++] = (unsigned char)((n & 0x7F) | 0x80); n >>= 7; }
    tmp[k++] = (unsigned char)n;
    return buf_put(b, tmp, k);
}

/* UTF-8 of an exact str: borrowed pointer (ASCII) or a new bytes object in *tmp.
 * NULL with no error set when the text cannot be encoded (lone surrogate). */
static const char *utf8_of(PyObject *s, Py_ssize_t *n, PyObject **tmp) {
    *tmp = NULL;
    if (PyUnicode_IS_ASCII(s)) {
        *n = PyUnicode_GET_LENGTH(s);
        return (const char *)PyUnicode_DATA(s);
    }
    *tmp = PyUnicode_AsUTF8String(s);
    if (!*tmp) {
        if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) PyErr_Clear();
        return NULL;
    }
    *n = PyBytes_GET_SIZE(*tmp);
    return PyBytes_AS_STRING(*tmp);
}

/* ---- rows: decoding ---------------------------------------------------------------- */

enum { K_INT = 1, K_FLOAT, K_FALSE, K_TRUE, K_TEXT, K_BYTES, K_DECIMAL, K_DATE, K_TIME,
       K_DATETIME };

#define MAX_ORDINAL 3652059           /* date.max.toordinal() */
#define US_PER_DAY 86400000000ULL

static PyObject *bad_row(Py_ssize_t off, const char *what) {
    PyErr_Format(CorruptionError, "malformed row value at offset %zd: %s", off, what);
    return NULL;
}

/* An unsigned LEB128 varint at *off. Returns 0, -1 (CorruptionError set) or 1 (more
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
static PyObject *make_date(uint64_t ordinal) {
    int y, m, d;
    if (ordinal < 1 || ordinal > MAX_ORDINAL) return NULL;
    ord_to_ymd((int)ordinal, &y, &m, &d);
    return PyDate_FromDate(y, m, d);
}

static PyObject *make_time(uint64_t us) {
    uint64_t s = us / 1000000;
    if (us >= US_PER_DAY) return NULL;
    return PyTime_FromTime((int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60),
                           (int)(us % 1000000));
}

static PyObject *make_datetime(uint64_t us) {
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
            r = PyObject_CallOneArg(DecimalType, str);
            Py_DECREF(str);
        }
        if (!r && (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError) ||
                   PyErr_ExceptionMatches(PyExc_ArithmeticError))) {
            PyErr_Clear();
            return bad_row(o, "bad decimal");
        }
        return r;
    }
    PyObject *r = kind == K_DATE ? make_date(n) : kind == K_TIME ? make_time(n)
                                                                 : make_datetime(n);
    if (!r && !PyErr_Occurred())
        return bad_row(start, kind == K_DATE ? "date out of range" : kind == K_TIME
                       ? "time out of range" : "datetime out of range");
    return r;
}

#define SMALL_COLS 64

static PyObject *call_py_decode(PyObject *data, PyObject *schema) {
    return PyObject_CallFunctionObjArgs(PyDecodeRow, data, schema, NULL);
}

/* Fill ids[] (-1 = never matches) from the sequence items. Returns 0, -1 (error) or
 * 1 (decline: an .id that is not an int). A duplicated id keeps its last position. */
static int schema_ids(PyObject **items, Py_ssize_t m, int64_t *ids) {
    int ascending = 1;
    for (Py_ssize_t i = 0; i < m; i++) {
        PyObject *c = items[i], *o = NULL;
        if (!PyLong_Check(c)) {
            o = PyObject_GetAttr(c, IdStr);
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

static PyObject *decode_row(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "decode_row(data, schema) takes 2 arguments");
        return NULL;
    }
    if (!CorruptionError) {
        PyErr_SetString(PyExc_RuntimeError, "lightning._speedups: _init() not called");
        return NULL;
    }
    PyObject *data = args[0];
    PyObject *seq = PySequence_Fast(args[1], "decode_row: schema must be iterable");
    if (!seq) return NULL;
    Py_ssize_t m = PySequence_Fast_GET_SIZE(seq);
    int64_t small[SMALL_COLS], *ids = small;
    PyObject *out = NULL, *r = NULL;
    if (m > SMALL_COLS && !(ids = PyMem_Malloc(sizeof(int64_t) * (size_t)m))) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    int rc = schema_ids(PySequence_Fast_ITEMS(seq), m, ids);
    if (rc < 0) goto done;
    if (rc > 0 || !PyBytes_CheckExact(data)) goto decline;
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(data);
    Py_ssize_t end = PyBytes_GET_SIZE(data), off = 1, hint = 0;
    if (end == 0 || p[0] != 1) {
        if (end == 0) bad_row(0, "unknown row format None");
        else PyErr_Format(CorruptionError, "malformed row value at offset 0: "
                          "unknown row format %d", (int)p[0]);
        goto done;
    }
    if (!(out = PyList_New(m))) goto done;
    for (Py_ssize_t i = 0; i < m; i++) PyList_SET_ITEM(out, i, Py_NewRef(Py_None));
    while (off < end) {
        uint64_t head;
        if ((rc = read_varint(p, end, &off, &head)) != 0) {
            if (rc > 0) goto decline;
            goto fail;
        }
        PyObject *v = decode_value(p, end, &off, (unsigned)(head & 0xF));
        if (v == DECLINE) goto decline;
        if (!v) goto fail;
        int64_t cid = (int64_t)(head >> 4);
        Py_ssize_t found = -1;
        for (Py_ssize_t k = 0; k < m; k++) {   /* from the last hit: rows are sorted */
            Py_ssize_t i = hint + k < m ? hint + k : hint + k - m;
            if (ids[i] == cid) { found = i; break; }
        }
        if (found >= 0) {
            PyList_SetItem(out, found, v);      /* steals v, drops the old value */
            hint = found + 1 < m ? found + 1 : 0;
        } else {
            Py_DECREF(v);
        }
    }
    r = out;
    out = NULL;
    goto done;
decline:
    r = call_py_decode(data, seq);
    goto done;
fail:
    Py_CLEAR(out);
done:
    Py_XDECREF(out);
    if (ids != small) PyMem_Free(ids);
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
    PyObject *pt = PyObject_GetAttr(t, PyTypeStr);
    Py_DECREF(t);
    if (!pt) return -1;
    int ok = PyObject_IsInstance(v, pt);
    if (ok > 0 && PyBool_Check(v) && pt != (PyObject *)&PyBool_Type) ok = 0;
    Py_DECREF(pt);
    return ok;
}

static PyObject *encode_row(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "encode_row(values, types) takes 2 arguments");
        return NULL;
    }
    PyObject *values = args[0], *types = args[1];
    if (!PyDict_CheckExact(values)) Py_RETURN_NOTIMPLEMENTED;
    Py_ssize_t n = PyDict_GET_SIZE(values), pos = 0, cnt = 0;
    Item small[SMALL_COLS], *items = small;
    PyObject *k, *v, *r = NULL;
    if (n > SMALL_COLS && !(items = PyMem_Malloc(sizeof(Item) * (size_t)n)))
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
static PyObject *encode_row_ids(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
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
    Item small[SMALL_COLS], *items = small;
    PyObject *r = NULL;
    if (n > SMALL_COLS && !(items = PyMem_Malloc(sizeof(Item) * (size_t)n)))
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

/* ---- keys: encoding --------------------------------------------------------------- */

static int key_escaped(Buf *b, unsigned char tag, const char *s, Py_ssize_t n) {
    if (buf_reserve(b, (size_t)n * 2 + 3) < 0) return -1;
    unsigned char *o = b->p + b->len;
    *o++ = tag;
    const unsigned char *z;
    while (n > 0 && (z = memchr(s, 0, (size_t)n)) != NULL) {
        size_t k = (size_t)((const char *)z - s);
        memcpy(o, s, k);
        o += k;
        *o++ = 0x00; *o++ = 0xFF;
        s += k + 1;
        n -= (Py_ssize_t)k + 1;
    }
    memcpy(o, s, (size_t)n);
    o += n;
    *o++ = 0x00; *o++ = 0x01;
    b->len = (size_t)(o - b->p);
    return 0;
}

static int put_be(Buf *b, unsigned char tag, uint64_t x, int n) {
    unsigned char tmp[9];
    tmp[0] = tag;
    for (int i = 0; i < n; i++) tmp[n - i] = (unsigned char)(x >> (8 * i));
    return buf_put(b, tmp, (size_t)n + 1);
}

static int nbytes(uint64_t x) {      /* minimal big-endian width, 0 -> 1 */
    int n = 1;
    while (n < 8 && (x >> (8 * n)) != 0) n++;
    return n;
}

/* Append one element (ascending); Py_None on success, NULL + error, or DECLINE. */
static PyObject *key_element(Buf *b, PyObject *v) {
    int rc;
    if (v == Py_None) {
        rc = buf_byte(b, 0x05);
    } else if (PyLong_CheckExact(v)) {
        int ovf;
        long long x = PyLong_AsLongLongAndOverflow(v, &ovf);
        if (ovf) return DECLINE;          /* Python raises its DataError */
        if (x == -1 && PyErr_Occurred()) return NULL;
        if (x >= 0) {
            int n = nbytes((uint64_t)x);
            rc = put_be(b, (unsigned char)(0x27 + n), (uint64_t)x, n);
        } else {
            int n = nbytes(~(uint64_t)x);
            rc = put_be(b, (unsigned char)(0x28 - n), (uint64_t)x, n);
        }
    } else if (PyUnicode_CheckExact(v)) {
        PyObject *tmp;
        Py_ssize_t n;
        const char *s = utf8_of(v, &n, &tmp);
        if (!s) return PyErr_Occurred() ? NULL : DECLINE;
        rc = key_escaped(b, 0x40, s, n);
        Py_XDECREF(tmp);
    } else if (v == Py_True || v == Py_False) {
        rc = buf_byte(b, v == Py_True ? 0x11 : 0x10);
    } else if (PyFloat_CheckExact(v)) {
        double d = PyFloat_AS_DOUBLE(v);
        uint64_t bits;
        if (d != d) {
            bits = 0x7FF8000000000000ULL;
        } else {
            if (d == 0.0) d = 0.0;
            memcpy(&bits, &d, 8);
        }
        bits = (bits >> 63) ? ~bits : (bits | (1ULL << 63));
        rc = put_be(b, 0x30, bits, 8);
    } else if (PyBytes_CheckExact(v)) {
        rc = key_escaped(b, 0x50, PyBytes_AS_STRING(v), PyBytes_GET_SIZE(v));
    } else if (PyByteArray_CheckExact(v)) {
        rc = key_escaped(b, 0x50, PyByteArray_AS_STRING(v), PyByteArray_GET_SIZE(v));
    } else {
        return DECLINE;
    }
    return rc < 0 ? NULL : Py_None;
}

static PyObject *encode_key(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "encode_key(values, desc) takes 2 arguments");
        return NULL;
    }
    PyObject *values = args[0], *desc = args[1];
    if (!PyTuple_CheckExact(values) && !PyList_CheckExact(values))
        Py_RETURN_NOTIMPLEMENTED;
    if (desc != Py_None && !PyTuple_CheckExact(desc) && !PyList_CheckExact(desc))
        Py_RETURN_NOTIMPLEMENTED;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(values);
    if (desc != Py_None && PySequence_Fast_GET_SIZE(desc) != n) Py_RETURN_NOTIMPLEMENTED;
    Buf b;
    buf_init(&b);
    PyObject *r = NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        size_t start = b.len;
        /* no Python code runs in this loop, so a list cannot change under us */
        PyObject *e = key_element(&b, PySequence_Fast_GET_ITEM(values, i));
        if (!e) goto done;
        if (e == DECLINE) { r = Py_NewRef(Py_NotImplemented); goto done; }
        if (desc != Py_None) {            /* bools only: no Python code may run */
            PyObject *d = PySequence_Fast_GET_ITEM(desc, i);
            if (d != Py_True && d != Py_False) { r = Py_NewRef(Py_NotImplemented); goto done; }
            if (d == Py_True)
                for (size_t j = start; j < b.len; j++) b.p[j] = (unsigned char)~b.p[j];
        }
    }
    r = PyBytes_FromStringAndSize((const char *)b.p, (Py_ssize_t)b.len);
done:
    buf_free(&b);
    return r;
}

/* ---- inserts: the KV writes of one row ------------------------------------------- */

/* Encode the key elements of row[pos[i]] (DESC ones inverted) onto b. 1 done, 0
 * declined (a value only Python encodes), -1 error. */
static int key_of(Buf *b, PyObject *row, PyObject *pos, PyObject *desc) {
    Py_ssize_t n = PyTuple_GET_SIZE(pos);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t at = PyLong_AsSsize_t(PyTuple_GET_ITEM(pos, i));
        if (at < 0 || at >= PyList_GET_SIZE(row)) return PyErr_Occurred() ? -1 : 0;
        size_t start = b->len;
        PyObject *e = key_element(b, PyList_GET_ITEM(row, at));
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
static int storable(PyObject *v, long kind, long long lo, long long hi, long maxlen) {
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
static PyObject *insert_row(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
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
    uint32_t row_no = (uint32_t)PyLong_AsUnsignedLong(args[3]);
    if (PyErr_Occurred()) return NULL;
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
        long kind = PyLong_AsLong(PyTuple_GET_ITEM(kinds, i));
        long long lo = PyLong_AsLongLong(PyTuple_GET_ITEM(los, i));
        long long hi = PyLong_AsLongLong(PyTuple_GET_ITEM(his, i));
        long maxlen = PyLong_AsLong(PyTuple_GET_ITEM(maxlens, i));
        if (PyErr_Occurred()) return NULL;
        if (!storable(v, kind, lo, hi, maxlen)) Py_RETURN_FALSE;
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
    value = encode_row_ids(NULL, (PyObject *[]){ids, row}, 2);
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

/* ---- keys: decoding ---------------------------------------------------------------- */

/* Reads go through `mask` (0x00 ascending, 0xff DESC: the element's bytes inverted). */
static uint64_t get_be(const unsigned char *p, int n, unsigned char mask) {
    uint64_t x = 0;
    for (int i = 0; i < n; i++) x = (x << 8) | (unsigned char)(p[i] ^ mask);
    return x;
}

/* The unescaped payload of a text/bytes element at *off into b; 1 = malformed. */
static int key_unescape(Buf *b, const unsigned char *p, Py_ssize_t end, Py_ssize_t *off,
                        unsigned char mask) {
    Py_ssize_t o = *off;
    for (;;) {
        const unsigned char *z = o < end ? memchr(p + o, mask, (size_t)(end - o)) : NULL;
        if (!z || z + 1 >= p + end) return 1;
        Py_ssize_t zi = z - p;
        if (buf_reserve(b, (size_t)(zi - o) + 1) < 0) return -1;
        for (Py_ssize_t i = o; i < zi; i++) b->p[b->len++] = p[i] ^ mask;
        unsigned char nxt = z[1] ^ mask;
        o = zi + 2;
        if (nxt == 0x01) break;
        if (nxt != 0xFF) return 1;
        b->p[b->len++] = 0x00;
    }
    *off = o;
    return 0;
}

/* One element at *off; NULL + error, or DECLINE (Python decodes or raises). */
static PyObject *key_decode_one(const unsigned char *p, Py_ssize_t end, Py_ssize_t *off,
                                unsigned char mask) {
    Py_ssize_t o = *off;
    if (o >= end) return DECLINE;
    unsigned tag = p[o++] ^ mask;
    Py_ssize_t avail = end - o;
    PyObject *r;
    if (tag >= 0x20 && tag <= 0x2F) {
        int n = tag >= 0x28 ? (int)tag - 0x27 : 0x28 - (int)tag;
        if (avail < n) return DECLINE;
        uint64_t x = get_be(p + o, n, mask);
        if (tag >= 0x28) r = PyLong_FromUnsignedLongLong(x);
        else if (n < 8) r = PyLong_FromLongLong((int64_t)x - ((int64_t)1 << (8 * n)));
        else if (x >> 63) r = PyLong_FromLongLong((int64_t)(x - (1ULL << 63)) + INT64_MIN);
        else return DECLINE;               /* below -2**63: Python's big int */
        o += n;
    } else if (tag == 0x05 || tag == 0x10 || tag == 0x11) {
        r = Py_NewRef(tag == 0x05 ? Py_None : tag == 0x11 ? Py_True : Py_False);
    } else if (tag == 0x40 || tag == 0x50) {
        Buf b;
        buf_init(&b);
        int rc = key_unescape(&b, p, end, &o, mask);
        if (rc) { buf_free(&b); return rc > 0 ? DECLINE : NULL; }
        if (tag == 0x50) {
            r = PyBytes_FromStringAndSize((const char *)b.p, (Py_ssize_t)b.len);
        } else {
            r = PyUnicode_DecodeUTF8((const char *)b.p, (Py_ssize_t)b.len, NULL);
            if (!r && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
                PyErr_Clear();
                r = DECLINE;
            }
        }
        buf_free(&b);
        if (r == DECLINE) return r;
    } else if (tag == 0x30) {
        if (avail < 8) return DECLINE;
        uint64_t bits = get_be(p + o, 8, mask);
        bits = (bits >> 63) ? bits ^ (1ULL << 63) : ~bits;
        double d;
        memcpy(&d, &bits, 8);
        r = PyFloat_FromDouble(d);
        o += 8;
    } else if (tag == 0x60 || tag == 0x61 || tag == 0x62) {
        int n = tag == 0x60 ? 4 : tag == 0x61 ? 5 : 8;
        if (avail < n) return DECLINE;
        uint64_t x = get_be(p + o, n, mask);
        r = tag == 0x60 ? make_date(x) : tag == 0x61 ? make_time(x) : make_datetime(x);
        if (!r && !PyErr_Occurred()) return DECLINE;   /* out of range */
        o += n;
    } else {
        return DECLINE;                    /* decimals, unknown tags */
    }
    *off = o;
    return r;
}

static PyObject *decode_key(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError,
                        "decode_key(data, count, desc, offset) takes 4 arguments");
        return NULL;
    }
    PyObject *data = args[0], *desc = args[2];
    if (!PyBytes_CheckExact(data) || !PyLong_CheckExact(args[1]) ||
        !PyLong_CheckExact(args[3]) ||
        (desc != Py_None && !PyTuple_CheckExact(desc) && !PyList_CheckExact(desc)))
        Py_RETURN_NOTIMPLEMENTED;
    Py_ssize_t n = PyLong_AsSsize_t(args[1]), off = PyLong_AsSsize_t(args[3]);
    if ((n == -1 || off == -1) && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) return NULL;
        PyErr_Clear();
        Py_RETURN_NOTIMPLEMENTED;
    }
    if (n < 0 || off < 0 || (desc != Py_None && PySequence_Fast_GET_SIZE(desc) != n))
        Py_RETURN_NOTIMPLEMENTED;
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(data);
    Py_ssize_t end = PyBytes_GET_SIZE(data);
    PyObject *out = PyList_New(n);
    if (!out) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) PyList_SET_ITEM(out, i, Py_NewRef(Py_None));
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char mask = 0;
        if (desc != Py_None) {
            PyObject *d = PySequence_Fast_GET_ITEM(desc, i);
            if (d != Py_True && d != Py_False) goto decline;
            mask = d == Py_True ? 0xFF : 0x00;
        }
        PyObject *v = key_decode_one(p, end, &off, mask);
        if (v == DECLINE) goto decline;
        if (!v) { Py_DECREF(out); return NULL; }
        PyList_SetItem(out, i, v);
    }
    return Py_BuildValue("(Nn)", out, off);
decline:
    Py_DECREF(out);
    Py_RETURN_NOTIMPLEMENTED;
}

/* ---- module ---------------------------------------------------------------------------- */

static PyObject *init(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *ce, *dec, *pyd;
    if (!PyArg_ParseTuple(args, "OOO:_init", &ce, &dec, &pyd)) return NULL;
    Py_XSETREF(CorruptionError, Py_NewRef(ce));
    Py_XSETREF(DecimalType, Py_NewRef(dec));
    Py_XSETREF(PyDecodeRow, Py_NewRef(pyd));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"_init", init, METH_VARARGS,
     "_init(corruption_error_class, decimal_class, py_decode_row): required first."},
    {"decode_row", (PyCFunction)(void (*)(void))decode_row, METH_FASTCALL,
     "decode_row(data, schema) -> list: rowcodec.decode_row in C."},
    {"encode_row", (PyCFunction)(void (*)(void))encode_row, METH_FASTCALL,
     "encode_row(values: dict, types | None) -> bytes or NotImplemented."},
    {"encode_row_ids", (PyCFunction)(void (*)(void))encode_row_ids, METH_FASTCALL,
     "encode_row_ids(ids: tuple, values: list | tuple) -> bytes or NotImplemented."},
    {"encode_key", (PyCFunction)(void (*)(void))encode_key, METH_FASTCALL,
     "encode_key(values: list | tuple, desc: None | list/tuple of bools) -> bytes or "
     "NotImplemented."},
    {"decode_key", (PyCFunction)(void (*)(void))decode_key, METH_FASTCALL,
     "decode_key(data: bytes, count, desc: None | list/tuple of bools, offset) -> "
     "(values, offset) or NotImplemented."},
    {"insert_row", (PyCFunction)(void (*)(void))insert_row, METH_FASTCALL,
     "insert_row(spec, row, pending, row_no) -> bool: the KV writes of one row, "
     "or False to leave it to Python."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "lightning._speedups",
    "C versions of the hot functions of lightning.sql.rowcodec and keycodec.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    PyDateTime_IMPORT;
    if (!PyDateTimeAPI) return NULL;
    IdStr = PyUnicode_InternFromString("id");
    PyTypeStr = PyUnicode_InternFromString("python_type");
    if (!IdStr || !PyTypeStr) return NULL;
    return PyModule_Create(&module);
}
