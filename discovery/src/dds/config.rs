//! Where the DDS shell talks and how fast producers must show signs of life.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// How a [`VigilParticipant`](super::VigilParticipant) joins DDS and the
/// liveness contract of the producers it advertises.
///
/// rustdds notices a dead participant only after its fixed 50 s lease and
/// emits no liveliness events (REFERENCES.md), so vigil runs its own
/// heartbeat: a producer sends one every `heartbeat_period`, a consumer holds
/// it UNKNOWN(unreachable) once `lease` passes without one, and forgets it
/// after a further `grace`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DdsConfig {
    /// The DDS domain id.
    pub domain: u16,
    /// The only network interface address DDS uses. Loopback by default, so
    /// a demo or test never leaks onto (or hears from) the real network.
    pub interface: IpAddr,
    /// How often an advertiser sends a heartbeat.
    pub heartbeat_period: Duration,
    /// How long after the last heartbeat a producer counts as unreachable.
    /// It travels in the advert, so each producer states its own.
    pub lease: Duration,
    /// How long an unreachable producer stays in the registry (shown as
    /// UNKNOWN) before it is removed.
    pub grace: Duration,
    /// The wire version this participant speaks (`wire` module doc, *Wire
    /// v2*): 2 (the default) bundles heartbeats and reads bundles; 1
    /// behaves as a build before wire v2 (single heartbeats only, no
    /// bundle reader), to test an upgrade.
    pub wire_version: u16,
}

impl DdsConfig {
    /// Default heartbeat period: 10 heartbeats per lease. Heartbeats are
    /// best-effort, so the lease must outlast a run of lost ones: at 5 %
    /// loss and 20 ms jitter, 5 per lease (20 ms) gave about one false
    /// failover an hour, 10 per lease about one in 8 000 years
    /// (BENCHMARKS.md, "Lossy links"; issue 14).
    pub const DEFAULT_HEARTBEAT_PERIOD: Duration = Duration::from_millis(10);
    /// Default lease (the DDS EXCLUSIVE-ownership comparison point in
    /// DESIGN.md uses 100 ms too).
    pub const DEFAULT_LEASE: Duration = Duration::from_millis(100);
    /// Default grace before an unreachable producer is forgotten.
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

    /// The defaults on `domain`: loopback, 10 ms heartbeats, 100 ms lease,
    /// 5 s grace.
    pub fn new(domain: u16) -> DdsConfig {
        DdsConfig {
            domain,
            interface: IpAddr::V4(Ipv4Addr::LOCALHOST),
            heartbeat_period: Self::DEFAULT_HEARTBEAT_PERIOD,
            lease: Self::DEFAULT_LEASE,
            grace: Self::DEFAULT_GRACE,
            wire_version: 2,
        }
    }

    /// Speaks wire version `version` (1 or 2; see the field).
    pub fn with_wire_version(mut self, version: u16) -> DdsConfig {
        self.wire_version = version;
        self
    }

    /// Uses another interface address.
    pub fn with_interface(mut self, interface: IpAddr) -> DdsConfig {
        self.interface = interface;
        self
    }

    /// Sets the heartbeat period and lease.
    pub fn with_liveness(mut self, heartbeat_period: Duration, lease: Duration) -> DdsConfig {
        self.heartbeat_period = heartbeat_period;
        self.lease = lease;
        self
    }

    /// Sets the grace period.
    pub fn with_grace(mut self, grace: Duration) -> DdsConfig {
        self.grace = grace;
        self
    }

    /// Checks the liveness contract; the error says which value is wrong.
    pub fn validate(&self) -> Result<(), super::DdsError> {
        let bad = |what: &str| {
            Err(super::DdsError::Config {
                reason: what.to_owned(),
            })
        };
        if self.heartbeat_period.is_zero() {
            return bad("heartbeat period must be positive");
        }
        if !(1..=2).contains(&self.wire_version) {
            return bad(&format!(
                "wire version {} is not one this build speaks (1 or 2)",
                self.wire_version
            ));
        }
        if self.lease <= self.heartbeat_period {
            return bad(&format!(
                "lease ({:?}) must be longer than the heartbeat period ({:?})",
                self.lease, self.heartbeat_period
            ));
        }
        // rustdds domain ids map to UDP ports 7400 + 250 * domain + ...; past
        // 232 the ports overflow u16.
        if self.domain > 232 {
            return bad(&format!("domain id {} is above 232", self.domain));
        }
        Ok(())
    }
}

impl Default for DdsConfig {
    /// Domain 0 with the defaults of [`DdsConfig::new`].
    fn default() -> Self {
        DdsConfig::new(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_on_loopback() {
        let config = DdsConfig::new(7);
        assert!(config.validate().is_ok());
        assert!(config.interface.is_loopback());
    }

    #[test]
    fn rejects_a_lease_shorter_than_the_period() {
        let config =
            DdsConfig::new(7).with_liveness(Duration::from_millis(50), Duration::from_millis(50));
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("lease"), "{error}");
    }

    #[test]
    fn rejects_a_domain_past_the_port_range() {
        assert!(DdsConfig::new(233).validate().is_err());
    }
}
