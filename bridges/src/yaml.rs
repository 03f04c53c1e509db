//! YAML with line numbers, as vigil-diag reads tree files: one set of
//! helpers for every file vigil reads, so problems look the same.

pub(crate) use vigil_diag::yaml::*;
