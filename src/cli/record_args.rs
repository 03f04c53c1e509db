//! `--record FILE.mcap` and `--record-max SIZE`, shared by the long-running
//! commands: the flight recorder of issue 11.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use vigil::record::{FlightRecorder, RecordConfig};
use vigil_discovery::{RecordedSession, RecordedStep, Recorder};

use super::InputError;

/// The flight recorder's flags.
#[derive(Clone, Debug, Args)]
pub(crate) struct RecordArgs {
    /// Record every input of the core (adverts, heartbeats, disposes,
    /// timers, malformed samples) and every decision (registry changes,
    /// switches with their cause) to this MCAP file; `vigil replay`
    /// checks it. Recording never blocks routing: what the disk cannot
    /// take is dropped and counted.
    #[arg(long, value_name = "FILE.mcap")]
    record: Option<PathBuf>,
    /// The recording's size bound on disk (B, KiB, MiB, GiB): at half of
    /// it the file is moved to NAME.1.mcap and a new one begins.
    #[arg(long = "record-max", value_name = "SIZE", default_value = "1GiB", value_parser = bytes)]
    record_max: u64,
}

impl RecordArgs {
    /// The recorder, if asked for: the file is created now.
    pub(crate) fn start(&self) -> anyhow::Result<Option<Arc<FlightRecorder>>> {
        let Some(path) = &self.record else {
            return Ok(None);
        };
        let config = RecordConfig::new(path).with_max_bytes(self.record_max);
        FlightRecorder::create(config)
            .map(Some)
            .map_err(|e| InputError(format!("--record: {e}")).into())
    }
}

impl RecordArgs {
    /// One recorder per core of a command that runs several (the agent:
    /// one per relay), each a file of its own, since a recording holds one
    /// core: `FILE` itself for a single core, `STEM.NAME.mcap` for each of
    /// several (NAME: the core's name, `/imu/best` -> `imu_best`). Said on
    /// stderr.
    pub(crate) fn start_each(
        &self,
        names: &[String],
    ) -> anyhow::Result<Vec<(String, Arc<FlightRecorder>)>> {
        let Some(path) = &self.record else {
            return Ok(Vec::new());
        };
        let mut recorders = Vec::new();
        for name in names {
            let file = if names.len() == 1 {
                path.clone()
            } else {
                per_core(path, name)
            };
            let config = RecordConfig::new(&file).with_max_bytes(self.record_max);
            let recorder =
                FlightRecorder::create(config).map_err(|e| InputError(format!("--record: {e}")))?;
            eprintln!("recording {name} to {}", file.display());
            recorders.push((name.clone(), recorder));
        }
        Ok(recorders)
    }
}

/// `dir/agent.mcap` and `/imu/best` -> `dir/agent.imu_best.mcap`.
fn per_core(path: &Path, name: &str) -> PathBuf {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let clean = clean.trim_matches('_');
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("{stem}.{clean}.mcap"))
}

/// Hands every session and step to each of several recorders (the flight
/// recorder of one core and the metrics shared by all).
#[derive(Debug)]
pub(crate) struct Tee(pub(crate) Vec<Arc<dyn Recorder>>);

impl Tee {
    /// The recorder for a core: none, the one, or a tee of them.
    pub(crate) fn of(mut recorders: Vec<Arc<dyn Recorder>>) -> Option<Arc<dyn Recorder>> {
        match recorders.len() {
            0 => None,
            1 => recorders.pop(),
            _ => Some(Arc::new(Tee(recorders))),
        }
    }
}

impl Recorder for Tee {
    fn session(&self, session: RecordedSession) {
        for recorder in &self.0 {
            recorder.session(session.clone());
        }
    }

    fn step(&self, step: RecordedStep) {
        // Cloned for all but the last, which takes it.
        if let Some((last, rest)) = self.0.split_last() {
            for recorder in rest {
                recorder.step(step.clone());
            }
            last.step(step);
        }
    }
}

/// Closes the file and says on stderr what it holds.
pub(crate) fn finish(recorder: Option<Arc<FlightRecorder>>) {
    let Some(recorder) = recorder else {
        return;
    };
    match recorder.finish() {
        Ok(stats) => eprintln!(
            "recorded {} step(s), {} dropped, {} byte(s) in {} segment(s)",
            stats.steps, stats.dropped, stats.bytes, stats.segments
        ),
        Err(error) => eprintln!("error: {error}"),
    }
}

/// `1GiB`, `512MiB`, `64KiB`, `1000000` (bytes).
fn bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}`: a size is a whole number and a unit, e.g. 1GiB"))?;
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => {
            return Err(format!(
                "`{text}`: unknown unit `{other}` (B, KiB, MiB, GiB)"
            ))
        }
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("`{text}`: too large"))
}

#[cfg(test)]
mod tests {
    use super::bytes;

    #[test]
    fn several_cores_record_to_files_of_their_own() {
        assert_eq!(
            super::per_core(std::path::Path::new("/tmp/agent.mcap"), "/imu/data/best"),
            std::path::PathBuf::from("/tmp/agent.imu_data_best.mcap")
        );
    }

    #[test]
    fn sizes_with_units() {
        assert_eq!(bytes("1GiB"), Ok(1 << 30));
        assert_eq!(bytes("512MiB"), Ok(512 << 20));
        assert_eq!(bytes("4096"), Ok(4096));
        assert!(bytes("1GB").is_err());
        assert!(bytes("GiB").is_err());
        assert!(bytes("99999999999GiB").is_err());
    }
}
