//! The replay format: one input event per JSON line.
