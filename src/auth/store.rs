//! Where the bridge keeps the credentials `auth login` obtained: the OS keyring (cargo
//! feature `keyring`, via keyring-core) or an owner-only JSON file (`0600` in a `0700`
//! folder). One entry per Asana API root, so the simulator and the real Asana never mix.
//!
//! An entry is an OAuth grant (refresh token, the client id it belongs to, the user who
//! signed in) or a personal access / service-account token given to
//! `auth login --with-token`. Access tokens are never stored: they live in memory for a
//! run. Nothing here implements `Debug` with a secret in it; the file is refused when its
//! permissions let anyone but its owner read it.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::AuthError;

/// A credential kept between runs.
pub enum Stored {
    /// A personal access token or service-account token.
    Token(SecretString),
    /// An OAuth grant.
    OAuth(StoredGrant),
}

impl fmt::Debug for Stored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Token(_) => f.write_str("Stored::Token([REDACTED])"),
            Self::OAuth(grant) => grant.fmt(f),
        }
    }
}

/// An OAuth grant: the refresh token and what it belongs to.
pub struct StoredGrant {
    pub refresh_token: SecretString,
    /// The app's client id (a refresh only works with the same app).
    pub client_id: String,
    /// Who signed in (from the token answer): gid, name, e-mail.
    pub user_gid: String,
    pub user_name: String,
    pub user_email: String,
}

impl fmt::Debug for StoredGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredGrant")
            .field("refresh_token", &"[REDACTED]")
            .field("client_id", &self.client_id)
            .field("user_gid", &self.user_gid)
            .finish_non_exhaustive()
    }
}

/// The serialized form (private, no `Debug`: it holds the secret in the clear).
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Wire {
    Token {
        token: String,
    },
    Oauth {
        refresh_token: String,
        client_id: String,
        #[serde(default)]
        user_gid: String,
        #[serde(default)]
        user_name: String,
        #[serde(default)]
        user_email: String,
    },
}

impl Stored {
    fn to_wire(&self) -> Wire {
        match self {
            Self::Token(t) => Wire::Token {
                token: t.expose_secret().to_owned(),
            },
            Self::OAuth(g) => Wire::Oauth {
                refresh_token: g.refresh_token.expose_secret().to_owned(),
                client_id: g.client_id.clone(),
                user_gid: g.user_gid.clone(),
                user_name: g.user_name.clone(),
                user_email: g.user_email.clone(),
            },
        }
    }

    fn from_wire(wire: Wire) -> Self {
        match wire {
            Wire::Token { token } => Self::Token(SecretString::from(token)),
            Wire::Oauth {
                refresh_token,
                client_id,
                user_gid,
                user_name,
                user_email,
            } => Self::OAuth(StoredGrant {
                refresh_token: SecretString::from(refresh_token),
                client_id,
                user_gid,
                user_name,
                user_email,
            }),
        }
    }
}

/// A place that keeps one credential per account (Asana API root).
pub trait CredentialStore: Send + Sync {
    /// Where it is, for messages (`the OS keyring`, `file /home/me/...`).
    fn describe(&self) -> String;
    /// The credential of `account`, if any.
    ///
    /// # Errors
    /// An unreadable or unsafe store.
    fn load(&self, account: &str) -> Result<Option<Stored>, AuthError>;
    /// Keeps `credential` for `account`, replacing any other.
    ///
    /// # Errors
    /// The store cannot be written.
    fn save(&self, account: &str, credential: &Stored) -> Result<(), AuthError>;
    /// Forgets `account`'s credential; `Ok(false)` when there was none.
    ///
    /// # Errors
    /// The store cannot be written.
    fn delete(&self, account: &str) -> Result<bool, AuthError>;
}

/// The default file: `$XDG_CONFIG_HOME/asana-bridge/credentials.json`, else
/// `$HOME/.config/asana-bridge/credentials.json`.
#[must_use]
pub fn default_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(base.join("asana-bridge").join("credentials.json"))
}

/// The owner-only JSON file: `{"<account>": {"kind": ..., ...}}`.
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    #[must_use]
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read_all(&self) -> Result<BTreeMap<String, Wire>, AuthError> {
        let io = |source| AuthError::Store {
            store: self.describe(),
            source,
        };
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(io(e)),
        };
        check_owner_only(&self.path)?;
        serde_json::from_str(&text).map_err(|e| AuthError::StoreFormat {
            store: self.describe(),
            // The line and column only: serde's message could quote the file's content.
            message: format!("not valid JSON at line {} column {}", e.line(), e.column()),
        })
    }

    fn write_all(&self, all: &BTreeMap<String, Wire>) -> Result<(), AuthError> {
        let io = |source| AuthError::Store {
            store: self.describe(),
            source,
        };
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| Path::new("."));
        create_private_dir(dir).map_err(io)?;
        let text = serde_json::to_string_pretty(all).map_err(|e| AuthError::StoreFormat {
            store: self.describe(),
            message: e.to_string(),
        })?;
        // Written to an owner-only temporary file in the same folder, then renamed over
        // the old one: never a moment with the secret in a readable or half-written file.
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        set_mode(tmp.path(), 0o600).map_err(io)?;
        tmp.write_all(text.as_bytes()).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(&self.path).map_err(|e| io(e.error))?;
        Ok(())
    }
}

impl CredentialStore for FileStore {
    fn describe(&self) -> String {
        format!("owner-only file {}", self.path.display())
    }

    fn load(&self, account: &str) -> Result<Option<Stored>, AuthError> {
        Ok(self.read_all()?.remove(account).map(Stored::from_wire))
    }

    fn save(&self, account: &str, credential: &Stored) -> Result<(), AuthError> {
        let mut all = self.read_all()?;
        all.insert(account.to_owned(), credential.to_wire());
        self.write_all(&all)
    }

    fn delete(&self, account: &str) -> Result<bool, AuthError> {
        let mut all = self.read_all()?;
        if all.remove(account).is_none() {
            return Ok(false);
        }
        if all.is_empty() {
            std::fs::remove_file(&self.path).map_err(|source| AuthError::Store {
                store: self.describe(),
                source,
            })?;
        } else {
            self.write_all(&all)?;
        }
        Ok(true)
    }
}

/// Creates `dir` and whichever of its parents are missing, owner-only (`0700`, narrowed
/// further by the umask if it says so). A folder that already exists keeps its mode: it
/// is the user's (a config folder, a home), not the bridge's to narrow; the credentials
/// file itself is always `0600`.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// Refuses a credentials file that its group or others may read or write (as ssh does).
#[cfg(unix)]
pub fn check_owner_only(path: &Path) -> Result<(), AuthError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|source| AuthError::Store {
            store: format!("file {}", path.display()),
            source,
        })?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(AuthError::UnsafeFile {
            path: path.to_path_buf(),
            mode: mode & 0o777,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn check_owner_only(_path: &Path) -> Result<(), AuthError> {
    Ok(())
}

/// The OS keyring through keyring-core: service `asana-bridge`, user = the account.
#[cfg(feature = "keyring")]
pub struct KeyringStore {
    store: std::sync::Arc<keyring_core::CredentialStore>,
}

#[cfg(feature = "keyring")]
impl KeyringStore {
    /// The service name entries are kept under.
    pub const SERVICE: &'static str = "asana-bridge";

    /// A store over any keyring-core store (the OS one, or the in-memory mock in tests).
    #[must_use]
    pub fn new(store: std::sync::Arc<keyring_core::CredentialStore>) -> Self {
        Self { store }
    }

    /// The platform's keyring, when this system has one that answers (a headless machine
    /// without a Secret Service has none: the owner-only file is used instead).
    #[must_use]
    pub fn os() -> Option<Self> {
        let store = Self::new(os_keyring()?);
        store.answers().then_some(store)
    }

    /// Whether reading an entry works (an absent entry counts as working).
    fn answers(&self) -> bool {
        self.entry("probe").is_ok_and(|entry| {
            matches!(
                entry.get_password(),
                Ok(_) | Err(keyring_core::Error::NoEntry)
            )
        })
    }

    fn entry(&self, account: &str) -> Result<keyring_core::Entry, AuthError> {
        keyring_core::Entry::new_in_store(&self.store, Self::SERVICE, account)
            .map_err(|e| AuthError::Keyring(keyring_message(&e)))
    }
}

/// keyring-core errors carry no secret, but some wrap platform errors verbosely: one line.
#[cfg(feature = "keyring")]
fn keyring_message(e: &keyring_core::Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_owned()
}

#[cfg(all(feature = "keyring", target_os = "linux"))]
fn os_keyring() -> Option<std::sync::Arc<keyring_core::CredentialStore>> {
    let store = zbus_secret_service_keyring_store::Store::new().ok()?;
    Some(store)
}

#[cfg(all(feature = "keyring", target_os = "macos"))]
fn os_keyring() -> Option<std::sync::Arc<keyring_core::CredentialStore>> {
    let store = apple_native_keyring_store::keychain::Store::new().ok()?;
    Some(store)
}

#[cfg(all(feature = "keyring", target_os = "windows"))]
fn os_keyring() -> Option<std::sync::Arc<keyring_core::CredentialStore>> {
    let store = windows_native_keyring_store::Store::new().ok()?;
    Some(store)
}

#[cfg(all(
    feature = "keyring",
    not(any(target_os = "linux", target_os = "macos", target_os = "windows"))
))]
fn os_keyring() -> Option<std::sync::Arc<keyring_core::CredentialStore>> {
    None
}

#[cfg(feature = "keyring")]
impl CredentialStore for KeyringStore {
    fn describe(&self) -> String {
        "the OS keyring".to_owned()
    }

    fn load(&self, account: &str) -> Result<Option<Stored>, AuthError> {
        match self.entry(account)?.get_password() {
            Ok(text) => serde_json::from_str::<Wire>(&text)
                .map(|w| Some(Stored::from_wire(w)))
                .map_err(|_| AuthError::StoreFormat {
                    store: self.describe(),
                    message: "the keyring entry is not an asana-bridge credential".to_owned(),
                }),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(AuthError::Keyring(keyring_message(&e))),
        }
    }

    fn save(&self, account: &str, credential: &Stored) -> Result<(), AuthError> {
        let text =
            serde_json::to_string(&credential.to_wire()).map_err(|e| AuthError::StoreFormat {
                store: self.describe(),
                message: e.to_string(),
            })?;
        self.entry(account)?
            .set_password(&text)
            .map_err(|e| AuthError::Keyring(keyring_message(&e)))
    }

    fn delete(&self, account: &str) -> Result<bool, AuthError> {
        match self.entry(account)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) => Err(AuthError::Keyring(keyring_message(&e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> Stored {
        Stored::OAuth(StoredGrant {
            refresh_token: SecretString::from("refresh-secret-1".to_owned()),
            client_id: "123".to_owned(),
            user_gid: "42".to_owned(),
            user_name: "Bridge Bot".to_owned(),
            user_email: "bot@example.com".to_owned(),
        })
    }

    fn round_trip(store: &dyn CredentialStore) {
        assert!(store.load("acct").expect("load").is_none());
        store.save("acct", &grant()).expect("save");
        store
            .save(
                "other",
                &Stored::Token(SecretString::from("pat-secret".to_owned())),
            )
            .expect("save");
        match store.load("acct").expect("load") {
            Some(Stored::OAuth(g)) => {
                assert_eq!(g.refresh_token.expose_secret(), "refresh-secret-1");
                assert_eq!(g.user_name, "Bridge Bot");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            store.load("other").expect("load"),
            Some(Stored::Token(t)) if t.expose_secret() == "pat-secret"
        ));
        assert!(store.delete("acct").expect("delete"));
        assert!(!store.delete("acct").expect("delete again"));
        assert!(store.load("acct").expect("load").is_none());
        assert!(store.load("other").expect("load").is_some());
    }

    /// Save, load, delete; the file is 0600 in a 0700 folder; Debug shows no secret.
    #[test]
    fn file_store_round_trip_owner_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir
            .path()
            .join("cfg")
            .join("asana-bridge")
            .join("credentials.json");
        let store = FileStore::new(path.clone());
        round_trip(&store);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode =
                |p: &Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().expect("parent")), 0o700);
        }
        let shown = format!("{:?} {:?}", grant(), store);
        assert!(!shown.contains("refresh-secret"), "{shown}");
        assert!(store.delete("other").expect("delete"));
        assert!(!path.exists(), "an empty store leaves no file");
    }

    /// A file others can read is refused, naming its mode; its content is not shown.
    #[cfg(unix)]
    #[test]
    fn readable_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("credentials.json");
        let store = FileStore::new(path.clone());
        store.save("acct", &grant()).expect("save");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = store.load("acct").expect_err("unsafe").to_string();
        assert!(err.contains("0644") && err.contains("chmod 600"), "{err}");
        assert!(!err.contains("refresh-secret"), "{err}");
    }

    /// A damaged file is reported without quoting it.
    #[test]
    fn damaged_file_is_not_quoted() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("credentials.json");
        std::fs::write(&path, "{\"acct\": secret-token-here").expect("write");
        set_mode(&path, 0o600).expect("chmod");
        let err = FileStore::new(path)
            .load("acct")
            .expect_err("bad")
            .to_string();
        assert!(!err.contains("secret-token-here"), "{err}");
    }

    /// The keyring path, against keyring-core's in-memory mock store.
    #[cfg(feature = "keyring")]
    #[test]
    fn keyring_store_round_trip_with_the_mock_store() {
        let mock = keyring_core::mock::Store::new().expect("mock store");
        let store = KeyringStore::new(mock);
        assert!(store.answers());
        round_trip(&store);
        assert_eq!(store.describe(), "the OS keyring");
    }
}
