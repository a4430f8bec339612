"""What one SQL string is, decided from its tokens: empty, a transaction-control
statement (which the driver runs itself), or a data statement for the executor.

Transaction control (keywords case-insensitive; a name is a word or quoted identifier):

  BEGIN [DEFERRED | IMMEDIATE | EXCLUSIVE] [TRANSACTION | WORK]  -> Control("begin")
  START TRANSACTION                                              -> Control("begin")
  COMMIT | END [TRANSACTION | WORK]                              -> Control("commit")
  ROLLBACK [TRANSACTION | WORK]                                  -> Control("rollback")
  ROLLBACK [TRANSACTION | WORK] TO [SAVEPOINT] name              -> Control("rollback_to", name)
  SAVEPOINT name                                                 -> Control("savepoint", name)
  RELEASE [SAVEPOINT] name                                       -> Control("release", name)

A statement starting with one of these words that does not match raises
ProgrammingError naming the offending token and its position. One string holds one
statement: a trailing `;` is allowed, anything after it raises ProgrammingError (as
sqlite3 does). `classify()` results are cached by SQL text (`prepare`).
"""

from functools import lru_cache
from typing import NamedTuple

from ..errors import ProgrammingError
from ..sql.lexer import PUNCT, QUOTED, WORD, tokenize
from .params import Placeholders, scan

__all__ = ["Control", "Prepared", "prepare", "statement_kind"]

_CONTROL_WORDS = {"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"}
_OBJECT_WORDS = {"TABLE", "INDEX", "VIEW", "TRIGGER", "SCHEMA", "SEQUENCE", "DATABASE"}


class Control(NamedTuple):
    op: str                # "begin", "commit", "rollback", "savepoint", "release", "rollback_to"
    name: str | None = None   # the savepoint name, as written (compared case-insensitively)


class Prepared(NamedTuple):
    sql: str
    kind: str | None                 # e.g. "SELECT", "CREATE TABLE"; None when empty
    control: Control | None          # set for transaction-control statements
    placeholders: Placeholders


def statement_kind(tokens):
    """A short name of the statement for messages: its first keyword, plus the object
    kind for CREATE/DROP/ALTER ("CREATE UNIQUE INDEX"). None for an empty statement."""
    if not tokens:
        return None
    first = tokens[0]
    if first.kind != WORD:
        return first.text
    words = [first.text.upper()]
    if words[0] in ("CREATE", "DROP", "ALTER"):
        for tok in tokens[1:6]:
            if tok.kind != WORD:
                break
            words.append(tok.text.upper())
            if words[-1] in _OBJECT_WORDS:
                break
        else:
            words = words[:1]
        if words[-1] not in _OBJECT_WORDS:
            words = words[:1]
    return " ".join(words)


class _Reader:
    def __init__(self, tokens, sql):
        self.tokens = tokens
        self.i = 0
        self.sql = sql

    def peek_word(self):
        if self.i < len(self.tokens) and self.tokens[self.i].kind == WORD:
            return self.tokens[self.i].text.upper()
        return None

    def accept(self, *words):
        w = self.peek_word()
        if w in words:
            self.i += 1
            return w
        return None

    def name(self, what):
        if self.i < len(self.tokens) and self.tokens[self.i].kind in (WORD, QUOTED):
            self.i += 1
            return self.tokens[self.i - 1].text
        self.fail(f"expected {what}")

    def fail(self, expected):
        if self.i < len(self.tokens):
            tok = self.tokens[self.i]
            raise ProgrammingError(f"syntax error near {tok.text!r} at position {tok.pos}: "
                                   f"{expected}")
        raise ProgrammingError(f"syntax error at end of statement: {expected}")

    def end(self):
        if self.i < len(self.tokens):
            self.fail("expected the end of the statement")


def _control(tokens, sql):
    r = _Reader(tokens, sql)
    w = r.accept(*_CONTROL_WORDS)
    if w == "BEGIN":
        r.accept("DEFERRED", "IMMEDIATE", "EXCLUSIVE")
        r.accept("TRANSACTION", "WORK")
        op = Control("begin")
    elif w == "START":
        if not r.accept("TRANSACTION"):
            r.fail("expected TRANSACTION after START")
        op = Control("begin")
    elif w in ("COMMIT", "END"):
        r.accept("TRANSACTION", "WORK")
        op = Control("commit")
    elif w == "ROLLBACK":
        r.accept("TRANSACTION", "WORK")
        if r.accept("TO"):
            r.accept("SAVEPOINT")
            op = Control("rollback_to", r.name("a savepoint name"))
        else:
            op = Control("rollback")
    elif w == "SAVEPOINT":
        op = Control("savepoint", r.name("a savepoint name"))
    else:  # RELEASE
        r.accept("SAVEPOINT")
        op = Control("release", r.name("a savepoint name"))
    r.end()
    return op


@lru_cache(maxsize=512)
def prepare(sql):
    """The `Prepared` form of `sql` (a str)."""
    tokens = tokenize(sql)
    for k, tok in enumerate(tokens):
        if tok.kind == PUNCT and tok.text == ";":
            rest = tokens[k + 1:]
            if any(not (t.kind == PUNCT and t.text == ";") for t in rest):
                raise ProgrammingError("you can only execute one statement at a time "
                                       f"(a second statement starts at position "
                                       f"{next(t.pos for t in rest if t.text != ';')})")
            tokens = tokens[:k]
            break
    placeholders = scan(tokens)
    kind = statement_kind(tokens)
    control = None
    if kind in _CONTROL_WORDS:
        control = _control(tokens, sql)
    return Prepared(sql, kind, control, placeholders)
