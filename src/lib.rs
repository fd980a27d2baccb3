//! gdr: generative data refinement. Detect identifiers and sensitive spans,
//! rewrite text so they are gone while the useful content stays, verify the
//! rewrite, record every decision.
//!
//! One function, [`pipeline::Pipeline::rewrite`], runs a text through detect
//! → plan → rewrite → verify (commit, repair or quarantine); the CLI (and later the daemon) only differ in where
//! records come from and where results go.

pub mod bench;
pub mod config;
pub mod daemon;
pub mod detect;
pub mod error;
pub mod failpoint;
pub mod formats;
pub mod keystore;
pub mod llm;
pub mod memory;
pub mod months;
pub mod pipeline;
pub mod plan;
pub mod rewrite;
pub mod store;
pub mod verify;

pub use error::{Error, RecordError};
