//! What the `blockpart` command and its tests share: the partitioner component as a
//! conformance backend, hosts in other languages driven as one ([`driven`]), the benchmark,
//! and the two listings of a partition table.
//!
//! Embedders take `blockpart-host` instead: this crate is the command line's, with its
//! dependencies.

pub mod bench;
mod component_backend;
pub mod list;

/// Hosts in other languages driven as one: now `blockpart_conformance::driven`, kept here
/// under its old path.
pub use blockpart_conformance::driven;
pub use blockpart_conformance::driven::DrivenBackend;
pub use component_backend::ComponentBackend;
