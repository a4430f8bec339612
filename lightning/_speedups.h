/* _speedups.h: what the files of lightning._speedups share (see _speedups.c for the
 * module's functions): the output buffer, UTF-8 access, the "decline" marker, the
 * Python objects handed over by _init, and the functions one file calls in another.
 */
#ifndef LIGHTNING_SPEEDUPS_H
#define LIGHTNING_SPEEDUPS_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Set by _init (_speedups.c): lightning.errors.CorruptionError, decimal.Decimal,
 * rowcodec._py_decode_row; interned "id" and "python_type". */
extern PyObject *ltsp_CorruptionError, *ltsp_DecimalType, *ltsp_PyDecodeRow, *ltsp_IdStr,
    *ltsp_PyTypeStr;

#define DECLINE ((PyObject *)1)   /* internal marker: "hand the input to Python" */

/* ---- growable output buffer ---------------------------------------------------- */

typedef struct {
    unsigned char *p;
    size_t len, cap;
    unsigned char stack[256];
} Buf;

static inline void buf_init(Buf *b) { b->p = b->stack; b->len = 0; b->cap = sizeof b->stack; }
static inline void buf_free(Buf *b) { if (b->p != b->stack) PyMem_Free(b->p); }

static inline int buf_reserve(Buf *b, size_t extra) {
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

static inline int buf_put(Buf *b, const void *src, size_t n) {
    if (buf_reserve(b, n) < 0) return -1;
    memcpy(b->p + b->len, src, n);
    b->len += n;
    return 0;
}

static inline int buf_byte(Buf *b, unsigned char c) { return buf_put(b, &c, 1); }

static inline int buf_varint(Buf *b, uint64_t n) {
    unsigned char tmp[10];
    size_t k = 0;
    while (n > 0x7F) { tmp[k++] = (unsigned char)((n & 0x7F) | 0x80); n >>= 7; }
    tmp[k++] = (unsigned char)n;
    return buf_put(b, tmp, k);
}

/* UTF-8 of an exact str: borrowed pointer (ASCII) or a new bytes object in *tmp.
 * NULL with no error set when the text cannot be encoded (lone surrogate). */
static inline const char *utf8_of(PyObject *s, Py_ssize_t *n, PyObject **tmp) {
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

/* Rows (_speedups_rows.c). */
int ltsp_rows_init(void);                                   /* the datetime C API */
/* date / time / datetime from an ordinal / microseconds; NULL (no error set) when out
 * of range. */
PyObject *ltsp_make_date(uint64_t ordinal);
PyObject *ltsp_make_time(uint64_t us);
PyObject *ltsp_make_datetime(uint64_t us);
PyObject *ltsp_decode_row(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
/* The column ids of a tuple `schema` (ints or objects with an .id) into `small` (when
 * they fit) or a PyMem block in *ids that the caller frees when *ids != small:
 * 0, -1 (error) or 1 (decline: nothing to free). */
#define LTSP_SMALL_COLS 64
int ltsp_ids_of(PyObject *schema, int64_t *small, Py_ssize_t nsmall, int64_t **ids,
                Py_ssize_t *m);
/* A row's bytes decoded for those ids: a new list (a tuple when `tuple`), NULL with
 * an error, or DECLINE. */
PyObject *ltsp_decode_buf(const unsigned char *p, Py_ssize_t end, const int64_t *ids,
                          Py_ssize_t m, int tuple);
/* The Python reference decoder, for what ltsp_decode_buf declines. */
PyObject *ltsp_py_decode(PyObject *data, PyObject *schema);
PyObject *ltsp_encode_row(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *ltsp_encode_row_ids(PyObject *self, PyObject *const *args, Py_ssize_t nargs);

/* Keys (_speedups_keys.c). ltsp_key_element appends one ascending element: Py_None on
 * success, NULL with an error, or DECLINE. */
PyObject *ltsp_key_element(Buf *b, PyObject *v);
PyObject *ltsp_encode_key(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *ltsp_decode_key(PyObject *self, PyObject *const *args, Py_ssize_t nargs);

/* Transaction reads (_speedups_txn.c): the TxnReader type is added by ltsp_txn_init.
 * ltsp_all_plain: 1 when every item of the tuple `params` has a type in the frozenset
 * `plain`, 0 when not, -1 on error. */
int ltsp_all_plain(PyObject *params, PyObject *plain);
PyObject *ltsp_plain_params(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
int ltsp_txn_init(PyObject *module);
PyObject *ltsp_bind_engine(PyObject *self, PyObject *args);
PyObject *ltsp_point_row(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *ltsp_pk_row(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *ltsp_index_rows(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *ltsp_index_point(PyObject *self, PyObject *const *args, Py_ssize_t nargs);

/* Inserts (_speedups_insert.c). ltsp_storable: is v stored as it is in a column of
 * `kind` (1 INTEGER in [lo, hi], 2 REAL, 3 TEXT, 4 BLOB; maxlen < 0: no limit)? */
int ltsp_storable(PyObject *v, long kind, long long lo, long long hi, long maxlen);
PyObject *ltsp_insert_row(PyObject *self, PyObject *const *args, Py_ssize_t nargs);

#endif
