"""The SQL layer of Lightning: tables, rows and indexes on the KV store (DESIGN.md,
"Tables on keys" and "SQL layer").

Foundation modules, each with one responsibility:

  keycodec  order-preserving, prefix-free encoding of typed values into KV keys
  rowcodec  the row value format (column-id tagged, NULLs omitted)
  types     SQL type names, their Python types and strict value coercion
  catalog   table/index schemas stored in the KV store, DDL, key layout helpers,
            auto-increment id allocation
  lexer     a small SQL tokenizer (placeholders, words, literals), shared with the
            driver
  interface the Executor protocol and Result that the DB-API driver is written
            against; this layer never imports the driver
"""
