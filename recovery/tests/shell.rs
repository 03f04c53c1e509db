//! The process shell with real processes: exits seen at once, restarts in
//! order, notify readiness and watchdogs, stops in reverse order.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vigil_recovery::{load_config_str, run, Action, Outcome, ShellConfig, ShellEvent, Supervisor};

/// Runs the config until it ends or `stop_after` passes; returns the
/// outcome and the event lines with their time in ms since start.
async fn supervise(yaml: &str, stop_after: Duration) -> (Outcome, Vec<(u128, String)>) {
    let spec = load_config_str(yaml).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let config = ShellConfig {
        socket_dir: dir.path().join("sockets"),
        env: Vec::new(),
        guardian: None,
        tick: None,
    };
    let start = Instant::now();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let outcome = run(
        Supervisor::new(spec).with_seed(1),
        config,
        tokio::time::sleep(stop_after),
        move |sup, event| {
            let line = match event {
                ShellEvent::Started { child, .. } => format!("started {}", sup.child(child).id),
                ShellEvent::Exited { child, exit, .. } => {
                    format!("exited {} {exit}", sup.child(child).id)
                }
                ShellEvent::Tick => return,
                ShellEvent::Status { child, text } => {
                    format!("status {} {text}", sup.child(child).id)
                }
                ShellEvent::Decision(action) => match action {
                    Action::Restarting { member, .. } => {
                        format!("restarting {}", sup.member_name(*member))
                    }
                    Action::Hung(c, _) => format!("hung {}", sup.child(*c).id),
                    Action::Stopped(c) => format!("stopped {}", sup.child(*c).id),
                    Action::Escalated(g) => format!("escalated {}", sup.group_name(*g)),
                    Action::GiveUp => "give up".into(),
                    Action::Done => "done".into(),
                    _ => return,
                },
            };
            sink.lock()
                .unwrap()
                .push((start.elapsed().as_millis(), line));
        },
    )
    .await
    .unwrap();
    let log = log.lock().unwrap().clone();
    (outcome, log)
}

fn lines(log: &[(u128, String)]) -> Vec<&str> {
    log.iter().map(|(_, l)| l.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_loop_restarts_with_backoff_then_gives_up() {
    let yaml = "
name: t
intensity: 2
period: 10s
backoff: { initial: 100ms, max: 1s, jitter: 0 }
children:
  - id: crasher
    command: [sh, -c, 'exit 3']
";
    let (outcome, log) = supervise(yaml, Duration::from_secs(20)).await;
    assert_eq!(outcome, Outcome::GaveUp);
    assert_eq!(
        lines(&log),
        [
            "started crasher",
            "exited crasher code 3",
            "restarting crasher",
            "started crasher",
            "exited crasher code 3",
            "restarting crasher",
            "started crasher",
            "exited crasher code 3",
            "escalated t",
            "give up"
        ]
    );
    // Backoff: 100 ms, then 200 ms, between an exit and the next start.
    let at = |i: usize| log[i].0;
    assert!(at(3) - at(1) >= 100, "{log:?}");
    assert!(at(6) - at(4) >= 200, "{log:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_for_one_restarts_the_rest_in_order() {
    let yaml = "
strategy: rest_for_one
intensity: 1
period: 10s
backoff: { initial: 10ms, jitter: 0 }
children:
  - { id: a, command: [sleep, '30'] }
  - { id: b, command: [sh, -c, 'if [ -e MARK ]; then exec sleep 30; fi; touch MARK; sleep 0.3; exit 1'], shutdown: 1s }
  - { id: c, command: [sleep, '30'] }
  - { id: d, command: [sleep, '30'] }
";
    let mark = tempfile::tempdir().unwrap();
    let yaml = yaml.replace("MARK", &mark.path().join("mark").display().to_string());
    let (outcome, log) = supervise(&yaml, Duration::from_secs(2)).await;
    assert_eq!(outcome, Outcome::Stopped);
    assert_eq!(
        lines(&log),
        [
            "started a",
            "started b",
            "started c",
            "started d",
            "exited b code 1",
            "restarting b",
            "restarting c",
            "restarting d",
            "exited d signal 15",
            "stopped d",
            "exited c signal 15",
            "stopped c",
            "started b",
            "started c",
            "started d",
            // shutdown, reverse order
            "exited d signal 15",
            "stopped d",
            "exited c signal 15",
            "stopped c",
            "exited b signal 15",
            "stopped b",
            "exited a signal 15",
            "stopped a",
            "done"
        ]
    );
}

/// Writes `text` to a file in `dir`; its path.
fn script(dir: &tempfile::TempDir, text: &str) -> String {
    let path = dir.path().join("child.py");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

const NOTIFIER: &str = r#"
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
addr = os.environ["NOTIFY_SOCKET"]
time.sleep(0.3)
s.sendto(b"READY=1\nSTATUS=warmed up", addr)
while True:
    time.sleep(0.05)
    s.sendto(b"WATCHDOG=1", addr)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_notify_holds_the_next_child() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "
children:
  - id: slow
    command: [python3, {}]
    ready: notify
    watchdog: 500ms
  - id: after
    command: [sleep, '30']
",
        script(&dir, NOTIFIER)
    );
    let (_, log) = supervise(&yaml, Duration::from_millis(1500)).await;
    let l = lines(&log);
    assert_eq!(
        &l[..3],
        ["started slow", "status slow warmed up", "started after"]
    );
    // `after` waited for READY=1 (sent 300 ms in).
    assert!(log[2].0 - log[0].0 >= 250, "{log:?}");
    // The watchdog was fed: no hang before the shutdown.
    assert!(!l.iter().any(|l| l.starts_with("hung")), "{l:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_child_misses_its_watchdog_and_is_restarted() {
    // The child SIGSTOPs itself after its first pings: a hang.
    let stopper = NOTIFIER.replace(
        "while True:",
        "for i in range(4):\n    time.sleep(0.05)\n    s.sendto(b\"WATCHDOG=1\", addr)\nos.kill(os.getpid(), 19)\nwhile True:",
    );
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "
intensity: 5
backoff: {{ initial: 10ms, jitter: 0 }}
children:
  - id: w
    command: [python3, {}]
    ready: notify
    watchdog: 200ms
",
        script(&dir, &stopper)
    );
    let (_, log) = supervise(&yaml, Duration::from_millis(2000)).await;
    let l = lines(&log);
    let hung = l.iter().position(|l| *l == "hung w").expect("hung");
    assert_eq!(
        &l[hung..hung + 4],
        ["hung w", "exited w signal 9", "restarting w", "started w"]
    );
}
