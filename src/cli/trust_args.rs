//! `--key FILE` and `--trust FILE` (issue 13), the trust file's reload on
//! SIGHUP or change, the report of refused adverts, and `vigil keygen`.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use clap::Args;
use serde_json::json;
use vigil_discovery::{KeyPair, PolicySlot, Refusal, RefusalFeed, TrustPolicy};

use super::dds_args::{unix_seconds, Format};
use super::InputError;

/// `--key FILE`: the private key that signs what this process advertises.
#[derive(Debug, Default, Args)]
pub(crate) struct KeyArgs {
    /// Sign adverts and heartbeats with this private key (a `.key` file
    /// written by `vigil keygen`). Default: unsigned. `vigil produce`
    /// reads it again on SIGHUP and when the file changes: a key rotation
    /// that keeps every route (allow the new key in the consumers' trust
    /// file first).
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
}

impl KeyArgs {
    /// The key, read and checked before anything starts.
    pub(crate) fn load(&self) -> Result<Option<KeyPair>, InputError> {
        let Some(path) = &self.key else {
            return Ok(None);
        };
        read_key(path).map(Some).map_err(InputError)
    }

    /// Reads the key file again on SIGHUP and when it changes (checked
    /// every second) and hands the new key to `rotate`: a key rotation
    /// without a restart (replace the file whole: write aside, rename). A
    /// file that no longer reads keeps the key in force, loudly. Call
    /// inside a tokio runtime.
    pub(crate) fn watch(&self, rotate: impl Fn(KeyPair) -> Result<(), String> + Send + 'static) {
        if let Some(path) = self.key.clone() {
            watch_file(path, "signing key", read_key, rotate);
        }
    }
}

fn read_key(path: &Path) -> Result<KeyPair, String> {
    let what = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("--key {what}: {e}"))?;
    KeyPair::from_pem(&text, &what).map_err(|e| format!("--key {e}"))
}

/// `--trust FILE`: the trust policy applied to what this process hears.
#[derive(Debug, Default, Args)]
pub(crate) struct TrustArgs {
    /// Apply this trust policy (YAML: `mode` off|warn|enforce and `keys`)
    /// to the adverts and heartbeats heard; reloaded on SIGHUP and when
    /// the file changes. Default: mode off.
    #[arg(long, value_name = "FILE")]
    trust: Option<PathBuf>,
}

impl TrustArgs {
    /// The policy, read and checked before anything starts.
    pub(crate) fn load(&self) -> Result<Option<TrustPolicy>, InputError> {
        self.trust
            .as_deref()
            .map(|path| TrustPolicy::load(path).map_err(|e| InputError(e.to_string())))
            .transpose()
    }

    /// Reloads the policy into `slot` on SIGHUP and when the file's
    /// modification time changes (checked every second); a file that no
    /// longer reads keeps the policy in force, loudly. Held adverts and
    /// routes are untouched. Call inside a tokio runtime.
    pub(crate) fn watch(&self, slot: PolicySlot) {
        if let Some(path) = self.trust.clone() {
            watch_file(
                path,
                "trust policy",
                |p| TrustPolicy::load(p).map_err(|e| e.to_string()),
                move |policy| {
                    slot.set(policy);
                    Ok(())
                },
            );
        }
    }
}

/// Calls `apply` with what `load` makes of the file at `path` on SIGHUP
/// and whenever its modification time changes (checked every second). A
/// file that no longer reads, or that `apply` refuses, changes nothing,
/// loudly: what is in force stays. Call inside a tokio runtime.
fn watch_file<T: Send + 'static>(
    path: PathBuf,
    what: &'static str,
    load: impl Fn(&Path) -> Result<T, String> + Send + 'static,
    apply: impl Fn(T) -> Result<(), String> + Send + 'static,
) {
    tokio::spawn(async move {
        let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        {
            Ok(s) => Some(s),
            Err(error) => {
                tracing::warn!(%error, what, "no SIGHUP reload");
                None
            }
        };
        let mut seen = modified(&path);
        let mut poll = tokio::time::interval(Duration::from_secs(1));
        loop {
            let hup = async {
                match hangup.as_mut() {
                    Some(s) => s.recv().await,
                    None => std::future::pending().await,
                }
            };
            let why = tokio::select! {
                _ = hup => "SIGHUP",
                _ = poll.tick() => {
                    let now = modified(&path);
                    if now == seen { continue; }
                    seen = now;
                    "file changed"
                }
            };
            match load(&path).and_then(&apply) {
                Ok(()) => tracing::info!(file = %path.display(), why, what, "reloaded"),
                Err(error) => tracing::error!(file = %path.display(), why, what, %error,
                    "not reloaded; what is in force stays"),
            }
        }
    });
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Prints the registry's refusals as they come, at most once per producer
/// and reason per second: `{"event":"refused","producer":ID,"reason":...}`.
pub(crate) fn report_refusals(feed: RefusalFeed, format: Format) {
    tokio::spawn(async move {
        let mut last: HashMap<(String, Refusal), Instant> = HashMap::new();
        let mut poll = tokio::time::interval(Duration::from_millis(100));
        loop {
            poll.tick().await;
            let now = Instant::now();
            for note in feed.take() {
                let key = (note.producer, note.reason);
                if last
                    .get(&key)
                    .is_some_and(|at| now.duration_since(*at) < Duration::from_secs(1))
                {
                    continue;
                }
                let line = match format {
                    Format::Json => json!({
                        "t": unix_seconds(),
                        "event": "refused",
                        "producer": key.0,
                        "reason": key.1.as_str(),
                    })
                    .to_string(),
                    Format::Text => format!("refused: {} ({})", key.0, key.1),
                };
                println!("{line}");
                last.insert(key, now);
            }
            last.retain(|_, at| now.duration_since(*at) < Duration::from_secs(1));
        }
    });
}

/// Write a new Ed25519 key pair: PREFIX.key (private, PKCS#8 PEM, mode
/// 0600) and PREFIX.pub (public, SPKI PEM, for trust files).
#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Where to write: PREFIX.key and PREFIX.pub. Existing files are not
    /// overwritten.
    #[arg(long, value_name = "PREFIX")]
    out: PathBuf,
}

pub(crate) fn keygen(args: KeygenArgs) -> anyhow::Result<ExitCode> {
    let prefix = args.out.display().to_string();
    let (key_path, pub_path) = (
        PathBuf::from(format!("{prefix}.key")),
        PathBuf::from(format!("{prefix}.pub")),
    );
    let pair = KeyPair::generate()?;
    let private = pair.to_pem()?;
    let public = pair.public().to_pem()?;
    write_new(&key_path, private.as_bytes(), 0o600)?;
    write_new(&pub_path, public.as_bytes(), 0o644)?;
    println!(
        "wrote {} and {} (public key {})",
        key_path.display(),
        pub_path.display(),
        pair.public()
    );
    Ok(ExitCode::SUCCESS)
}

/// Creates `path` with `mode` from the start (a private key is never
/// readable by others, not even for a moment); refuses to overwrite.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), InputError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| InputError(format!("{}: {e}", path.display())))?;
    file.write_all(bytes)
        .map_err(|e| InputError(format!("{}: {e}", path.display())))
}
