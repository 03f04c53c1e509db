//! The Zenoh bridge (feature `zenoh`): under construction.
