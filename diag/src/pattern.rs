//! lquery-style path patterns (PostgreSQL semantics).
