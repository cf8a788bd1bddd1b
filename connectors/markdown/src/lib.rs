//! Markdown connector.
