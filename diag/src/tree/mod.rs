//! The live tree: build from a spec, incremental evaluation, mounts, explanations.
