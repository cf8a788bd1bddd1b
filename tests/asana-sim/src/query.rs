//! Query strings: decoding into ordered pairs and encoding back (for `next_page.path`).
//! Hand-rolled so malformed input becomes an Asana-style 400 instead of axum's plain text.

/// Decoded `key=value` pairs in request order.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// Parses a raw query string (`a=1&b=x%20y`).
    pub fn parse(raw: Option<&str>) -> Params {
        let Some(raw) = raw else {
            return Params::default();
        };
        Params(
            raw.split('&')
                .filter(|p| !p.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode(k), decode(v))
                })
                .collect(),
        )
    }

    /// The last value given for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Re-encodes all pairs except those named in `skip`.
    pub fn encode_without(&self, skip: &[&str]) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| !skip.contains(&k.as_str()))
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect()
    }
}

/// Percent-decodes, treating `+` as a space.
pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes everything but unreserved characters.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b',') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decoding handles `%xx`, `+` and a dangling `%`.
    #[test]
    fn round_trips() {
        let p = Params::parse(Some("a=x%20y&b=1+2&c=%&opt_fields=name,notes"));
        assert_eq!(p.get("a"), Some("x y"));
        assert_eq!(p.get("b"), Some("1 2"));
        assert_eq!(p.get("c"), Some("%"));
        assert_eq!(
            p.encode_without(&["a", "b", "c"]),
            vec!["opt_fields=name,notes"]
        );
        assert_eq!(decode(&encode("a b/ü")), "a b/ü");
    }
}
