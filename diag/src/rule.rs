//! Aggregation rules: how an inner node combines its children.
