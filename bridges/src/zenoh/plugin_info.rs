//! What a zenohd plugin built from this tree is compatible with: the Rust
//! compiler, the Zenoh version and the Zenoh feature set. A router loads a
//! dynamic plugin only when all three are exactly its own (zenoh-plugin-trait
//! compares them before it calls anything in the library: the plugin and
//! the router share Rust types, which have no stable ABI). Users hit crashes
//! and confusing refusals when they do not match (zenoh #2242,
//! zenoh-plugin-ros2dds #331), so vigil states them:
//! `vigil bridge zenoh --plugin-info` prints this, and the plugin shows it
//! in its admin space.

use std::fmt;

use serde::Serialize;

/// The name a router loads the plugin by (`plugins/vigil` in its config,
/// `libzenoh_plugin_vigil.so` on Linux).
pub const PLUGIN_NAME: &str = "vigil";

/// The versions a plugin built from this tree states, as the router's
/// loader compares them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PluginInfo {
    /// The plugin's name in the router's config.
    pub plugin: &'static str,
    /// vigil's version.
    pub vigil: &'static str,
    /// The compiler, as zenoh-plugin-trait writes it
    /// (`Rust 1.95.0 commit 59807616e...`).
    pub rust: String,
    /// Zenoh's version as the loader compares it (`v1.10.2-release`: the
    /// commit part is ignored when either side is a crates.io release).
    pub zenoh: &'static str,
    /// Zenoh's enabled features that change its ABI
    /// (`zenoh/transport_tcp zenoh/unstable`).
    pub zenoh_features: &'static str,
}

impl PluginInfo {
    /// This build's.
    pub fn current() -> PluginInfo {
        // The same macro zenoh-plugin-trait's `RustVersion` is built from.
        let (release, commit) = zenoh_macros::rustc_version_release!();
        let (release, nightly) = match release.split_once('-') {
            Some((release, _)) => (release, "-nightly"),
            None => (release, ""),
        };
        PluginInfo {
            plugin: PLUGIN_NAME,
            vigil: env!("CARGO_PKG_VERSION"),
            rust: format!("Rust {release}{nightly} commit {commit}"),
            zenoh: zenoh::GIT_VERSION,
            zenoh_features: zenoh::FEATURES,
        }
    }
}

impl fmt::Display for PluginInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "zenohd plugin `{}` (libzenoh_plugin_{}), vigil {}",
            self.plugin, self.plugin, self.vigil
        )?;
        writeln!(f, "rust: {}", self.rust)?;
        writeln!(f, "zenoh: {}", self.zenoh)?;
        writeln!(f, "zenoh features: {}", self.zenoh_features.trim())?;
        write!(
            f,
            "a zenohd loads it only if built by this compiler from this Zenoh with these features"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_names_the_compiler_and_zenoh_of_this_build() {
        let info = PluginInfo::current();
        assert!(info.rust.starts_with("Rust 1."), "{info}");
        assert!(info.zenoh.starts_with("v1.10."), "{info}");
        // The bridge's own features are part of the contract.
        assert!(info.zenoh_features.contains("transport_tcp"), "{info}");
        assert!(info.zenoh_features.contains("unstable"), "{info}");
    }
}
