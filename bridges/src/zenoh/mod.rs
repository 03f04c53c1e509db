//! The Zenoh bridge (feature `zenoh`): DDS producers' adverts, health,
//! liveliness and data out to a Zenoh key space, and Zenoh producers in as
//! DDS producers, so a DDS consumer can select and fail over to a producer
//! on the Zenoh side and a Zenoh client can ask for the best producer of a
//! topic and get its data.
//!
//! # Contract
//!
//! Under a key prefix (`vigil` by default). A topic with `/` spans several
//! chunks and the producer is the last one; characters Zenoh reserves
//! (`*`, `$`, `?`, `#`, `@`), `%`, and a `/` that would open an empty
//! chunk are escaped as `%XX` (`/imu` is `%2Fimu`):
//!
//! - `vigil/adverts/<topic>/<producer>`: each DDS producer's advert as JSON
//!   ([`AdvertJson`], `origin: "dds"`), put again whenever its advert or
//!   its health as the registry sees it changes (a lost lease reads
//!   `UNKNOWN (unreachable)`), deleted when it leaves the registry. Also a
//!   queryable for late joiners.
//! - `vigil/alive/<topic>/<producer>`: a liveliness token held while the
//!   DDS producer's lease holds.
//! - `vigil/data/<topic>/<producer>`: each sample of a bridged topic as
//!   encapsulated CDR (the 4-byte header `00 01 00 00` then the CDR body,
//!   as zenoh-bridge-ros2dds carries it), encoding `application/cdr` with
//!   the DDS type name as schema.
//! - `vigil/registry`: queryable; the whole registry as one JSON object
//!   `{"key_prefix", "bridge", "adverts": [...]}`, Zenoh producers included
//!   (`origin: "zenoh"`).
//! - `vigil/best/<topic>?query=<vigil query>`: queryable; vigil's own
//!   selection run once over the registry (the query may also be the
//!   query's payload; none means `<topic>` alone). The reply is
//!   `{"topic", "query", "producer", "origin", "data", "advert", "chain",
//!   "why"}`; `data` is the key to subscribe to. A bad query gets an error
//!   reply `{"error": ...}`.
//!
//!   The answer is the best producer *now* and the key of its data: a
//!   Zenoh client subscribed to `data` keeps receiving that producer's
//!   samples (or none, once it is gone) after a failover. To follow the
//!   failovers, it uses a followed stream.
//! - `vigil/follow?query=<vigil query>`: queryable; declares a followed
//!   stream (the query may also be the payload) and replies `{"key",
//!   "switches", "query", "shared", "producer", "declared_by"}`, or an
//!   error reply `{"error": ...}` for a bad query or one naming a topic not
//!   bridged with `forward: both`. The same normalized query gets the same
//!   stream: the config's (`follow:`, [`FollowRoute`]) if it declares one,
//!   else one named `q<16 hex digits>` (a hash of the query).
//! - `vigil/followed/<name>`: a followed stream's samples, always from the
//!   best producer for its query now, DDS or Zenoh: a selection on the
//!   bridge's registry with a DDS consumer's policy (hold-off,
//!   wait-to-restore, flap damping; hot standby replays the new producer's
//!   samples the old one did not deliver), the same code a DDS consumer
//!   runs ([`vigil_discovery::Selector`], [`vigil_discovery::Filter`]).
//!   Encapsulated CDR as on `data`, with the producer id as the
//!   attachment.
//! - `vigil/switches/<name>`: each switch of that stream as JSON
//!   `{"key", "query", "producer", "topic", "origin", "previous", "cause",
//!   "chain", "standby", "unix_ns"}` (`producer: null`: nothing
//!   qualifies).
//!
//! A producer living on Zenoh puts its advert (`origin: "zenoh"`) on its
//! advert key, declares its liveliness token, answers queries on its
//! advert key (so a bridge that starts later finds it), and puts its
//! samples on its data key. While both advert and token are there, the
//! bridge advertises it on DDS with a raw writer of its own (keyed by the
//! producer id for keyed topics) whose GUID the advert names, and writes
//! its samples there. When the token goes (the producer left, or was
//! killed: Zenoh drops a dead session's tokens when its TCP link closes)
//! the bridge disposes that advert at once, so DDS consumers fail over
//! without waiting for a lease.
//!
//! The samples also keep the proxy's health fresh: a Zenoh producer is
//! UNKNOWN (no data) on DDS until its first sample is written there, and
//! UNKNOWN (stale) once none has been for the topic's `stale_after`
//! (500 ms by default), so DDS consumers also move away from a producer
//! that is alive but silent. A producer whose data has never reached DDS
//! is not one a consumer should select, whatever its own advert says, so
//! a producer that advertises before it publishes is not selectable until
//! it publishes.
//!
//! The proxies live on a second DDS participant of the bridge: rustdds
//! does not deliver a participant's own samples to itself, and on their
//! own participant the Zenoh producers reach the bridge's registry over
//! DDS, as they reach every consumer's. So `vigil/registry` and
//! `vigil/best` see Zenoh and DDS producers alike.
//!
//! A malformed advert from Zenoh (not JSON, a bad field, a key that does
//! not match its body, a type the topic does not carry) is refused with
//! every problem named, counted ([`BridgeStats::adverts_rejected`]), logged
//! and reported as a [`BridgeEvent::Rejected`]; nothing changes on DDS.
//!
//! # Trust (issue 13)
//!
//! With a [`BridgeTrust`] (`vigil bridge zenoh --key FILE --trust FILE`):
//! the bridge's registry applies the policy to DDS adverts as a consumer's
//! does; a Zenoh producer's advert is checked the same way before a proxy
//! advertises it on DDS — signed by a key the policy allows for its
//! producer id and topic (a signature carried in the JSON advert, see
//! [`sign_json`]), not older than one already accepted (`timestamp_ns`) —
//! and a refused one is counted by reason ([`BridgeStats::adverts_refused`]),
//! logged and reported ([`BridgeEvent::Refused`]); under `warn` it is
//! accepted and counted ([`BridgeStats::adverts_warned`]). The bridge signs
//! its proxies' DDS adverts and the adverts it exports with its key: the
//! consumers' policy must let that key speak for those producers
//! (`speaks_for`).
//!
//! # Deviations and limits
//!
//! - Adverts of origin `dds` are never imported: they are some bridge's
//!   export of a DDS producer, and importing them would loop DDS → Zenoh →
//!   DDS. One bridge per DDS domain and Zenoh network.
//! - A proxied producer's health comes from a small tree (`<producer>`:
//!   the worst of `health`, fed with the Zenoh advert's state and reason,
//!   and `fresh`, fed by its samples); its confidence and trend are the
//!   tree's.
//! - Zenoh samples are written on DDS in XCDR1 little endian (what vigil,
//!   ROS 2 and Cyclone send for plain types) and, on keyless topics, XCDR2
//!   little endian; others are counted as dropped. XCDR2 samples go out
//!   through a second writer the advert does not name, so consumers that
//!   follow the advertised writer (vigil's do) see only the XCDR1 ones.
//! - A DDS writer whose samples arrive before its advert is not forwarded
//!   (vigil routes advertised producers, not anonymous writers), nor are
//!   the samples of a Zenoh producer without both advert and token; both
//!   are counted apart from losses
//!   ([`BridgeStats::samples_unadvertised`]).
//! - The bridge's DDS readers request the topic's `reliability`
//!   (`reliable` by default, as vigil's data writers are): set
//!   `best_effort` to forward best-effort writers, which a reliable reader
//!   never matches.
//! - What remote peers send is bounded: queues from Zenoh drop and count
//!   when full ([`BridgeStats::inputs_dropped`]), an advert without a
//!   liveliness token is forgotten after 10 s, and at most 4096 Zenoh
//!   producers are tracked ([`BridgeStats::adverts_evicted`],
//!   [`BridgeStats::producers_refused`]).
//! - Followed streams: at most [`MAX_FOLLOWED`], each a selector with its
//!   own DDS readers of the adverts. A stream a Zenoh application declared
//!   stops once no subscriber has matched its key for 5 s (its
//!   applications left; [`BridgeEvent::Unfollowed`]); the config's stay.
//!   An application sharing a stream of the config gets that stream's
//!   policy. The hot-standby buffer orders samples by the
//!   bridge's reception time (Zenoh samples carry no source timestamp).
//!
//! # Layout
//!
//! - `config`: [`BridgeConfig`], the YAML config file, every problem with
//!   its line ([`ConfigError`]).
//! - `keys`: the key space and the escaping of names into chunks.
//! - `advert_json`: [`AdvertJson`], the advert schema on Zenoh, checked
//!   field by field.
//! - `producers`: when a Zenoh producer is up or down (pure).
//! - `export`: what of the DDS registry to (re)publish (pure diff).
//! - `best`: the best-producer answer (pure, on vigil's selection).
//! - `follow`: a followed stream: its selector, filter and switch events.
//! - `proxy`: a Zenoh producer's raw DDS writer, advertiser and tree.
//! - `signed_json`: signed JSON adverts ([`sign_json`], [`open_signed`]).
//! - `event`: [`BridgeEvent`], one per routing decision.
//! - `plugin_info`: [`PluginInfo`], what a zenohd plugin built from this
//!   tree is compatible with.
//! - `error`: [`ConfigError`], [`BridgeError`].
//! - `bridge`: the I/O shell, [`run`].

mod advert_json;
mod best;
mod bridge;
mod config;
mod error;
mod event;
mod export;
mod follow;
mod keys;
mod plugin_info;
mod producers;
mod proxy;
mod signed_json;
#[cfg(test)]
mod testkit;

pub use advert_json::{
    AdvertJson, AdvertJsonError, FieldIssue, HealthJson, Origin, ADVERT_JSON_VERSION,
    MAX_ADVERT_BYTES,
};
pub use bridge::{run, run_in_session, run_recorded, BridgeTrust};
pub use config::{
    BridgeConfig, DdsSettings, FollowRoute, Forward, Reliability, TopicRoute, ZenohMode,
    ZenohSettings, DEFAULT_STALE_AFTER, MAX_FOLLOWED,
};
pub use error::{BridgeError, ConfigError, ConfigProblem};
pub use event::{BridgeEvent, BridgeStats, ProducerState};
pub use plugin_info::{PluginInfo, PLUGIN_NAME};
pub use signed_json::{open_signed, sign_json, Signed, ZENOH_ADVERT_DOMAIN};
