//! The trust file (YAML), read with vigil's one config reader: every
//! problem with its line, unknown keys with a suggestion.
//!
//! ```yaml
//! mode: enforce                 # off | warn | enforce
//! keys:
//!   - name: imu_team
//!     public: imu_team.pub      # a file written by `vigil keygen` (relative to this file), or the key in base64
//!     producers: ["imu_*"]      # producer ids it may advertise (globs)
//!     topics: [imu]             # topics it may advertise on (globs)
//!   - name: supervisor
//!     public: sup.pub
//!     speaks_for: ["*"]         # may speak for other producers (agent, bridge, supervisor)
//! ```

use std::path::Path;

use vigil_diag::config::{Document, Error as ConfigError, Node, Problem, ProblemKind};

use super::policy::Glob;
use super::{PublicKey, TrustMode, TrustPolicy, TrustedKey};

impl TrustPolicy {
    /// Reads a trust file; key files are read relative to its directory.
    pub fn load(path: &Path) -> Result<TrustPolicy, ConfigError> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(vec![Problem::new(
                &source,
                1,
                "file",
                ProblemKind::Invalid(format!("cannot read it: {e}")),
            )])
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        TrustPolicy::from_yaml(&text, &source, dir)
    }

    /// Reads a trust file's text; `source` names it in problems, key files
    /// are looked up in `dir`.
    pub fn from_yaml(text: &str, source: &str, dir: &Path) -> Result<TrustPolicy, ConfigError> {
        let doc = Document::parse(text, source);
        let policy = doc
            .root("a trust policy with `mode` and `keys`")
            .and_then(|root| top(&root, dir));
        let (policy, warnings) = doc.finish(policy)?;
        for warning in warnings {
            tracing::warn!("{warning}");
        }
        Ok(policy)
    }
}

fn top(root: &Node<'_>, dir: &Path) -> Option<TrustPolicy> {
    let mut map = root.map()?;
    let mode: Option<TrustMode> = map.required("mode");
    let mut keys = Vec::new();
    if let Some(node) = map.value("keys") {
        for item in node.items().unwrap_or_default() {
            if let Some(key) = key(&item, dir) {
                keys.push(key);
            }
        }
    }
    map.finish();
    if mode == Some(TrustMode::Enforce) && keys.is_empty() {
        root.invalid("mode `enforce` with no keys refuses every advert; list `keys`");
    }
    Some(TrustPolicy::new(mode?, keys))
}

fn key(item: &Node<'_>, dir: &Path) -> Option<TrustedKey> {
    let mut map = item.map()?.describe_as(format!("`{}`", item.key()));
    let name: Option<String> = map.required("name");
    let public = map.required_node("public", Some("public: imu_team.pub"));
    let producers = globs(&mut map, "producers");
    let topics = globs(&mut map, "topics");
    let speaks_for = globs(&mut map, "speaks_for");
    map.finish();
    let public = public.and_then(|node| public_key(&node, dir));
    let mut key = TrustedKey::new(name?, public?);
    key.producers = producers?;
    key.topics = topics?;
    key.speaks_for = speaks_for?;
    if key.producers.is_empty() && key.speaks_for.is_empty() {
        item.invalid("a key with neither `producers` nor `speaks_for` may advertise nothing");
    }
    Some(key)
}

fn globs(map: &mut vigil_diag::config::Map<'_>, key: &'static str) -> Option<Vec<Glob>> {
    match map.value(key) {
        None => Some(Vec::new()),
        Some(node) => Some(node.list::<String>()?.into_iter().map(Glob::new).collect()),
    }
}

/// A key file next to the trust file, else the key itself in base64.
fn public_key(node: &Node<'_>, dir: &Path) -> Option<PublicKey> {
    let text: String = node.get()?;
    let file = dir.join(&text);
    let parsed = if file.is_file() {
        match std::fs::read_to_string(&file) {
            Ok(contents) => PublicKey::parse(&contents, &file.display().to_string()),
            Err(e) => {
                node.invalid(format!("cannot read {}: {e}", file.display()));
                return None;
            }
        }
    } else {
        match PublicKey::parse(&text, "the base64 key") {
            // Base64 may contain `/`: only a name that is not a key is
            // reported as a missing file.
            Err(_) if text.ends_with(".pub") || text.ends_with(".pem") => {
                node.invalid(format!(
                    "no key file {} (a key is a file written by `vigil keygen` or 32 bytes in base64)",
                    file.display()
                ));
                return None;
            }
            parsed => parsed,
        }
    };
    match parsed {
        Ok(key) => Some(key),
        Err(e) => {
            node.invalid(e.to_string());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::KeyPair;

    #[test]
    fn the_issue_example_reads_with_files_and_base64() {
        let dir = std::env::temp_dir().join(format!("vigil-trust-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let imu = KeyPair::from_seed([1; 32]).public();
        let sup = KeyPair::from_seed([2; 32]).public();
        std::fs::write(dir.join("imu_team.pub"), imu.to_pem().unwrap()).unwrap();
        let text = format!(
            "mode: enforce\nkeys:\n  - name: imu_team\n    public: imu_team.pub\n    producers: [\"imu_*\"]\n    topics: [imu]\n  - name: supervisor\n    public: {sup}\n    speaks_for: [\"*\"]\n"
        );
        let policy = TrustPolicy::from_yaml(&text, "trust.yaml", &dir).unwrap();
        assert_eq!(policy.mode, TrustMode::Enforce);
        assert_eq!(policy.keys.len(), 2);
        assert_eq!(policy.keys[0].key, imu);
        assert_eq!(policy.keys[1].key, sup);
        assert!(policy.check(Some(&imu), "imu_a", Some("imu")).is_ok());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn every_problem_with_its_line() {
        let text =
            "mode: enfroce\nkeys:\n  - name: a\n    public: missing.pub\n    producer: [x]\n";
        let e = TrustPolicy::from_yaml(text, "t.yaml", Path::new("/nonexistent"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.yaml:1: mode:"), "{e}");
        assert!(e.contains("did you mean `enforce`"), "{e}");
        assert!(e.contains("t.yaml:4: keys[0].public: no key file"), "{e}");
        assert!(
            e.contains("t.yaml:5:") && e.contains("did you mean `producers`"),
            "{e}"
        );
    }
}
