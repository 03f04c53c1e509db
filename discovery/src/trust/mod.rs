//! Trust (issue 13): who may advertise what, and proof of it.
//!
//! Producers sign their adverts with Ed25519 ([`sign_advert`]) and
//! authenticate heartbeats with a hash chain the signed advert commits to
//! ([`HashChain`]); receivers verify ([`Verifier`], [`ChainCheck`]) and
//! apply a [`TrustPolicy`] read from a trust file. The registry applies all
//! of it; what it refuses is a [`Refusal`].
//!
//! # Layout
//!
//! - `refusal`: [`Refusal`], why an input was refused, and the counters.
//! - `keys`: [`KeyPair`] and [`PublicKey`], and their files.
//! - `sign`: the advert signature and its [`Verifier`].
//! - `on_behalf`: the signature of a supervisor's FAILED-on-behalf word.
//! - `chain`: the heartbeat hash chain.
//! - `detached`: signatures over other bytes (a Zenoh producer's JSON
//!   advert), [`sign_detached`] and [`Verifier::verify_detached`].
//! - `policy`: [`TrustPolicy`], [`TrustMode`], globs.
//! - `file`: the trust file reader.
mod chain;
mod detached;
mod file;
mod keys;
mod on_behalf;
mod policy;
mod refusal;
mod sign;

pub use chain::{chain_id, ChainCheck, HashChain, HeartbeatAuth, CHAIN_LEN, HEARTBEAT_AUTH_LEN};
pub use detached::sign_detached;
pub use keys::{KeyError, KeyPair, PublicKey};
pub use on_behalf::{sign_failed_on_behalf, ON_BEHALF_SIGNATURE_LEN};
pub use policy::{Glob, TrustMode, TrustPolicy, TrustedKey};
pub use refusal::{Refusal, RefusedStats};
pub use sign::{sign_advert, AdvertProof, Verifier, ADVERT_SIGNATURE_LEN};
