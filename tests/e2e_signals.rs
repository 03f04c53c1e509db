//! Issue 18: every long-running command stops on SIGTERM and on SIGINT
//! within a bound, with exit status 0, whatever holds its stdin open: a
//! pipe, a FIFO or a terminal (a pseudo-terminal here). And a producer's
//! advert is withdrawn when it stops, so a watcher sees it leave at once,
//! not after its lease.
//!
//! The pseudo-terminal comes from Python's `os.openpty` (no new crate): a
//! one-line launcher puts the slave on fd 0, keeps the master open by
//! inheritance and execs vigil, so the process signalled is vigil itself.
//!
//! Domains 70-77, one per test. The bound is 5 s (the issue asks for 2 s;
//! the slack is for a loaded 2-core machine); the measured times are
//! printed (`--nocapture`).

mod support;

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use support::PATIENCE;

/// How long a stopped command may take to exit.
const BOUND: Duration = Duration::from_secs(5);

/// What holds the command's stdin open.
#[derive(Clone, Copy, Debug)]
enum Stdin {
    Pipe,
    Fifo,
    Pty,
}

const STDINS: [Stdin; 3] = [Stdin::Pipe, Stdin::Fifo, Stdin::Pty];

#[derive(Clone, Copy, Debug)]
enum Signal {
    Term,
    Int,
}

impl Signal {
    fn flag(self) -> &'static str {
        match self {
            Signal::Term => "-TERM",
            Signal::Int => "-INT",
        }
    }
}

const SIGNALS: [Signal; 2] = [Signal::Term, Signal::Int];

/// A `vigil` child whose stdin is held open by this test.
struct Running {
    what: String,
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: PathBuf,
    /// The other end of the stdin: dropped only with the process.
    _held: Option<Box<dyn std::any::Any>>,
    _dir: tempfile::TempDir,
}

impl Running {
    fn start(what: &str, args: &[&str], stdin: Stdin) -> Running {
        let dir = tempfile::tempdir().expect("temporary directory");
        let stderr_path = dir.path().join("stderr");
        let stderr = File::create(&stderr_path).expect("stderr file");
        let vigil = env!("CARGO_BIN_EXE_vigil");
        let (mut command, held): (Command, Option<Box<dyn std::any::Any>>) = match stdin {
            Stdin::Pipe => {
                let mut command = Command::new(vigil);
                command.args(args).stdin(Stdio::piped());
                (command, None)
            }
            Stdin::Fifo => {
                let fifo = dir.path().join("stdin.fifo");
                let made = Command::new("mkfifo").arg(&fifo).status();
                assert!(matches!(made, Ok(s) if s.success()), "mkfifo: {made:?}");
                // Read-write does not block on Linux and counts as a writer,
                // so the child's read-only open does not block either and
                // its reads never see the end of input.
                let writer = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&fifo)
                    .expect("open the FIFO");
                let reader = File::open(&fifo).expect("open the FIFO to read");
                let mut command = Command::new(vigil);
                command.args(args).stdin(Stdio::from(reader));
                (command, Some(Box::new(writer)))
            }
            Stdin::Pty => {
                let launcher = "import os, sys\n\
                    master, slave = os.openpty()\n\
                    os.set_inheritable(master, True)\n\
                    os.dup2(slave, 0)\n\
                    os.close(slave)\n\
                    os.execv(sys.argv[1], sys.argv[1:])\n";
                let mut command = Command::new("python3");
                command
                    .args(["-c", launcher, vigil])
                    .args(args)
                    .stdin(Stdio::null());
                (command, None)
            }
        };
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        // Held open until the process is gone.
        let held = held.or_else(|| {
            child
                .stdin
                .take()
                .map(|s| Box::new(s) as Box<dyn std::any::Any>)
        });
        let stdout = child.stdout.take().expect("stdout piped");
        let (tx, lines) = channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            what: format!("{what} (stdin on a {stdin:?})"),
            child,
            lines,
            seen: Vec::new(),
            stderr: stderr_path,
            _held: held,
            _dir: dir,
        }
    }

    /// Waits for a stdout line containing `needle`.
    fn wait_line(&mut self, needle: &str) {
        let deadline = Instant::now() + PATIENCE;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(needle);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "{}: no line with `{needle}` within {PATIENCE:?}\nstdout:\n{}\nstderr:\n{}",
            self.what,
            self.seen.join("\n"),
            self.stderr()
        );
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Sends `signal` and measures how long the process takes to exit;
    /// panics if it outlives [`BOUND`] or exits with a status other than 0.
    fn stop(mut self, signal: Signal) -> Duration {
        let sent = Instant::now();
        let status = Command::new("kill")
            .args([signal.flag(), &self.child.id().to_string()])
            .status();
        assert!(matches!(status, Ok(s) if s.success()), "kill: {status:?}");
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the child") {
                let took = sent.elapsed();
                assert!(
                    status.success(),
                    "{}: {signal:?} gave {status}, not 0\nstderr:\n{}",
                    self.what,
                    self.stderr()
                );
                return took;
            }
            if sent.elapsed() > BOUND {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "{}: still running {BOUND:?} after {signal:?}\nstderr:\n{}",
                    self.what,
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `args` with each stdin and each signal, waiting for a line with
/// `ready` before signalling, and prints the times.
fn stops_on_every_signal(what: &str, args: &[&str], ready: &str) {
    let mut times = Vec::new();
    for stdin in STDINS {
        for signal in SIGNALS {
            let mut running = Running::start(what, args, stdin);
            running.wait_line(ready);
            let took = running.stop(signal);
            times.push(format!("{stdin:?}/{signal:?} {} ms", took.as_millis()));
        }
    }
    println!("{what}: exit after the signal: {}", times.join(", "));
}

#[test]
fn produce_stops_on_sigterm_and_sigint_with_stdin_held_open() {
    stops_on_every_signal(
        "produce",
        &[
            "produce", "--domain", "70", "--topic", "imu", "--id", "t2", "--rate", "1", "--format",
            "json",
        ],
        "\"event\":\"ready\"",
    );
}

#[test]
fn consume_stops_on_sigterm_and_sigint_with_stdin_held_open() {
    stops_on_every_signal(
        "consume",
        &[
            "consume",
            "--domain",
            "71",
            "--query",
            "imu WHERE health.state = OK",
            "--format",
            "json",
            "--stats-ms",
            "200",
        ],
        "\"event\":\"stats\"",
    );
}

#[test]
fn monitor_stops_on_sigterm_and_sigint_with_stdin_held_open() {
    stops_on_every_signal(
        "monitor",
        &[
            "monitor",
            "--domain",
            "72",
            "--format",
            "json",
            "--interval-ms",
            "200",
        ],
        "\"adverts\"",
    );
}

#[test]
fn demo_stops_on_sigterm_and_sigint_with_stdin_held_open() {
    // Text: its first line comes once the producers are up.
    stops_on_every_signal(
        "demo",
        &["demo", "--domain", "73", "--lease-ms", "300"],
        "started imu_c",
    );
}

/// A config file in a directory that lives as long as the test.
fn config_file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write the config");
    (dir, path)
}

fn utf8(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn agent_stops_on_sigterm_and_sigint_with_stdin_held_open() {
    let (_dir, config) = config_file(
        "agent.yaml",
        "topics:\n  - topic: /imu/data\n    type: sensor_msgs/msg/Imu\n    \
         relay:\n      topic: /imu/data/best\n      query: WHERE health.state = OK\n",
    );
    stops_on_every_signal(
        "agent",
        &[
            "agent",
            "--config",
            utf8(&config),
            "--domain",
            "74",
            "--format",
            "json",
        ],
        "\"event\":\"ready\"",
    );
}

#[test]
fn supervise_stops_on_sigterm_and_sigint_with_stdin_held_open() {
    // One child that would outlive the test: the supervisor must stop it
    // and still exit 0 within the bound.
    let (_dir, config) = config_file(
        "supervise.yaml",
        "children:\n  - id: sleeper\n    command: [sleep, \"60\"]\n    shutdown: 1s\n",
    );
    stops_on_every_signal(
        "supervise",
        &[
            "supervise",
            "--config",
            utf8(&config),
            "--domain",
            "77",
            "--format",
            "json",
        ],
        "\"event\":\"started\"",
    );
}

#[cfg(feature = "zenoh")]
#[test]
fn bridge_zenoh_stops_on_sigterm_and_sigint_with_stdin_held_open() {
    let port = support::free_port();
    let (_dir, config) = config_file(
        "bridge.yaml",
        &format!(
            "zenoh:\n  mode: peer\n  listen: [tcp/127.0.0.1:{port}]\n  \
             multicast_scouting: false\n  key_prefix: vigil\n\
             topics:\n  - topic: imu\n    type: vigil::demo::Sample_v1\n    keyed: true\n"
        ),
    );
    stops_on_every_signal(
        "bridge zenoh",
        &[
            "bridge",
            "zenoh",
            "--config",
            utf8(&config),
            "--domain",
            "75",
            "--format",
            "json",
        ],
        "\"event\":\"ready\"",
    );
}

/// The producer's advert is disposed when it is stopped: with a 10 s lease,
/// only the withdrawal can make it leave the consumer's view within 3 s.
#[test]
fn a_stopped_producer_leaves_at_once_not_after_its_lease() {
    let domain = "76";
    let mut consumer = support::Proc::consumer(76, "imu WHERE health.state = OK", &[]);
    let mut producer = Running::start(
        "produce",
        &[
            "produce",
            "--domain",
            domain,
            "--topic",
            "imu",
            "--id",
            "leaving",
            "--rate",
            "50",
            "--lease-ms",
            "10000",
            "--format",
            "json",
        ],
        Stdin::Pipe,
    );
    producer.wait_line("\"event\":\"ready\"");
    consumer.wait_for(PATIENCE, |v| support::selected(v, "leaving"));
    let sent = support::unix_now();
    let took = producer.stop(Signal::Term);
    let gone = consumer.wait_for(PATIENCE, |v| {
        v["event"] == "selected" && v["previous"] == "leaving" && v["producer"].is_null()
    });
    let left = Duration::from_secs_f64((support::t(&gone) - sent).max(0.0));
    println!(
        "withdrawal: producer exited {} ms after SIGTERM, the consumer saw it leave after {} ms \
         ({})",
        took.as_millis(),
        left.as_millis(),
        gone["cause"]
    );
    assert!(
        left < Duration::from_secs(3),
        "the consumer saw the producer leave {left:?} after SIGTERM: the lease (10 s), not the \
         withdrawal"
    );
}
