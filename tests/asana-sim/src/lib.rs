//! Asana simulator.
