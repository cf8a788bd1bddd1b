//! Asana connector.
