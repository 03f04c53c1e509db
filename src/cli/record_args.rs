//! `--record FILE.mcap` and `--record-max SIZE`, shared by the long-running
//! commands: the flight recorder of issue 11.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use vigil::record::{FlightRecorder, RecordConfig};

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
    fn sizes_with_units() {
        assert_eq!(bytes("1GiB"), Ok(1 << 30));
        assert_eq!(bytes("512MiB"), Ok(512 << 20));
        assert_eq!(bytes("4096"), Ok(4096));
        assert!(bytes("1GB").is_err());
        assert!(bytes("GiB").is_err());
        assert!(bytes("99999999999GiB").is_err());
    }
}
