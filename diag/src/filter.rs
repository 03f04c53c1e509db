//! Per-node filtering of state changes: debounce, flap damping, latching, trend.
