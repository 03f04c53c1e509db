//! zenohd for the plugin's tests and benches (issue 16): the router
//! `scripts/zenohd` builds, the plugin library built beside the `vigil`
//! binary, a router config that loads it, the running router, and Python
//! Zenoh clients of it that ask its admin space.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Proc, PATIENCE};

/// The router under test: `VIGIL_ZENOHD`, else `target/zenohd/bin/zenohd`.
pub fn zenohd() -> PathBuf {
    let path = std::env::var_os("VIGIL_ZENOHD")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/zenohd/bin/zenohd"));
    assert!(
        path.exists(),
        "no zenohd at {}: run scripts/zenohd (scripts/test does)",
        path.display()
    );
    path
}

/// The plugin library built beside the `vigil` binary under test.
pub fn plugin() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_vigil"))
        .parent()
        .expect("the binary's directory");
    let path = dir.join("libzenoh_plugin_vigil.so");
    assert!(
        path.exists(),
        "no plugin at {}: run `cargo build -p zenoh-plugin-vigil --all-features` (scripts/test does)",
        path.display()
    );
    path
}

/// A zenohd config: a router on `port`, no scouting, the plugin at
/// `library` with `section` (JSON5 object text) as its config.
pub fn router_config(dir: &Path, port: u16, library: &Path, section: &str) -> PathBuf {
    let text = format!(
        r#"{{
  mode: "router",
  listen: {{ endpoints: ["tcp/127.0.0.1:{port}"] }},
  scouting: {{ multicast: {{ enabled: false }}, gossip: {{ enabled: false }} }},
  plugins_loading: {{ enabled: true }},
  plugins: {{
    vigil: {{
      __path__: ["{library}"],
      __required__: true,
      {section}
    }},
  }},
}}
"#,
        library = library.display()
    );
    let path = dir.join("zenohd.json5");
    std::fs::write(&path, text).expect("write the router config");
    path
}

/// A running zenohd, its output in a file (it logs text, not JSON).
pub struct Router {
    child: Child,
    log: PathBuf,
}

impl Router {
    pub fn start(config: &Path, log: PathBuf) -> Router {
        let out = std::fs::File::create(&log).expect("router log");
        let err = out.try_clone().expect("router log");
        let child = Command::new(zenohd())
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("zenohd starts");
        Router { child, log }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its exit status once it has exited by itself within `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Python Zenoh client of the router, waited for until ready.
pub fn client(name: &str, port: u16) -> Proc {
    let endpoint = format!("tcp/127.0.0.1:{port}");
    let mut peer = Proc::python_peer(name, "zenoh_peer.py", &["--connect", &endpoint], &[]);
    peer.wait_for(PATIENCE, |v| v["event"] == "ready");
    peer
}

/// Every admin reply of `selector`: key -> value.
pub fn admin(app: &mut Proc, selector: &str) -> Vec<(String, Value)> {
    let mark = app.mark();
    app.send(&format!("admin {selector}"));
    app.wait_since(mark, PATIENCE, |v| v["event"] == "admin_done");
    app.seen[mark..]
        .iter()
        .filter(|v| v["event"] == "admin" && v["key"].is_string())
        .map(|v| {
            (
                v["key"].as_str().unwrap_or_default().to_owned(),
                v["value"].clone(),
            )
        })
        .collect()
}

/// Asks the admin space until the plugin says its bridge is running.
pub fn wait_running(app: &mut Proc, router: &Router) -> Value {
    wait_status(app, router, |status| status["state"] == "running")
}

/// Asks the plugin's status (`@/*/vigil/status`) until `pred` holds: the
/// bridge reports what it did after it did it, so a status is waited for,
/// never assumed.
pub fn wait_status(app: &mut Proc, router: &Router, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let replies = admin(app, "@/*/vigil/status");
        if let Some((_, status)) = replies.iter().find(|(_, v)| pred(v)) {
            return status.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the plugin's status never said so: {replies:?}\nzenohd log:\n{}",
            router.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
