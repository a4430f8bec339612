"""Access paths at execution time: turn a chosen path (plan.py) and the statement's
parameters into key ranges of the KV store, and read the rows in them.

One responsibility: reading. plan.py decides *which* key space (the table's rows or
one secondary index) and which leading key columns are pinned or bounded; this file
evaluates those constants, coerces them to the column types, encodes them and scans.

Key spaces (catalog.py, ../shared/DESIGN.md "Tables on keys")
    rows     row_prefix   . key(pk columns)                   -> row value
    index    index_prefix . key(index columns) . key(pk)      -> ""
    unique   index_prefix . key(index columns) [. key(pk)]    -> key(pk)
A unique entry appends the pk only when an indexed value is NULL. Either way the
entries are sorted by (key columns, then pk columns), so one description fits all
three: a prefix, the key columns as (row position, desc), and how to get the row.

Spans. The pinned columns (`col = c`, `col IN (...)`) give one or more "points" (the
cartesian product of their value lists), each encoded to a key prefix; the points are
deduplicated and sorted by their encoded bytes, so rows come out in key order. A range
(<, <=, >, >=, BETWEEN) on the next key column narrows each point's span. The element
encodings are prefix-free, so for a point prefix P and a value v:
    rows with col == v       [P.E(v), succ(P.E(v)))          succ = prefix_successor
    rows with col >  v (ASC) [succ(P.E(v)), succ(P))
    rows with col <  v (ASC) [succ(P.E(NULL)), P.E(v))       NULLs sort first: skipped
In a DESC column every element byte is inverted: the order reverses and NULLs sort
last, so a SQL lower bound becomes the upper key bound:
    rows with col >  v (DESC) [P, P.E(v))
    rows with col <  v (DESC) [succ(P.E(v)), P.E(NULL))      NULLs sort last: skipped

Values. The WHERE filter (applied by the caller to every row yielded) compares with
expr.compare: numbers < text < blob < others, numbers compared by value. A key range
is only a correct superset when the coerced value orders against stored values as the
original does, so a bound is used only when coercion keeps the value's class and
compares equal to it (and never a float against NUMERIC: Decimal/float comparison
rounds); otherwise the whole path falls back to a scan. A point value that cannot
equal any stored value (NULL, another class, 2.5 for an INTEGER column, ...) is
dropped from its list; when in doubt (e.g. a float against a BOOLEAN column) the path
falls back. A fallback reads the whole key space in order: the table's rows, or the
whole index when the caller relies on the index's order (`provide_order`).

Key size. No stored key is longer than MAX_KEY_SIZE (writes refuse them), so a point
whose key would be longer names no row and is skipped (a point SELECT of a too-long
text returns no rows rather than the KV layer's DataError); a range bound longer than
that is cut to MAX_KEY_SIZE bytes, which keeps the span a superset.
"""

import itertools
import re
from decimal import Decimal

from ..errors import DataError
from ..kv import MAX_KEY_SIZE, prefix_successor
from .catalog import index_prefix, row_prefix
from .expr import value_class
from .keycodec import encode_key, key_decoder, key_encoder
from .rowcodec import column_ids, decode_row_ids

try:        # reads from C through the transaction's TxnReader (_speedups_txn.c)
    from .._speedups import index_point as c_index_point, index_rows as _c_index_rows, \
        pk_row as c_pk_row, point_row as c_point_row
except ImportError:
    c_index_point = _c_index_rows = c_pk_row = c_point_row = None

C_INDEX_LIMIT = 16      # entries one C index read takes; more: the Python scan

__all__ = ["Access", "KINDS"]

KINDS = ("pk_point", "pk_multi", "pk_range", "index", "scan")

_INV = bytes(range(255, -1, -1))
_NULL_ASC = encode_key([None])                      # b"\x05"
_NULL_DESC = _NULL_ASC.translate(_INV)              # b"\xfa"
_IDENTITY = ("INTEGER", "REAL", "TEXT", "BLOB")      # coerce(v) == v for their own type
_DROP = object()                                    # a point value matching nothing

# the class of a value as expr.compare orders classes; per column type family
_FAMILY_CLASS = {"INTEGER": 0, "REAL": 0, "NUMERIC": 0, "BOOLEAN": 0, "TEXT": 1,
                 "JSON": 1, "BLOB": 2, "DATE": 3, "TIME": 3, "TIMESTAMP": 3}


def _same(a, b):
    """a and b compare equal as expr.compare does (same class, equal value)."""
    if value_class(a) != value_class(b):
        return False
    try:
        return a == b
    except TypeError:
        return False


class _Fallback(Exception):
    pass


class Access:
    """A chosen access path.

    Attributes
      kind        one of KINDS: "pk_point" (every pk column `= c`: at most one row),
                  "pk_multi" (every pk column pinned, some by IN: several points),
                  "pk_range" (a pk prefix pinned and/or the next pk column bounded),
                  "index" (a secondary index: pinned prefix and/or a bounded column),
                  "scan" (every row).
      table, index  the catalog Table, and the catalog Index (None unless "index").
      keys        [(row position, desc)] of the key space's columns, in key order
                  (the pk columns, or the index columns then the pk columns).
      eq          [(row position, [fn], [sql])] for the pinned leading key columns;
                  fn(row, params) gives a value; several fns = an IN list.
      lo, hi      (row position, fn, inclusive) bounds on the next key column, or None.
      constant    positions pinned to a single value (`col = c`): any order on them
                  is trivially satisfied.
      ordered_by  [(row position, desc)]: rows() yields rows sorted by these (desc =
                  descending, NULLs last; else ascending, NULLs first); ties in
                  unspecified order. Reflects `reverse`.
      reverse     read the key space backwards (set by provide_order).
    Methods
      rows(txn, params)      iterator of rows (lists aligned with table.columns); a
                             superset of the rows the WHERE keeps: the caller filters.
      point_key(params)      pk_point only: the row key, or None when a value cannot be
                             used (the caller then uses rows()).
      provide_order(terms)   promise an ORDER BY; True when rows() will honour it.
      describe()             the EXPLAIN line.
    """

    def __init__(self, table, kind, text, keys, eq=(), lo=None, hi=None, index=None):
        self.table, self.kind, self.text, self.index = table, kind, text, index
        self.keys = list(keys)
        self.eq, self.lo, self.hi = list(eq), lo, hi
        self.constant = frozenset(p for p, fns, _ in self.eq if len(fns) == 1)
        self.reverse = False
        self._ordered = False               # provide_order() promised an order
        self._cols = table.columns
        self._ids = column_ids(table.columns)
        self._dirs = [d for _, d in self.keys]
        self._rows_prefix = row_prefix(table.id)
        if index is None:
            self._prefix = self._rows_prefix
        else:
            self._prefix = index_prefix(table.id, index.id)
            self._skip_values = key_decoder(len(index.column_ids), index.directions)
        # encoders of the pinned prefix and of one range bound, directions fixed once
        self._eq_encode = key_encoder(self._dirs[:len(self.eq)])
        n = len(self.eq)
        self._bound_encode = key_encoder(self._dirs[n:n + 1]) if n < len(self._dirs) \
            else None
        # per pinned column, the type's fast check (values that need no coerce())
        self._fast = [self._cols[pos].type.fast_check for pos, _, _ in self.eq]
        self._single = all(len(fns) == 1 for _, fns, _ in self.eq)
        if self._single:            # per pinned column (pos, fn, fast check)
            self._point = [(pos, fns[0], fast)
                           for (pos, fns, _), fast in zip(self.eq, self._fast)]
        # _index_rows: every indexed column pinned by one `=` (a span's start is an
        # entry's whole indexed part), and then a unique index holds one entry a span
        self._pinned = index is not None and lo is None and hi is None and \
            len(self.eq) == len(index.column_ids)
        self._unique_point = self._pinned and index.unique

    # ---- description and order ----

    def describe(self):
        text = re.sub(r":__p\d+", "?", self.text)
        return text + " REVERSE" if self.reverse else text

    def provide_order(self, terms):
        """`terms`: the ORDER BY as [(row position or None, desc, nulls_first)]. When
        rows() can yield rows in that order (reading backwards if needed), arrange it
        and return True; the caller may then skip sorting. Otherwise False, no change."""
        if not terms or any(p is None for p, _, _ in terms):
            return False
        for rev in (False, True):
            if self._serves(terms, rev):
                self.reverse, self._ordered = rev, True
                return True
        return False

    def _serves(self, terms, rev):
        done = set(self.constant)           # positions already in order
        i = 0
        for pos, kdesc in self.keys:
            while i < len(terms) and terms[i][0] in done:
                i += 1
            if i == len(terms):
                return True
            if pos in done:
                continue
            tpos, desc, nulls_first = terms[i]
            if tpos != pos or desc != (kdesc != rev):
                return False
            if nulls_first != (not desc) and not self._cols[pos].not_null:
                return False
            done.add(pos)
            i += 1
        return all(t[0] in done for t in terms[i:])

    # ---- values ----

    def _point_values(self, pos, fns, fast, params):
        """The coerced values of one pinned column, matching-nothing ones dropped
        (`fast`: the column type's fast_check, for values that need no coerce())."""
        out = []
        for fn in fns:
            v = fn((), params)
            if fast is None or type(v) is not fast[0] or not fast[1](v):
                v = self._coerce(pos, v, point=True)
                if v is _DROP:
                    continue
            out.append(v)
        return out

    def _coerce(self, pos, v, point):
        c = self._cols[pos]
        t = c.type
        if v is None:
            if point:
                return _DROP                # col = NULL is never true
            raise _Fallback                 # col > NULL: never true either, but rare
        if type(v) is t.python_type and t.family in _IDENTITY:
            try:
                return t.coerce(v, c.name)  # fast path: only range/length checks
            except DataError:
                pass
        else:
            try:
                cv = t.coerce(v, c.name)
            except DataError:
                cv = _DROP
            if cv is not _DROP and _same(cv, v) and not (
                    t.family == "NUMERIC" and isinstance(v, float)):
                return cv
        # cv cannot stand for v in key order
        if not point:
            raise _Fallback
        fam = t.family
        if value_class(v) != _FAMILY_CLASS.get(fam, 3):
            return _DROP                    # another class: never equal
        if isinstance(v, bool):
            raise _Fallback
        if fam == "INTEGER" or (type(v) is int and fam in ("REAL", "NUMERIC", "BOOLEAN")):
            return _DROP                    # out of the column's domain: never equal
        if fam == "NUMERIC" and isinstance(v, Decimal) and v.is_finite():
            return _DROP
        raise _Fallback

    def _points(self, params):
        """Sorted, distinct encoded prefixes of the pinned columns ([b""] when none)."""
        if not self.eq:
            return [b""]
        if self._single:                    # one value per column: at most one point
            vals = self._single_values(params)
            return [] if vals is _DROP else [self._eq_encode(vals)]
        lists = [self._point_values(pos, fns, fast, params)
                 for (pos, fns, _), fast in zip(self.eq, self._fast)]
        enc = self._eq_encode
        if len(lists) == 1:
            return sorted({enc([v]) for v in lists[0]})
        return sorted({enc(p) for p in itertools.product(*lists)})

    def point_key(self, params):
        """pk_point: the key of the one row the pk values name, or None when a value
        cannot be used as is (NULL, another type, ...): then use rows()."""
        try:
            vals = self._single_values(params)
        except _Fallback:
            return None
        if vals is _DROP:
            return None
        key = self._prefix + self._eq_encode(vals)
        return key if len(key) <= MAX_KEY_SIZE else None    # rows(): no such key

    def _single_values(self, params):
        """The coerced value of each pinned column when each has one (`_single`), or
        _DROP when one can match nothing; raises _Fallback as _coerce does."""
        vals = []
        for pos, fn, fast in self._point:
            v = fn((), params)
            if fast is None or type(v) is not fast[0] or not fast[1](v):
                v = self._coerce(pos, v, point=True)
                if v is _DROP:
                    return _DROP
            vals.append(v)
        return vals

    def _spans(self, params):
        """[(start, end)] key ranges in key order (before `reverse`)."""
        base = self._prefix
        n = len(self.eq)
        lo = hi = None
        if self.lo is not None:
            pos, fn, inc = self.lo
            lo = (self._coerce(pos, fn((), params), False), inc)
        if self.hi is not None:
            pos, fn, inc = self.hi
            hi = (self._coerce(pos, fn((), params), False), inc)
        points = self._points(params)
        if lo is None and hi is None:       # (a longer point has no keys)
            return [(base + p, prefix_successor(base + p)) for p in points
                    if len(base) + len(p) <= MAX_KEY_SIZE]
        desc = self._dirs[n]
        enc = self._bound_encode
        if desc:                            # key order is reversed: swap the roles
            lo, hi = hi, lo
        spans = []
        for p in points:
            pp = base + p
            if lo is not None:
                k = pp + enc([lo[0]])
                start = k if lo[1] else prefix_successor(k)
            else:
                start = pp if desc else prefix_successor(pp + _NULL_ASC)  # past NULLs
            if hi is not None:
                k = pp + enc([hi[0]])
                end = prefix_successor(k) if hi[1] else k
            else:
                end = pp + _NULL_DESC if desc else prefix_successor(pp)
            if len(start) > MAX_KEY_SIZE:   # no longer keys: cut, still a superset
                start = start[:MAX_KEY_SIZE]
            if len(end) > MAX_KEY_SIZE:
                end = prefix_successor(end[:MAX_KEY_SIZE])
                if end is None:
                    raise _Fallback
            if start < end:
                spans.append((start, end))
        return spans

    # ---- reading ----

    def rows(self, txn, params):
        try:
            if self.kind == "scan":
                raise _Fallback
            if self.kind in ("pk_point", "pk_multi"):
                keys = [self._prefix + p for p in self._points(params)]
                return self._get_rows(txn, keys[::-1] if self.reverse else keys)
            spans = self._spans(params)
        except _Fallback:
            if self.index is not None and self._ordered:
                spans = [(self._prefix, prefix_successor(self._prefix))]
            else:
                rp = self._rows_prefix
                return self._scan_rows(txn, [(rp, prefix_successor(rp))])
        if self.reverse:
            spans = spans[::-1]
        if self.index is None:
            return self._scan_rows(txn, spans)
        return self._index_rows(txn, spans)

    def _get_rows(self, txn, keys):
        ids = self._ids
        for k in keys:
            if len(k) > MAX_KEY_SIZE:       # no such key
                continue
            raw = txn.get(k)
            if raw is not None:
                yield decode_row_ids(raw, ids)

    def _scan_rows(self, txn, spans):
        ids, rev = self._ids, self.reverse
        for start, end in spans:
            for _, v in txn.scan(start, end, reverse=rev):
                yield decode_row_ids(v, ids)

    def _index_rows(self, txn, spans):
        """The rows the index entries in `spans` name: a list when every span is a
        non-unique pinned one that the C reader takes whole, else a generator."""
        reader = txn._reader
        if reader is not None and self._pinned and not self._unique_point and \
                _c_index_rows is not None:
            nb, rp, ids, rev = len(self._prefix), self._rows_prefix, self._ids, self.reverse
            out = []
            for start, end in spans:
                if len(start) <= nb:                            # (the fallback span)
                    break
                rows = _c_index_rows(reader, start, end, rev, rp, len(start), ids,
                                     C_INDEX_LIMIT)
                if rows is NotImplemented:
                    break
                out += rows
            else:
                return out
        return self._index_rows_py(txn, spans)

    def _index_rows_py(self, txn, spans):
        base, rev = self._prefix, self.reverse
        rp, ids, skip, get = self._rows_prefix, self._ids, self._skip_values, txn.get
        nb = len(base)
        pinned, unique = self._pinned, self._unique_point
        for start, end in spans:
            fixed = len(start) if pinned and len(start) > nb else None  # (not fallback)
            if unique and fixed is not None:
                # a unique index with every column pinned to a non-NULL value holds at
                # most the one entry `start` (NULL-holding entries never match): a get
                v = get(start)
                raw = None if v is None else get(rp + v)
                if raw is not None:
                    yield decode_row_ids(raw, ids)
                continue
            for k, v in txn.scan(start, end, reverse=rev):
                # the row key is the row prefix and the encoded pk: a unique entry's
                # value, or the bytes after a non-unique entry's indexed values
                if not v:
                    v = k[fixed if fixed is not None else skip(k, nb)[1]:]
                raw = get(rp + v)
                if raw is not None:
                    yield decode_row_ids(raw, ids)
