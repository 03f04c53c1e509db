//! `--metrics ADDR:PORT`, shared by the long-running commands (issue 11).

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Args;
use vigil::metrics::{CoreMetrics, MetricsServer, DEFAULT_PRODUCER_LIMIT};
use vigil::record::FlightRecorder;
use vigil_discovery::Recorder;

use super::InputError;

/// The metrics flag.
#[derive(Clone, Debug, Args)]
pub(crate) struct MetricsArgs {
    /// Serve Prometheus/OpenMetrics text on `GET /metrics` at this address
    /// (e.g. 127.0.0.1:9464): inputs, rejections, switches by cause,
    /// reroute time, samples, lease expiries, recorder drops, build info.
    #[arg(long, value_name = "ADDR:PORT")]
    metrics: Option<SocketAddr>,
    /// With `--metrics`: at most this many producers get a
    /// `vigil_producer_health` series (one label set each); the others are
    /// counted in `vigil_producers_untracked`.
    #[arg(long = "metrics-producers", value_name = "N", default_value_t = DEFAULT_PRODUCER_LIMIT)]
    producers: usize,
}

/// What the core is given as its recorder, and what serves the metrics.
pub(crate) struct Observers {
    /// The core's recorder: the metrics (which pass every step on to the
    /// flight recorder), or the flight recorder alone.
    pub(crate) recorder: Option<Arc<dyn Recorder>>,
    pub(crate) metrics: Option<Arc<CoreMetrics>>,
    /// Kept alive while the command runs.
    pub(crate) _server: Option<MetricsServer>,
}

impl MetricsArgs {
    /// Starts the server, if asked for, in front of `flight`.
    pub(crate) fn start(&self, flight: Option<Arc<FlightRecorder>>) -> anyhow::Result<Observers> {
        let Some(addr) = self.metrics else {
            return Ok(Observers {
                recorder: flight.map(|f| f as Arc<dyn Recorder>),
                metrics: None,
                _server: None,
            });
        };
        let metrics = Arc::new(CoreMetrics::new(flight).with_producer_limit(self.producers));
        let server = MetricsServer::start(addr, Arc::clone(&metrics))
            .map_err(|e| InputError(format!("--metrics: {e}")))?;
        Ok(Observers {
            recorder: Some(Arc::clone(&metrics) as Arc<dyn Recorder>),
            metrics: Some(metrics),
            _server: Some(server),
        })
    }
}
