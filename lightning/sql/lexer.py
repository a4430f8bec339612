"""A small SQL tokenizer for the driver and the parser: it splits a statement into words, quoted
identifiers, string literals, numbers, placeholders and punctuation, skipping
whitespace and comments. It is not a SQL parser (the SQL layer uses sqlglot); the
driver only needs to find placeholders outside literals and comments, and to
recognise transaction-control statements.

Lexical rules (SQLite's, which are a superset of what the SQL layer accepts):

  '...'            string literal, '' inside is a quote            -> STRING
  "..." [...] `...` quoted identifier, "" and `` are escapes        -> QUOTED
  -- to end of line, /* ... */ (an unterminated one runs to the end) -> skipped
  ?  ?NNN  :name   placeholders (`::` is punctuation, a cast)       -> PARAM
  letters, digits, _ and $ (not first)                              -> WORD
  a digit, or . followed by a digit, starts a number                -> NUMBER
  anything else, one character (`::` two)                           -> PUNCT

An unterminated string literal or quoted identifier raises ProgrammingError with its
position (0-based character offset into the SQL text).
"""

from typing import NamedTuple

from ..errors import ProgrammingError

__all__ = ["Token", "tokenize", "WORD", "QUOTED", "STRING", "NUMBER", "PARAM", "PUNCT"]

WORD, QUOTED, STRING, NUMBER, PARAM, PUNCT = (
    "word", "quoted", "string", "number", "param", "punct")

_CLOSE = {'"': '"', "`": "`", "[": "]"}


class Token(NamedTuple):
    kind: str
    text: str    # the source text; for QUOTED and STRING the unescaped contents
    pos: int     # offset of the token's first character in the SQL text


def _is_word_start(ch):
    return ch == "_" or ch.isalpha()


def _is_word_char(ch):
    return ch == "_" or ch == "$" or ch.isalnum()


def tokenize(sql):
    """The list of tokens of `sql` (a str), comments and whitespace left out."""
    tokens = []
    append = tokens.append
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch.isspace():
            i += 1
        elif ch == "-" and sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif ch == "/" and sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif ch == "'":
            text, i2 = _quoted(sql, i, "'", "string literal")
            append(Token(STRING, text, i))
            i = i2
        elif ch in _CLOSE:
            text, i2 = _quoted(sql, i, _CLOSE[ch], "quoted identifier")
            append(Token(QUOTED, text, i))
            i = i2
        elif ch == "?":
            j = i + 1
            while j < n and sql[j].isdigit():
                j += 1
            append(Token(PARAM, sql[i:j], i))
            i = j
        elif ch == ":":
            if i + 1 < n and sql[i + 1] == ":":
                append(Token(PUNCT, "::", i))
                i += 2
            elif i + 1 < n and _is_word_start(sql[i + 1]):
                j = i + 2
                while j < n and _is_word_char(sql[j]):
                    j += 1
                append(Token(PARAM, sql[i:j], i))
                i = j
            else:
                append(Token(PUNCT, ":", i))
                i += 1
        elif ch.isdigit() or (ch == "." and i + 1 < n and sql[i + 1].isdigit()):
            j = i + 1
            while j < n:
                c = sql[j]
                if c.isalnum() or c == "." or c == "_":
                    j += 1
                elif c in "+-" and sql[j - 1] in "eE" and not sql[i:j].lower().startswith("0x"):
                    j += 1
                else:
                    break
            append(Token(NUMBER, sql[i:j], i))
            i = j
        elif _is_word_start(ch):
            j = i + 1
            while j < n and _is_word_char(sql[j]):
                j += 1
            append(Token(WORD, sql[i:j], i))
            i = j
        else:
            append(Token(PUNCT, ch, i))
            i += 1
    return tokens


def _quoted(sql, start, close, what):
    """(unescaped contents, offset after the closing quote) of the quoted token
    starting at `start`. A doubled closing quote is an escape, except for [...]."""
    parts = []
    i = start + 1
    while True:
        j = sql.find(close, i)
        if j < 0:
            raise ProgrammingError(f"unterminated {what} starting at position {start}")
        parts.append(sql[i:j])
        if close != "]" and sql.startswith(close, j + 1):
            parts.append(close)
            i = j + 2
            continue
        return "".join(parts), j + 1
