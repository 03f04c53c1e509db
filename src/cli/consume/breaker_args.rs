//! The circuit-breaker flags of `vigil consume` (issue 14): `--breaker`
//! turns them on with [`BreakerPolicy::default`]; each knob overrides one
//! field and needs `--breaker`.

use std::time::Duration;

use clap::Args;
use vigil_discovery::BreakerPolicy;

use super::super::dds_args::millis;
use super::super::InputError;

/// Circuit breakers per consumer→producer link.
#[derive(Clone, Debug, Args)]
pub(crate) struct BreakerArgs {
    /// Circuit breakers per producer link (Envoy's outlier detection): a
    /// producer whose samples come with gaps or late against its
    /// advertised `rate_hz` (else its offered deadline), or whose health
    /// flaps, is ejected for a time that grows with each ejection, then
    /// probed half-open as the hot standby; at most a share of the links
    /// at once.
    #[arg(long)]
    pub(crate) breaker: bool,
    /// A sample later than this many periods after the previous one is an
    /// error [default: 3].
    #[arg(long, requires = "breaker", value_name = "PERIODS")]
    pub(crate) breaker_late_factor: Option<f64>,
    /// Errors within --breaker-interval-ms that eject [default: 5].
    #[arg(long, requires = "breaker", value_name = "N")]
    pub(crate) breaker_max_errors: Option<usize>,
    /// The window errors are counted in, in milliseconds [default: 10000].
    #[arg(long, requires = "breaker", value_parser = millis, value_name = "MS")]
    pub(crate) breaker_interval_ms: Option<Duration>,
    /// The first ejection's length, in milliseconds; the n-th lasts n
    /// times as long [default: 5000].
    #[arg(long, requires = "breaker", value_parser = millis, value_name = "MS")]
    pub(crate) breaker_base_ejection_ms: Option<Duration>,
    /// The longest ejection, in milliseconds [default: 300000].
    #[arg(long, requires = "breaker", value_parser = millis, value_name = "MS")]
    pub(crate) breaker_max_ejection_ms: Option<Duration>,
    /// The largest share of links ejected at once, 0 to 1 (one is always
    /// allowed) [default: 0.5].
    #[arg(long, requires = "breaker", value_name = "SHARE")]
    pub(crate) breaker_max_share: Option<f64>,
    /// On-time samples that close a half-open link [default: 10].
    #[arg(long, requires = "breaker", value_name = "N")]
    pub(crate) breaker_probe_samples: Option<u32>,
    /// How long half-open lasts at most, in milliseconds [default: 1000].
    #[arg(long, requires = "breaker", value_parser = millis, value_name = "MS")]
    pub(crate) breaker_probe_window_ms: Option<Duration>,
}

impl BreakerArgs {
    /// The breaker policy, `None` without `--breaker`.
    pub(crate) fn policy(&self) -> Result<Option<BreakerPolicy>, InputError> {
        if !self.breaker {
            return Ok(None);
        }
        let mut p = BreakerPolicy::default();
        if let Some(x) = self.breaker_late_factor {
            if !(x.is_finite() && x >= 1.0) {
                return Err(InputError(format!(
                    "--breaker-late-factor {x} must be a number of periods of at least 1"
                )));
            }
            p.late_factor = x;
        }
        if let Some(n) = self.breaker_max_errors {
            if n == 0 {
                return Err(InputError("--breaker-max-errors must be at least 1".into()));
            }
            p.max_errors = n;
        }
        if let Some(share) = self.breaker_max_share {
            if !(0.0..=1.0).contains(&share) {
                return Err(InputError(format!(
                    "--breaker-max-share {share} must be between 0 and 1"
                )));
            }
            p.max_ejected_share = share;
        }
        if let Some(n) = self.breaker_probe_samples {
            if n == 0 {
                return Err(InputError(
                    "--breaker-probe-samples must be at least 1".into(),
                ));
            }
            p.probe_samples = n;
        }
        let set = |d: Option<Duration>, field: &mut Duration| {
            if let Some(d) = d {
                *field = d;
            }
        };
        set(self.breaker_interval_ms, &mut p.interval);
        set(self.breaker_base_ejection_ms, &mut p.base_ejection);
        set(self.breaker_max_ejection_ms, &mut p.max_ejection);
        set(self.breaker_probe_window_ms, &mut p.probe_window);
        for (flag, d) in [
            ("--breaker-base-ejection-ms", p.base_ejection),
            ("--breaker-probe-window-ms", p.probe_window),
            ("--breaker-interval-ms", p.interval),
        ] {
            if d.is_zero() {
                return Err(InputError(format!("{flag} must be above 0")));
            }
        }
        if p.max_ejection < p.base_ejection {
            return Err(InputError(format!(
                "--breaker-max-ejection-ms {} is shorter than the base ejection {}",
                p.max_ejection.as_millis(),
                p.base_ejection.as_millis()
            )));
        }
        Ok(Some(p))
    }
}

/// Prints every circuit-breaker transition of a consumer as it happens:
/// `{"event":"breaker","breaker":"ejected",...}` lines in JSON.
pub(crate) fn report_breakers(
    mut events: tokio::sync::broadcast::Receiver<vigil_discovery::BreakerEvent>,
    format: super::super::dds_args::Format,
) {
    use tokio::sync::broadcast::error::RecvError;
    use vigil_discovery::BreakerEvent;
    tokio::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(RecvError::Lagged(n)) => {
                    eprintln!("warning: {n} circuit-breaker events not printed (output too slow)");
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            let line = match format {
                super::super::dds_args::Format::Json => {
                    let key = event.key();
                    let mut line = serde_json::json!({
                        "t": super::super::dds_args::unix_seconds(),
                        "event": "breaker",
                        "breaker": event.label(),
                        "producer": key.producer,
                        "topic": key.topic,
                        "text": event.to_string(),
                    });
                    if let BreakerEvent::Ejected { ejections, .. } = &event {
                        line["ejections"] = serde_json::json!(ejections);
                    }
                    line.to_string()
                }
                super::super::dds_args::Format::Text => format!("breaker: {event}"),
            };
            println!("{line}");
        }
    });
}
