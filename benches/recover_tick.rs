//! Issue 10's live figure: tick latency of `vigil recover` from a health
//! change to the first action started, over real processes and DDS.
//!
//! A `vigil produce` (imu_a, a status leaf `vehicle.sensors.imu_a.driver`)
//! and a `vigil recover` whose behaviour tree isolates imu_a whenever it is
//! worse than DEGRADED. Each round sets the leaf to ERROR on the producer's
//! stdin; the time from the producer's `applied` line (printed once its
//! advert is written) to the engine's `action` line (printed as the
//! `Isolate` starts) is the latency: DDS delivery, the registry, the leaf
//! feed, the tree update, the tick and the action's start. Then OK, and
//! the engine's next SUCCESS tick, before the next round. Both lines carry
//! Unix seconds from the same machine. Prints median, p99 and max.
//!
//!   cargo bench --bench recover_tick            # release build
//!   cargo test --bench recover_tick -- --bench  # debug build

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use serde_json::Value;

const ROUNDS: usize = 40;
const DOMAIN: u16 = 148;
const PATIENCE: Duration = Duration::from_secs(30);

const TREE: &str = "nodes:\n  vehicle.sensors.imu_a.driver: { check: status }\n";
const BT: &str = r#"<root BTCPP_format="4" main_tree_to_execute="Bench">
  <BehaviorTree ID="Bench">
    <Fallback>
      <Health path="vehicle.sensors.imu_a" at_least="DEGRADED"/>
      <Isolate producer="imu_a" reason="bench"/>
    </Fallback>
  </BehaviorTree>
</root>
"#;

struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Value>,
}

impl Proc {
    fn start(args: &[&str]) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("vigil");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if tx.send(v).is_err() {
                        return;
                    }
                }
            }
        });
        Proc {
            child,
            stdin,
            lines,
        }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{line}").expect("write");
        stdin.flush().expect("flush");
    }

    fn wait(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            match self.lines.recv_timeout(PATIENCE) {
                Ok(v) if pred(&v) => return v,
                Ok(_) => {}
                Err(e) => panic!("no {what}: {e}"),
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn main() {
    // `cargo test --all-targets` runs bench targets too, without `--bench`.
    if !std::env::args().any(|a| a == "--bench") {
        println!("recover_tick harness: run it with `cargo bench --bench recover_tick`");
        return;
    }
    let dir = std::env::temp_dir().join(format!("vigil-bench-recover-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("tree.yaml"), TREE).expect("tree");
    std::fs::write(dir.join("bt.xml"), BT).expect("bt");
    std::fs::write(
        dir.join("recover.yaml"),
        "name: bench\ntree: tree.yaml\nbt: bt.xml\n",
    )
    .expect("config");
    let domain = DOMAIN.to_string();
    let tree = dir.join("tree.yaml").display().to_string();
    let mut producer = Proc::start(&[
        "produce",
        "--domain",
        &domain,
        "--topic",
        "imu",
        "--id",
        "imu_a",
        "--tree",
        &tree,
        "--rate",
        "100",
        "--format",
        "json",
        "--exit-on-eof",
    ]);
    producer.wait("ready", |v| v["event"] == "ready");
    producer.send("set vehicle.sensors.imu_a.driver OK");
    let config = dir.join("recover.yaml").display().to_string();
    let engine = Proc::start(&[
        "recover", "--config", &config, "--domain", &domain, "--format", "json",
    ]);
    engine.wait("ready", |v| v["event"] == "ready");
    let mut ms = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        producer.send("set vehicle.sensors.imu_a.driver ERROR");
        let applied = producer.wait("applied", |v| v["event"] == "applied");
        let action = engine.wait("action", |v| {
            v["event"] == "action" && v["action"] == "Isolate"
        });
        let t = |v: &Value| v["t"].as_f64().expect("t");
        ms.push((t(&action) - t(&applied)) * 1e3);
        producer.send("set vehicle.sensors.imu_a.driver OK");
        producer.wait("applied", |v| v["event"] == "applied");
        engine.wait("the healthy tick", |v| {
            v["event"] == "tick"
                && v["status"]
                    .as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case("success"))
        });
        std::thread::sleep(Duration::from_millis(50));
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "health change (producer's advert written) -> first action started in vigil recover: \
         n={} median={:.3} ms p99={:.3} ms max={:.3} ms min={:.3} ms",
        ms.len(),
        at(0.5),
        at(0.99),
        ms[ms.len() - 1],
        ms[0]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
