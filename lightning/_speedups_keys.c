/* _speedups_keys.c: the order-preserving key encoding in C (keycodec.py is the
 * reference): encode_key, decode_key and the element encoder insert_row uses. */
#include "_speedups.h"

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
PyObject *ltsp_key_element(Buf *b, PyObject *v) {
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

PyObject *ltsp_encode_key(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
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
        PyObject *e = ltsp_key_element(&b, PySequence_Fast_GET_ITEM(values, i));
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
        r = tag == 0x60 ? ltsp_make_date(x) : tag == 0x61 ? ltsp_make_time(x)
                        : ltsp_make_datetime(x);
        if (!r && !PyErr_Occurred()) return DECLINE;   /* out of range */
        o += n;
    } else {
        return DECLINE;                    /* decimals, unknown tags */
    }
    *off = o;
    return r;
}

PyObject *ltsp_decode_key(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
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

