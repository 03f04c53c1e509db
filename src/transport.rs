//! Where producers and consumers talk: DDS (the default) or an in-process
//! network.

use vigil_diag::Timestamp;
use vigil_discovery::inproc::InProcess;
use vigil_discovery::{clock, DdsConfig, VigilParticipant};

use crate::Error;

/// The transport a [`Producer`](crate::Producer) or
/// [`Consumer`](crate::Consumer) runs on. Cheap to clone: clones share the
/// DDS participant or the in-process network.
///
/// ```
/// use vigil::Transport;
/// use vigil_discovery::inproc::InProcess;
///
/// // For simulations and tests: no sockets, the caller moves the clock.
/// let sim = Transport::from(InProcess::new(Default::default()));
/// assert!(sim.in_process().is_some());
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Transport {
    /// DDS through rustdds: a participant with vigil's topics.
    Dds(VigilParticipant),
    /// The in-process network of `vigil_discovery::inproc`.
    InProcess(InProcess),
}

impl Transport {
    /// Joins DDS with `config` (domain, interface, liveness). Takes about
    /// 40 ms. rustdds does not match a reader with a writer of the same
    /// participant: a consumer of a topic that this process also produces
    /// needs a transport of its own (`examples/consumer.rs`). Must be called inside a tokio runtime for the producers and
    /// consumers started on it.
    pub fn dds(config: DdsConfig) -> Result<Transport, Error> {
        Ok(Transport::Dds(VigilParticipant::new(config)?))
    }

    /// The DDS participant, if this is DDS (for the application's own
    /// readers and writers beside vigil's).
    pub fn participant(&self) -> Option<&VigilParticipant> {
        match self {
            Transport::Dds(p) => Some(p),
            Transport::InProcess(_) => None,
        }
    }

    /// The in-process network, if this is one (to move its clock).
    pub fn in_process(&self) -> Option<&InProcess> {
        match self {
            Transport::Dds(_) => None,
            Transport::InProcess(net) => Some(net),
        }
    }

    /// Now on the transport's core clock (the process's monotonic clock on
    /// DDS, the network's clock in process).
    pub fn now(&self) -> Timestamp {
        match self {
            Transport::Dds(_) => clock::now(),
            Transport::InProcess(net) => net.now(),
        }
    }

    /// Now on the transport's wall clock, nanoseconds since the Unix epoch.
    pub fn unix_now_ns(&self) -> u64 {
        match self {
            Transport::Dds(_) => clock::unix_now_ns(),
            Transport::InProcess(net) => net.unix_now_ns(),
        }
    }
}

impl From<VigilParticipant> for Transport {
    fn from(participant: VigilParticipant) -> Transport {
        Transport::Dds(participant)
    }
}

impl From<InProcess> for Transport {
    fn from(net: InProcess) -> Transport {
        Transport::InProcess(net)
    }
}
