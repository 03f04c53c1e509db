//! Diagnostic-aware discovery: producers advertise topics with capabilities
//! and health, consumers are matched to the best producer that is healthy now
//! and rerouted down a fallback chain when it degrades or dies.
//!
//! The core (adverts, registry, selection and switching policy, voting) is
//! plain data and functions: no sockets, no clock it was not given. The DDS
//! shell (`dds`) is thin: it moves wire structs between rustdds and the core
//! and feeds the core the time.
//!
//! # Layout
//!
//! - `wire`: the structs on the vigil DDS topics, versioned.
//! - `advert`: [`Advert`] and [`Heartbeat`], validated from the wire
//!   ([`AdvertError`] lists every bad field).
//! - `registry`: the concurrent [`Registry`] of adverts: `apply` inputs and
//!   `tick` time, get [`RegistryChange`]s; liveness, stale and bad input.
//! - [`inproc`]: the in-process transport: the same adverts, heartbeats and
//!   data through memory on a clock the caller moves, for simulations and
//!   tests.
//! - `advertising`, `follow`: the producer's advert state and the
//!   consumer's selection and data filter, shared by both shells.
//! - `dds`: the DDS shell over rustdds: [`VigilParticipant`], the producer's
//!   [`Advertiser`], the consumer's [`Selector`] and [`Subscription`], a
//!   supervisor's [`OnBehalfPublisher`], everyone's routes on a
//!   [`RouteBoard`].
//! - `trust`: signed adverts, the heartbeat hash chain, the [`TrustPolicy`]
//!   and [`Refusal`], why an input was refused on trust grounds.
//! - [`reconfig`]: isolations and the mode, as the reconfiguration engine
//!   publishes them.
//! - `route`: [`ConsumerRoute`], what a consumer says on
//!   [`CONSUMER_ROUTE_TOPIC`] (who it is, its query, whom it follows, its
//!   last switch and why), validated from the wire.
//! - `vote`: [`combine_reports`], majority voting over shared components.
//! - `selection`: [`Selection`], which producer a consumer follows: the
//!   fallback chain, re-ranked incrementally, and the switching policy
//!   ([`SwitchPolicy`]: hold-off, wait-to-restore, margin, flap damping),
//!   and [`Breakers`], circuit breakers per consumer→producer link.
//! - `record`: the flight recorder's hook ([`Recorder`], fed a
//!   [`RecordedStep`] per input by both shells) and [`Replayer`], the same
//!   core fed recorded inputs again.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
// Denied, not only warned: every public item is documented (issue 15).
#![deny(missing_docs)]

mod advert;
mod advertising;
mod dds;
mod follow;
pub mod inproc;

/// The clocks of the DDS shell: the core's monotonic time, the wall clock
/// of wire timestamps, and DDS source timestamps.
pub mod clock {
    pub use crate::dds::{
        dds_timestamp, instant_of, now, unix_now_ns, unix_ns_of, CLOCK_OFFSET_ENV,
    };
}
pub mod reconfig;
mod record;
mod registry;
mod route;
mod selection;
mod trust;
mod vote;
mod wire;

pub use advert::{
    Advert, AdvertError, AdvertKey, FailedOnBehalf, FieldProblem, HealthSummary, Heartbeat,
    ProblemKind, MAX_NAME_LEN, MAX_NODES, MAX_ON_BEHALF, MAX_REASON_LEN,
};
pub use dds::{
    advert_qos, consumer_route_qos, data_qos, failed_on_behalf_qos, guid_of, heartbeat_qos,
    mode_reader, offered_qos, parse_supervisor_id, reconfig_qos, supervisor_from_env,
    supervisor_id_text, Advertiser, AdvertiserConfig, CdrReader, CdrWriter, DdsConfig, DdsError,
    OnBehalfPublisher, ReconfigPublisher, RouteBoard, RouteUpdate, Selector, SelectorConfig,
    SelectorStats, Subscription, SubscriptionConfig, SyntheticSample, VigilParticipant,
    SUPERVISOR_ID_ENV, SYNTHETIC_TYPE,
};
pub use follow::{Delivered, Filter, Route, RouteEnd, StandbyConfig, SubscriptionStats};
pub use record::{
    CoreSnapshot, RecordedInput, RecordedPolicy, RecordedSession, RecordedStep, Recorder, Replayer,
};
pub use registry::{
    EffectiveHealth, EntryView, PolicySlot, RefusalFeed, RefusalNote, Registry, RegistryChange,
    RegistryConfig, RegistryInput, RegistryStats, REFUSALS_KEPT,
};
pub use route::{ConsumerIdentity, ConsumerRoute, RouteSwitch, MAX_QUERY_LEN};
pub use selection::{
    ActiveProducer, BreakerEvent, BreakerPolicy, BreakerState, Breakers, CandidateExplanation,
    CandidateStatus, SampleArrival, Selection, SelectionEvent, SelectionExplanation,
    SelectionQuery, SelectionStats, SwitchCause, SwitchPolicy, EVENT_CHAIN_MAX,
};
pub use trust::{
    chain_id, sign_advert, sign_detached, sign_failed_on_behalf, AdvertProof, ChainCheck, Glob,
    HashChain, HeartbeatAuth, KeyError, KeyPair, PublicKey, Refusal, RefusedStats, TrustMode,
    TrustPolicy, TrustedKey, Verifier, ADVERT_SIGNATURE_LEN, CHAIN_LEN, HEARTBEAT_AUTH_LEN,
    ON_BEHALF_SIGNATURE_LEN,
};
pub use vote::{combine_reports, Combined};
pub use wire::{
    AdvertKeyWire, AdvertWire, ConsumerRouteWire, FailedOnBehalfWire, HealthWire, HeartbeatWire,
    NodeStateWire, OfferedQosWire, ADVERT_TOPIC, ADVERT_TYPE, CONSUMER_ROUTE_HISTORY,
    CONSUMER_ROUTE_TOPIC, CONSUMER_ROUTE_TYPE, FAILED_ON_BEHALF_TOPIC, FAILED_ON_BEHALF_TYPE,
    HEARTBEAT_TOPIC, HEARTBEAT_TYPE, NOT_SET, WIRE_REVISION, WIRE_VERSION,
};
pub use wire::{
    BundleEntryWire, BundleError, BundleKeyWire, HeartbeatBundleWire, BUNDLE_VERSION,
    HEARTBEAT_BUNDLE_TOPIC, HEARTBEAT_BUNDLE_TYPE, MAX_BUNDLE_ENTRIES,
};
