//! Shared harness of the end-to-end tests: `vigil` child processes whose
//! JSON lines are read on threads, killed when dropped.
//!
//! Every test uses its own DDS domain, so tests running in parallel never
//! hear each other. Waits are on events with generous limits: on a loaded
//! 2-core machine things get slower, never wrong.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod hosts;

/// How long to wait for anything that should happen "soon".
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Leases in tests are longer than the 100 ms default so that a heartbeat
/// delayed on a busy machine does not look like a crash.
pub const TEST_LEASE_MS: &str = "300";

/// The vigil binary under test.
pub fn vigil() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
}

/// A running `vigil` process.
pub struct Proc {
    pub name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Value>,
    /// Every JSON line read so far, for assertions and failure messages.
    pub seen: Vec<Value>,
    stderr: Arc<Mutex<String>>,
}

impl Proc {
    /// Starts `vigil ARGS`, reading its stdout as JSON lines.
    pub fn spawn(name: &str, args: &[&str]) -> Proc {
        let mut command = vigil();
        command.args(args);
        Proc::spawn_command(name, command)
    }

    /// Starts a third-party peer: `SCRIPT ARGS` from `tests/peers/` with the
    /// Python of the peers' virtualenv (`scripts/peers` installs it; a
    /// missing one fails the test, it is never skipped). `env` is added to
    /// the child's environment.
    pub fn python_peer(name: &str, script: &str, args: &[&str], env: &[(&str, &str)]) -> Proc {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = std::env::var_os("VIGIL_PEERS_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/peers-venv/bin/python"));
        assert!(
            python.exists(),
            "{name}: the interop peers are not installed ({} missing): run scripts/peers",
            python.display()
        );
        let mut command = Command::new(python);
        command
            .arg("-u")
            .arg(root.join("tests/peers").join(script))
            .args(args)
            .envs(env.iter().copied());
        Proc::spawn_command(name, command)
    }

    /// Starts `command`, reading its stdout as JSON lines.
    pub fn spawn_command(name: &str, mut command: Command) -> Proc {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout piped");
        let stderr_pipe = child.stderr.take().expect("stderr piped");
        let (tx, lines) = channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(value) = serde_json::from_str::<Value>(&line) {
                    if tx.send(value).is_err() {
                        break;
                    }
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines() {
                let Ok(line) = line else { break };
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&line);
                    s.push('\n');
                }
            }
        });
        Proc {
            name: name.to_owned(),
            child,
            stdin,
            lines,
            seen: Vec::new(),
            stderr,
        }
    }

    /// A synthetic producer on `domain`, waited for until it is ready.
    pub fn producer(domain: u16, id: &str, caps: &[&str], extra: &[&str]) -> Proc {
        Proc::producer_with(vigil(), domain, id, caps, extra)
    }

    /// Like [`Proc::producer`], run by `command` (the vigil binary, maybe
    /// inside another host: [`hosts::Host::vigil`]).
    pub fn producer_with(
        mut command: Command,
        domain: u16,
        id: &str,
        caps: &[&str],
        extra: &[&str],
    ) -> Proc {
        let domain = domain.to_string();
        let mut args = vec![
            "produce",
            "--domain",
            &domain,
            "--topic",
            "imu",
            "--id",
            id,
            "--rate",
            "200",
            "--lease-ms",
            TEST_LEASE_MS,
            "--format",
            "json",
            "--exit-on-eof",
        ];
        for cap in caps {
            args.push("--cap");
            args.push(cap);
        }
        args.extend_from_slice(extra);
        command.args(&args);
        let mut p = Proc::spawn_command(id, command);
        p.wait_for(PATIENCE, |v| v["event"] == "ready");
        p
    }

    /// A consumer on `domain` following `query`.
    pub fn consumer(domain: u16, query: &str, extra: &[&str]) -> Proc {
        Proc::consumer_with(vigil(), domain, query, extra)
    }

    /// Like [`Proc::consumer`], run by `command`.
    pub fn consumer_with(mut command: Command, domain: u16, query: &str, extra: &[&str]) -> Proc {
        let domain = domain.to_string();
        let mut args = vec![
            "consume",
            "--domain",
            &domain,
            "--query",
            query,
            "--format",
            "json",
            "--stats-ms",
            "250",
        ];
        args.extend_from_slice(extra);
        command.args(&args);
        Proc::spawn_command("consumer", command)
    }

    /// Sends one line on stdin.
    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("write to child stdin");
        stdin.flush().expect("flush child stdin");
    }

    /// Closes stdin.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// SIGKILL.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit and returns whether it succeeded.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<bool> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.success());
            }
            thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The next JSON line matching `pred`, reading for at most `limit`.
    /// Panics with everything seen when none comes.
    pub fn wait_for(&mut self, limit: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        match self.try_wait_for(limit, pred) {
            Some(v) => v,
            None => panic!(
                "{}: no matching line within {limit:?}\nseen:\n{}\nstderr:\n{}",
                self.name,
                self.seen
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join("\n"),
                self.stderr()
            ),
        }
    }

    /// Like [`Proc::wait_for`], but a line already read (while waiting for
    /// something else) counts too: for events whose order is not fixed.
    pub fn wait_seen(&mut self, limit: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_since(0, limit, pred)
    }

    /// How many lines have been read: a mark for [`Proc::wait_since`].
    pub fn mark(&self) -> usize {
        self.seen.len()
    }

    /// The lines read after `mark`.
    pub fn seen_since(&self, mark: usize) -> &[Value] {
        self.seen.get(mark..).unwrap_or_default()
    }

    /// Like [`Proc::wait_seen`], counting only lines read after `mark`.
    pub fn wait_since(
        &mut self,
        mark: usize,
        limit: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        if let Some(v) = self.seen.iter().skip(mark).find(|v| pred(v)) {
            return v.clone();
        }
        self.wait_for(limit, pred)
    }

    /// Like [`Proc::wait_for`], `None` instead of a panic.
    pub fn try_wait_for(
        &mut self,
        limit: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if pred(&v) {
                        return Some(v);
                    }
                }
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    return None
                }
            }
        }
    }
}

impl Drop for Proc {
    /// No orphans: a failed test still kills its processes.
    fn drop(&mut self) {
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `CYCLONEDDS_URI` that makes Cyclone DDS talk to rustdds on loopback:
/// no multicast there, so unicast discovery with 127.0.0.1 as the peer
/// (REFERENCES.md, measured facts).
pub const CYCLONE_LOOPBACK: &str = "<General><Interfaces><NetworkInterface name=\"lo\"/></Interfaces>\
<AllowMulticast>false</AllowMulticast></General><Discovery><ParticipantIndex>auto</ParticipantIndex>\
<MaxAutoParticipantIndex>20</MaxAutoParticipantIndex><Peers><Peer address=\"127.0.0.1\"/></Peers></Discovery>";

/// A free TCP port on 127.0.0.1 (for a Zenoh endpoint).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port on 127.0.0.1: {e}"))
}

/// `GET path` on 127.0.0.1:port (HTTP/1.0, so the server closes); the
/// body, `None` when nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, body)| body.to_owned())
}

/// Runs `vigil ARGS` to completion: its exit code (-1 for a signal), the
/// lines of its stdout that are JSON, and its stderr.
pub fn vigil_json<I, S>(args: I) -> (i32, Vec<Value>, String)
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = vigil().args(args).output().expect("vigil runs");
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (
        out.status.code().unwrap_or(-1),
        lines,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `vigil replay --format json FILE` must reproduce every decision (exit
/// 0); its last line, the summary.
pub fn replay_summary(recording: &Path) -> Value {
    let replay = vigil()
        .arg("replay")
        .arg(recording)
        .args(["--format", "json"])
        .output()
        .expect("vigil replay runs");
    assert_eq!(replay.status.code(), Some(0), "{replay:?}");
    String::from_utf8_lossy(&replay.stdout)
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_default()
}

/// A `selected` line naming `producer`.
pub fn selected(v: &Value, producer: &str) -> bool {
    v["event"] == "selected" && v["producer"] == producer
}

/// Unix seconds of a line.
pub fn t(v: &Value) -> f64 {
    v["t"].as_f64().unwrap_or(f64::NAN)
}

/// Sends SIGTERM (a clean stop: the consumer prints its summary).
pub fn terminate(p: &Proc) {
    let _ = Command::new("kill")
        .args(["-TERM", &p.pid().to_string()])
        .status();
}

/// Prints n, median, p99, max and min of `xs` (milliseconds), as the
/// harnesses under benches/ report.
pub fn report(what: &str, xs: &mut [f64]) {
    if xs.is_empty() {
        println!("{what}: no samples");
        return;
    }
    xs.sort_by(f64::total_cmp);
    let at = |q: f64| xs[((xs.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{what}: n={} median={:.1} ms p99={:.1} ms max={:.1} ms min={:.1} ms",
        xs.len(),
        at(0.5),
        at(0.99),
        xs[xs.len() - 1],
        xs[0]
    );
}

/// Now, Unix seconds (the `t` clock of the JSON lines).
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Command lines of running `vigil produce` processes on `domain`.
///
/// Panics when there is no `/proc` to look in: an orphan check that cannot
/// look must not pass as "no orphans" (issue 15).
pub fn producers_on(domain: u16) -> Vec<String> {
    let mut found = Vec::new();
    let dir = std::fs::read_dir("/proc").unwrap_or_else(|e| {
        panic!(
            "cannot list /proc ({e}): this orphan check needs a Linux /proc to look for producers"
        )
    });
    // Our own command line is there too: a /proc that shows no process at
    // all (an empty or foreign mount) cannot prove an absence either.
    let own = std::path::Path::new("/proc/self/cmdline");
    assert!(
        std::fs::read(own).is_ok_and(|c| !c.is_empty()),
        "/proc/self/cmdline is unreadable: this orphan check cannot see processes"
    );
    for entry in dir.flatten() {
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = raw
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let on_domain = args
            .windows(2)
            .any(|w| w[0] == "--domain" && w[1] == domain.to_string());
        if args.iter().any(|a| a == "produce") && on_domain {
            found.push(args.join(" "));
        }
    }
    found
}

/// `vigil keygen --out DIR/NAME`, checked (the private key readable by
/// its owner only, the public key beside it): the private key's path.
pub fn keygen(dir: &Path, name: &str) -> String {
    let prefix = dir.join(name);
    let out = vigil()
        .args(["keygen", "--out", &prefix.display().to_string()])
        .output()
        .expect("vigil keygen runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = dir.join(format!("{name}.key"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the private key is readable by its owner only");
    assert!(dir.join(format!("{name}.pub")).is_file());
    key.display().to_string()
}
