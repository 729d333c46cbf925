//! The access key type: an id that may be shown and a secret that must never be.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// An IAM access key: its id (`AKIA…`, safe to print) and its secret access key.
///
/// The secret is only reachable through [`AccessKey::secret`] and then
/// [`ExposeSecret::expose_secret`], which marks every place that handles it. `Debug` prints
/// the id and `[REDACTED]`; there is deliberately no `Display`.
#[derive(Clone)]
pub struct AccessKey {
    id: String,
    secret: SecretString,
}

/// Why a pair of strings is not a plausible access key.
///
/// Keys are written verbatim into INI, dotenv and other text formats, so anything outside
/// the alphabet AWS uses (letters, digits, `/`, `+`, `=`) is refused rather than escaped.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidKeyMaterial {
    /// The access key id is empty or holds characters other than ASCII letters and digits.
    #[error("access key id `{0}` is not of the form AKIA… (ASCII letters and digits)")]
    Id(String),
    /// The secret is empty or holds characters outside `A-Z a-z 0-9 / + =`.
    #[error("the secret access key is empty or holds characters an access key cannot hold")]
    Secret,
}

impl AccessKey {
    /// Pairs an access key id with its secret, refusing material that could not be a key.
    pub fn new(id: impl Into<String>, secret: SecretString) -> Result<Self, InvalidKeyMaterial> {
        let id = id.into();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(InvalidKeyMaterial::Id(id));
        }
        let plausible = |c: char| c.is_ascii_alphanumeric() || matches!(c, '/' | '+' | '=');
        let s = secret.expose_secret();
        if s.is_empty() || !s.chars().all(plausible) {
            return Err(InvalidKeyMaterial::Secret);
        }
        Ok(Self { id, secret })
    }

    /// The access key id, e.g. `AKIAIOSFODNN7EXAMPLE`. Not a secret.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The secret access key. Call `expose_secret()` only where it is written or sent.
    pub fn secret(&self) -> &SecretString {
        &self.secret
    }
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    #[test]
    fn debug_never_shows_the_secret() {
        let key = AccessKey::new("AKIAIOSFODNN7EXAMPLE", SECRET.into()).unwrap();
        let shown = format!("{key:?} {key:#?}");
        assert!(shown.contains("AKIAIOSFODNN7EXAMPLE"));
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains("REDACTED"));
    }

    #[test]
    fn refuses_material_that_would_break_a_text_file() {
        assert_eq!(
            AccessKey::new("AKIA X", SECRET.into()).unwrap_err(),
            InvalidKeyMaterial::Id("AKIA X".into())
        );
        for bad in ["", "abc def", "abc#def", "abc\ndef", "abc\"def"] {
            assert_eq!(
                AccessKey::new("AKIAX", bad.into()).unwrap_err(),
                InvalidKeyMaterial::Secret,
                "{bad:?}"
            );
        }
    }
}
