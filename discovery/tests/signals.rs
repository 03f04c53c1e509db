//! A participant survives signals taken by any thread of its process
//! (dds/signals.rs): rustdds's event loop stops for good when a signal
//! interrupts its poll, so vigil starts those threads with signals blocked.

use std::time::Duration;

use futures::StreamExt;
use rustdds::with_key::Sample;
use tokio::signal::unix::{signal, SignalKind};
use vigil_discovery::{DdsConfig, SyntheticSample, VigilParticipant, SYNTHETIC_TYPE};

const DOMAIN: u16 = 185;

/// Sends `SIGUSR1` to every thread of this process, one by one
/// (thread-directed, so each rustdds thread gets its own).
fn signal_every_thread() -> usize {
    let pid = std::process::id() as libc::pid_t;
    let mut sent = 0;
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let Ok(tid) = task
            .expect("task")
            .file_name()
            .to_string_lossy()
            .parse::<libc::pid_t>()
        else {
            continue;
        };
        // SAFETY: tgkill only sends a signal; a handler is installed.
        let r = unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, libc::SIGUSR1) };
        if r == 0 {
            sent += 1;
        }
    }
    sent
}

type Writer =
    rustdds::with_key::DataWriter<SyntheticSample, rustdds::CDRSerializerAdapter<SyntheticSample>>;
type Reader = rustdds::with_key::DataReaderStream<
    SyntheticSample,
    rustdds::CDRDeserializerAdapter<SyntheticSample>,
>;

/// Writes until a sample past `from` arrives (its sequence), or 20 s.
async fn delivered_after(
    writer: &Writer,
    reader: &mut Reader,
    seq: &mut u64,
    from: u64,
) -> Option<u64> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    while tokio::time::Instant::now() < deadline {
        tokio::select! {
            _ = tick.tick() => {
                *seq += 1;
                let sample = SyntheticSample {
                    producer: "signals".to_owned(),
                    seq: *seq,
                    source_ts_ns: 0,
                    period_ns: 0,
                };
                let _ = writer.write(sample, None);
            }
            Some(Ok(got)) = reader.next() => {
                if let Sample::Value(v) = got.into_value() {
                    if v.seq > from {
                        return Some(v.seq);
                    }
                }
            }
        }
    }
    None
}

#[test]
fn a_participant_keeps_working_after_its_threads_take_signals() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        // A handler, as `vigil supervise` has for SIGCHLD: without one
        // SIGUSR1 would end the process.
        let mut usr1 = signal(SignalKind::user_defined1()).expect("SIGUSR1 handler");
        let config = DdsConfig::new(DOMAIN);
        let a = VigilParticipant::new(config.clone()).expect("participant a");
        let b = VigilParticipant::new(config).expect("participant b");
        let writer = a
            .data_writer::<SyntheticSample>(
                &a.data_topic("signals", SYNTHETIC_TYPE).expect("topic"),
                None,
            )
            .expect("writer");
        let mut reader = b
            .data_reader::<SyntheticSample>(
                &b.data_topic("signals", SYNTHETIC_TYPE).expect("topic"),
                None,
            )
            .expect("reader")
            .async_sample_stream();
        let mut seq = 0;
        let before = delivered_after(&writer, &mut reader, &mut seq, 0)
            .await
            .expect("the participants never matched");
        for _ in 0..5 {
            assert!(signal_every_thread() > 4, "rustdds's threads not found");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            tokio::time::timeout(Duration::from_secs(5), usr1.recv())
                .await
                .is_ok(),
            "the application's handler did not run"
        );
        assert!(
            delivered_after(&writer, &mut reader, &mut seq, before)
                .await
                .is_some(),
            "no sample crossed after every thread took a signal: a rustdds thread stopped"
        );
    });
}
