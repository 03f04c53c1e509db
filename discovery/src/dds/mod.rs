//! The DDS shell: moves wire structs between rustdds and the sans-IO core
//! and feeds the core the time.
//!
//! rustdds gives no liveliness events, ignores ownership strength and
//! notices a dead participant only after about 50 s (REFERENCES.md), so
//! nothing here depends on those: producers send their own heartbeats on
//! `vigil_heartbeats`, and a consumer follows one producer by filtering
//! samples on the writer GUID.
//!
//! # Layout
//!
//! - `config`: [`DdsConfig`], domain, interface and liveness contract.
//! - `error`: [`DdsError`].
//! - `participant`: [`VigilParticipant`], the vigil topics and their QoS,
//!   rustdds keys of the wire structs.
//! - `advertiser`: [`Advertiser`], the producer side.
//! - `beats`: one heartbeat per participant for all its advertisers (wire
//!   v2's bundles, and single heartbeats while v1 readers need them).
//! - `on_behalf`: [`OnBehalfPublisher`], a supervisor saying that a dead
//!   child's producers FAILED, and how a child learns its supervisor
//!   ([`supervisor_from_env`]).
//! - `reconfig`: [`ReconfigPublisher`], the reconfiguration engine's
//!   isolations and mode on DDS, and [`mode_reader`].
//! - `selector`: [`Selector`], the consumer side: registry and selection
//!   driven by DDS samples and timers.
//! - `routes`: consumers' routes on the route topic: the one a consumer
//!   publishes, and [`RouteBoard`], everyone's as a monitor keeps them.
//! - `subscription`: [`Subscription`], the typed data reader that delivers
//!   the active producer's samples only, with hot standby.
//! - `sample`: [`SyntheticSample`] of `vigil produce`, and the clocks.

mod advertiser;
mod beats;
mod config;
mod error;
mod on_behalf;
mod participant;
mod reconfig;
mod routes;
mod sample;
mod selector;
mod signals;
mod subscription;

pub use advertiser::{offered_qos, Advertiser, AdvertiserConfig};
pub use config::DdsConfig;
pub use error::DdsError;
pub use on_behalf::{
    parse_supervisor_id, supervisor_from_env, supervisor_id_text, OnBehalfPublisher,
    SUPERVISOR_ID_ENV,
};
pub use participant::{
    advert_qos, consumer_route_qos, data_qos, failed_on_behalf_qos, guid_of, heartbeat_qos,
    CdrReader, CdrWriter, VigilParticipant,
};
pub(crate) use reconfig::{capability_override_reader, isolation_reader};
pub use reconfig::{mode_reader, reconfig_qos, ReconfigPublisher};
pub use routes::{RouteBoard, RouteUpdate};
pub use sample::{
    dds_timestamp, instant_of, now, unix_now_ns, unix_ns_of, SyntheticSample, CLOCK_OFFSET_ENV,
    SYNTHETIC_TYPE,
};
pub use selector::{Selector, SelectorConfig, SelectorStats};
pub use subscription::{Subscription, SubscriptionConfig};
