//! The secret the machines of one manifest share to authenticate the journal copies
//! they leave in the shared bucket (`state: s3://…`, issue 29). Anyone the bucket's
//! policy lets write could plant a journal there, and a journal tells a machine which
//! key to deactivate; a copy is therefore acted on only when its tag, an HMAC-SHA256
//! over its name and bytes made with this key, verifies.
//!
//! Why an HMAC and not a KMS signature: it needs no other AWS permission or service,
//! works the same offline and on the emulator, and the fleet shares it as it shares any
//! CI secret: `REKEY_FLEET_KEY` in the environment (a CI secret, a systemd credential),
//! else `fleet.key` in the state dir, created on first use from the system's random
//! source, to be copied to the fleet's other machines. A machine with another key
//! (or none) reports the copies it cannot verify and acts on none of them.

use std::path::PathBuf;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{StateDir, StateError};

/// The environment variable that holds the fleet key, for machines that keep no state
/// dir between runs.
pub(crate) const ENV: &str = "REKEY_FLEET_KEY";

/// The shortest key accepted: 32 characters (`openssl rand -hex 32` gives 64).
const MIN_LEN: usize = 32;

/// The fleet's key. No `Debug`: it is a secret.
pub(crate) struct FleetKey(Zeroizing<Vec<u8>>);

impl FleetKey {
    fn from_text(text: &str, whence: &str) -> Result<Self, String> {
        let text = text.trim();
        match text.len() >= MIN_LEN {
            true => Ok(Self(Zeroizing::new(text.as_bytes().to_vec()))),
            false => Err(format!(
                "{whence} is shorter than {MIN_LEN} characters; make one with `openssl rand -hex 32`"
            )),
        }
    }

    /// A key for unit tests.
    #[cfg(test)]
    pub(crate) fn for_tests() -> Self {
        Self::from_text(&"k".repeat(MIN_LEN), "test").expect("long enough")
    }

    fn mac(&self, name: &str, bytes: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).expect("any length");
        // The name is part of what is authenticated: a genuine copy of one user's
        // journal cannot be moved to another user's name.
        mac.update(b"rekey journal copy v1\n");
        mac.update(name.as_bytes());
        mac.update(b"\n");
        mac.update(bytes);
        mac
    }

    /// The tag of the copy `name` holding `bytes`, in hex.
    pub(crate) fn tag(&self, name: &str, bytes: &[u8]) -> String {
        crate::digest::hex(&self.mac(name, bytes).finalize().into_bytes())
    }

    /// Whether `tag` is the tag of `name` holding `bytes` (compared in constant time).
    pub(crate) fn verifies(&self, name: &str, bytes: &[u8], tag: &str) -> bool {
        let Some(tag) = crate::digest::from_hex(tag) else {
            return false;
        };
        self.mac(name, bytes).verify_slice(&tag).is_ok()
    }
}

impl StateDir {
    fn fleet_key_path(&self) -> PathBuf {
        self.path(&["fleet.key"])
    }

    /// The fleet key: `$REKEY_FLEET_KEY`, else the state dir's `fleet.key`, created
    /// (32 random bytes, in hex, mode 0600) when there is none.
    pub(crate) fn fleet_key(&self) -> Result<FleetKey, StateError> {
        let invalid = |path: PathBuf, why: String| StateError {
            action: "use the fleet key",
            path,
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, why),
        };
        if let Some(text) = std::env::var(ENV).ok().filter(|t| !t.is_empty()) {
            return FleetKey::from_text(&text, ENV).map_err(|why| invalid(PathBuf::from(ENV), why));
        }
        let path = self.fleet_key_path();
        if let Some(bytes) = self.read(&path)? {
            let text = String::from_utf8_lossy(&bytes);
            return FleetKey::from_text(&text, &rekey_sinks::shown::path(&path))
                .map_err(|why| invalid(path.clone(), why));
        }
        let mut random = Zeroizing::new([0u8; 32]);
        getrandom::fill(random.as_mut()).map_err(|e| StateError {
            action: "make the fleet key",
            path: path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let text = Zeroizing::new(crate::digest::hex(random.as_ref()));
        self.write(&path, text.as_bytes())?;
        tracing::warn!(
            "made a fleet key ({}) to authenticate this machine's journal copies in the shared state; give the fleet's other machines the same key (copy the file, or set {ENV} from a secret)",
            path.display()
        );
        FleetKey::from_text(&text, "the new key").map_err(|why| invalid(path, why))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_binds_the_key_the_name_and_the_bytes() {
        let key = FleetKey::from_text(&"k".repeat(40), "test").unwrap();
        let other = FleetKey::from_text(&"j".repeat(40), "test").unwrap();
        let tag = key.tag("journal/1-a.json", b"{}");
        assert!(key.verifies("journal/1-a.json", b"{}", &tag));
        assert!(!other.verifies("journal/1-a.json", b"{}", &tag));
        assert!(!key.verifies("journal/1-b.json", b"{}", &tag));
        assert!(!key.verifies("journal/1-a.json", b"{ }", &tag));
        assert!(!key.verifies("journal/1-a.json", b"{}", "not hex"));
        assert!(FleetKey::from_text("short", "test").is_err());
    }

    #[test]
    fn a_state_dir_makes_its_key_once_and_keeps_it_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path().join("state"));
        let first = state.fleet_key().unwrap();
        let again = state.fleet_key().unwrap();
        let tag = first.tag("n", b"x");
        assert!(again.verifies("n", b"x", &tag));
        let mode = std::fs::metadata(dir.path().join("state/fleet.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
