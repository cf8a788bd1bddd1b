//! The in-memory target of asana-bridge: the smallest complete target crate, and the
//! engine's test double.
//!
//! - [`world`]: [`MemoryWorld`], the items one in-memory system holds, shared between the
//!   connector the engine drives and the test that edits it "by hand" in between runs.
//! - [`connector`]: [`MemoryConnector`], the [`Connector`](asana_bridge_connector::Connector)
//!   over a world (either side of a link: a stand-in for Asana or a target).
//! - [`target`]: [`MemoryTarget`], its registration as a target kind (`memory = { world =
//!   "name" }` in a link), which is all a target crate adds to the bridge.
//!
//! No I/O, no clock but a logical one: every write advances the world's clock by one
//! second from a fixed origin, so `newest` decisions are reproducible.

pub mod connector;
pub mod target;
pub mod world;

pub use connector::MemoryConnector;
pub use target::MemoryTarget;
pub use world::MemoryWorld;
