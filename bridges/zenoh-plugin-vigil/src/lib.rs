//! vigil's Zenoh bridge as a zenohd plugin: a Zenoh router loads
//! `libzenoh_plugin_vigil.so` and runs the bridge in its own session,
//! configured under `plugins/vigil` in the router's config with the keys
//! of `vigil bridge zenoh` (plus `domain`, which that command takes as a
//! flag), its status in the router's admin space (`@/<zid>/vigil/**`).
//!
//! ```json5
//! plugins_loading: { enabled: true, search_dirs: ["target/debug"] },
//! plugins: {
//!   vigil: {
//!     __required__: true,       // zenohd exits if the plugin cannot start
//!     domain: 0,
//!     zenoh: { key_prefix: "vigil" },
//!     topics: [{ topic: "imu", type: "vigil::demo::Sample_v1", keyed: true }],
//!     follow: [{ key: "imu_best", query: "imu WHERE health.state = OK" }],
//!   },
//! },
//! ```
//!
//! # Versions
//!
//! A dynamic plugin shares Rust types with the router: zenohd loads it only
//! if it was built by the same rustc from the same Zenoh with the same
//! Zenoh features, and refuses it otherwise with both sides named
//! (`Incompatible rustc versions: host: ... plugin: ...`). What this one
//! was built for is [`PluginInfo::current`]: `vigil bridge zenoh
//! --plugin-info` prints it, `@/<zid>/vigil/version` answers it.
//!
//! # Limits
//!
//! - zenohd 1.10 exits on SIGTERM without stopping its plugins: the
//!   bridge's proxies of Zenoh producers are then not disposed on DDS, and
//!   DDS consumers see them go when their lease ends (as for a killed
//!   `vigil bridge zenoh`). A plugin the router stops is stopped cleanly.
//! - Problems in `plugins/vigil` name a line of the section written out as
//!   JSON (the router hands over a value, not its file), and their key.
//!
//! # Layout
//!
//! - `config`: the router's `plugins/vigil` value, read by the bridge's
//!   own config reader.
//! - `admin`: the status in the admin space.
//! - this file: the plugin (loader entry points, start, stop).

#![deny(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;
use vigil_bridges::zenoh::{BridgeEvent, PluginInfo, PLUGIN_NAME};
use vigil_discovery::VigilParticipant;
use zenoh::internal::plugins::{Response, RunningPlugin, RunningPluginTrait, ZenohPlugin};
use zenoh::internal::runtime::DynamicRuntime;
use zenoh::key_expr::KeyExpr;
use zenoh::Wait;
use zenoh_plugin_trait::{plugin_version, Plugin, PluginControl};

mod admin;
mod config;

use admin::{Admin, Status};

/// The plugin zenohd loads (by the name `vigil`).
#[derive(Debug)]
pub struct VigilPlugin;

// The loader's entry points (`get_plugin_loader_version`,
// `get_compatibility`, `load_plugin`): unmangled symbols, which the
// `unsafe_code` lint flags; the macro is zenoh-plugin-trait's own.
#[cfg(feature = "dynamic_plugin")]
#[allow(unsafe_code)]
mod entry {
    zenoh_plugin_trait::declare_plugin!(super::VigilPlugin);
}

impl ZenohPlugin for VigilPlugin {}

impl Plugin for VigilPlugin {
    type StartArgs = DynamicRuntime;
    type Instance = RunningPlugin;

    const DEFAULT_NAME: &'static str = PLUGIN_NAME;
    const PLUGIN_VERSION: &'static str = plugin_version!();
    const PLUGIN_LONG_VERSION: &'static str = concat!("v", env!("CARGO_PKG_VERSION"));

    fn start(name: &str, runtime: &DynamicRuntime) -> zenoh::Result<RunningPlugin> {
        zenoh::try_init_log_from_env();
        let value = runtime.get_config().get_plugin_config(name)?;
        let config = config::parse(&value).map_err(|e| {
            let problems: Vec<String> = e.problems.iter().map(|p| p.to_string()).collect();
            format!("vigil: bad config:\n{}", problems.join("\n"))
        })?;
        for warning in &config.bridge.warnings {
            tracing::warn!("{warning}");
        }
        let running = Running::start(config, runtime.clone())?;
        Ok(Box::new(running))
    }
}

/// How long the plugin's start waits for the bridge's session and DDS
/// participant before it reports the router a failure.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A started bridge: its thread (a tokio runtime of its own: the plugin's
/// tokio is not the router's) and what stops it.
#[derive(Debug)]
struct Running {
    admin: Admin,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Running {
    fn start(config: config::PluginConfig, runtime: DynamicRuntime) -> zenoh::Result<Running> {
        let admin = Admin::new(
            Status::starting(config.dds.domain, &config.bridge.zenoh.key_prefix),
            config.value.clone(),
        );
        let (stop, stopped) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std_mpsc::channel::<Result<(), String>>();
        let bridge_admin = admin.clone();
        let thread = std::thread::Builder::new()
            .name("vigil-bridge".into())
            .spawn(move || bridge_thread(config, runtime, bridge_admin, stopped, ready_tx))
            .map_err(|e| format!("vigil: cannot start the bridge's thread: {e}"))?;
        match ready_rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(())) => Ok(Running {
                admin,
                stop: Some(stop),
                thread: Some(thread),
            }),
            Ok(Err(error)) => {
                let _ = thread.join();
                Err(error.into())
            }
            Err(_) => Err(format!(
                "vigil: the bridge did not start within {} s",
                START_TIMEOUT.as_secs()
            )
            .into()),
        }
    }
}

/// The bridge's thread: a runtime, the session on the router's runtime,
/// the DDS participant, the admin queryable, then the bridge until `stop`.
fn bridge_thread(
    config: config::PluginConfig,
    runtime: DynamicRuntime,
    admin: Admin,
    stop: oneshot::Receiver<()>,
    ready: std_mpsc::Sender<Result<(), String>>,
) {
    // Two workers, as `vigil bridge zenoh` has: rustdds runs its own
    // threads, and routers run on small machines too.
    let tokio = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("vigil-bridge")
        .enable_all()
        .build()
    {
        Ok(tokio) => tokio,
        Err(e) => {
            let _ = ready.send(Err(format!("vigil: cannot start a tokio runtime: {e}")));
            return;
        }
    };
    tokio.block_on(async move {
        let zid = runtime.zid();
        let session = match zenoh::session::init(runtime).await {
            Ok(session) => session,
            Err(e) => {
                let _ = ready.send(Err(format!(
                    "vigil: cannot open a session on the router: {e}"
                )));
                return;
            }
        };
        let participant = match VigilParticipant::new(config.dds.clone()) {
            Ok(participant) => participant,
            Err(e) => {
                let _ = ready.send(Err(format!(
                    "vigil: cannot join DDS domain {}: {e}",
                    config.dds.domain
                )));
                return;
            }
        };
        let root = format!("@/{zid}/{PLUGIN_NAME}");
        let answers = admin.clone();
        let queryable = session
            .declare_queryable(format!("{root}/**"))
            .callback(move |query| {
                for (key, value) in answers.entries(&root) {
                    let Ok(ke) = KeyExpr::try_from(key.as_str()) else {
                        continue;
                    };
                    if query.key_expr().intersects(&ke) {
                        if let Err(e) = query.reply(ke, value.to_string()).wait() {
                            tracing::warn!(%e, "vigil: admin space reply not sent");
                        }
                    }
                }
            })
            .await;
        let _queryable = match queryable {
            Ok(queryable) => queryable,
            Err(e) => {
                let _ = ready.send(Err(format!("vigil: cannot declare the admin space: {e}")));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        let sink_admin = admin.clone();
        let sink = move |event: BridgeEvent| {
            tracing::info!("vigil: {event}");
            sink_admin.update(|status| status.apply(&event));
        };
        let shutdown = async move {
            let _ = stop.await;
        };
        let outcome = vigil_bridges::zenoh::run_in_session(
            config.bridge,
            session,
            participant,
            None,
            // Signing and a trust policy are `vigil bridge zenoh`'s flags;
            // the plugin's config has no keys for them yet.
            vigil_bridges::zenoh::BridgeTrust::default(),
            shutdown,
            sink,
        )
        .await;
        if let Err(e) = outcome {
            tracing::error!("vigil: the bridge stopped: {e}");
            admin.update(|status| status.failed(e.to_string()));
        }
    });
}

impl Drop for Running {
    /// The router stops the plugin (or itself): the bridge withdraws what
    /// it advertised, then its thread ends.
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl PluginControl for Running {}

impl RunningPluginTrait for Running {
    /// Also under the router's own plugin status
    /// (`@/<zid>/router/status/plugins/vigil/...`), as zenohd lists
    /// plugins.
    fn adminspace_getter<'a>(
        &'a self,
        key_expr: &'a KeyExpr<'a>,
        plugin_status_key: &str,
    ) -> zenoh::Result<Vec<Response>> {
        let mut out = Vec::new();
        for (key, value) in self.admin.entries(plugin_status_key) {
            if let Ok(ke) = KeyExpr::try_from(key.as_str()) {
                if key_expr.intersects(&ke) {
                    out.push(Response::new(key, value));
                }
            }
        }
        Ok(out)
    }
}

/// What this plugin was built for (the loader checks it before anything
/// else), as `vigil bridge zenoh --plugin-info` prints it.
pub fn plugin_info() -> PluginInfo {
    PluginInfo::current()
}

#[cfg(test)]
mod tests {
    use zenoh_plugin_trait::{Compatibility, StructVersion};

    use super::*;

    /// What `--plugin-info` prints is what the loader compares.
    #[test]
    fn the_stated_versions_are_the_loaders() {
        let loader = Compatibility::new(
            DynamicRuntime::struct_version(),
            DynamicRuntime::struct_features(),
        )
        .to_string();
        let info = plugin_info();
        assert!(loader.contains(&info.rust), "{loader} vs {info}");
        assert!(loader.contains(info.zenoh), "{loader} vs {info}");
        assert!(loader.contains(info.zenoh_features), "{loader} vs {info}");
    }
}
