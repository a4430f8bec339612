/* lightning._speedups: C versions of the SQL layer's hot codec functions.
 *
 * A plain CPython extension (no cffi; it calls the engine only through the addresses
 * transaction.py hands over, see _speedups_txn.c). The format references are
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
 *   TxnReader, point_row, pk_row, index_rows, index_point: a transaction's reads
 *                                           from C
 *                                           (_speedups_txn.c; the engine's entry
 *                                            points come from bind_engine)
 *
 * NotImplemented means "use the Python reference" (a value type or range handled only
 * there, or an error whose message Python produces). _init(...) hands over the
 * Python-side objects this module needs (see rowcodec.py).
 *
 * Files: _speedups.h (shared), _speedups_rows.c, _speedups_keys.c, _speedups_insert.c,
 * _speedups_txn.c;
 * this one is the module table.
 */
#include "_speedups.h"

PyObject *ltsp_CorruptionError, *ltsp_DecimalType, *ltsp_PyDecodeRow, *ltsp_IdStr,
    *ltsp_PyTypeStr;

/* ---- module ---------------------------------------------------------------------------- */

static PyObject *init(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *ce, *dec, *pyd;
    if (!PyArg_ParseTuple(args, "OOO:_init", &ce, &dec, &pyd)) return NULL;
    Py_XSETREF(ltsp_CorruptionError, Py_NewRef(ce));
    Py_XSETREF(ltsp_DecimalType, Py_NewRef(dec));
    Py_XSETREF(ltsp_PyDecodeRow, Py_NewRef(pyd));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"_init", init, METH_VARARGS,
     "_init(corruption_error_class, decimal_class, py_decode_row): required first."},
    {"decode_row", (PyCFunction)(void (*)(void))ltsp_decode_row, METH_FASTCALL,
     "decode_row(data, schema) -> list: rowcodec.decode_row in C."},
    {"encode_row", (PyCFunction)(void (*)(void))ltsp_encode_row, METH_FASTCALL,
     "encode_row(values: dict, types | None) -> bytes or NotImplemented."},
    {"encode_row_ids", (PyCFunction)(void (*)(void))ltsp_encode_row_ids, METH_FASTCALL,
     "encode_row_ids(ids: tuple, values: list | tuple) -> bytes or NotImplemented."},
    {"encode_key", (PyCFunction)(void (*)(void))ltsp_encode_key, METH_FASTCALL,
     "encode_key(values: list | tuple, desc: None | list/tuple of bools) -> bytes or "
     "NotImplemented."},
    {"decode_key", (PyCFunction)(void (*)(void))ltsp_decode_key, METH_FASTCALL,
     "decode_key(data: bytes, count, desc: None | list/tuple of bools, offset) -> "
     "(values, offset) or NotImplemented."},
    {"insert_row", (PyCFunction)(void (*)(void))ltsp_insert_row, METH_FASTCALL,
     "insert_row(spec, row, pending, row_no) -> bool: the KV writes of one row, "
     "or False to leave it to Python."},
    {"plain_params", (PyCFunction)(void (*)(void))ltsp_plain_params, METH_FASTCALL,
     "plain_params(params, n, plain) -> params | NotImplemented: bind()'s common case."},
    {"bind_engine", ltsp_bind_engine, METH_VARARGS,
     "bind_engine(lt_txn_get_ex, lt_txn_scan): the engine's addresses (ints), from "
     "lightning/transaction.py."},
    {"point_row", (PyCFunction)(void (*)(void))ltsp_point_row, METH_FASTCALL,
     "point_row(reader, key, ids) -> [] | [row tuple] | NotImplemented."},
    {"pk_row", (PyCFunction)(void (*)(void))ltsp_pk_row, METH_FASTCALL,
     "pk_row(reader, prefix, params, nparams, cols, plain, ids) -> [] | [row tuple] | "
     "NotImplemented."},
    {"index_rows", (PyCFunction)(void (*)(void))ltsp_index_rows, METH_FASTCALL,
     "index_rows(reader, start, end, reverse, rows_prefix, fixed, ids, limit) -> "
     "list of rows | NotImplemented."},
    {"index_point", (PyCFunction)(void (*)(void))ltsp_index_point, METH_FASTCALL,
     "index_point(reader, prefix, params, nparams, cols, plain, rows_prefix, ids, limit)"
     " -> list of row tuples | NotImplemented."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "lightning._speedups",
    "C versions of the hot functions of lightning.sql.rowcodec and keycodec.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    if (ltsp_rows_init() < 0) return NULL;
    ltsp_IdStr = PyUnicode_InternFromString("id");
    ltsp_PyTypeStr = PyUnicode_InternFromString("python_type");
    if (!ltsp_IdStr || !ltsp_PyTypeStr) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m && ltsp_txn_init(m) < 0) Py_CLEAR(m);
    return m;
}

