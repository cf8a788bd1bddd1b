//! The shared HTTP layer: one reqwest client per service with retries, `Retry-After`,
//! and the client-side rate budget. (Filled in by the Asana connector work.)
