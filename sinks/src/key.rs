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
    /// The access key id is empty or holds characters other than upper-case ASCII letters
    /// and digits. The value is never repeated: it is often a secret in the wrong place.
    #[error("the access key id is not of the form AKIA… (upper-case letters and digits); is the secret in its place?")]
    Id,
    /// The secret is empty or holds characters outside `A-Z a-z 0-9 / + =`.
    #[error("the secret access key is empty or holds characters an access key cannot hold")]
    Secret,
}

impl AccessKey {
    /// Pairs an access key id with its secret, refusing material that could not be a key.
    pub fn new(id: impl Into<String>, secret: SecretString) -> Result<Self, InvalidKeyMaterial> {
        let id = id.into();
        if !Self::is_plausible_id(&id) {
            return Err(InvalidKeyMaterial::Id);
        }
        let plausible = |c: char| c.is_ascii_alphanumeric() || matches!(c, '/' | '+' | '=');
        let s = secret.expose_secret();
        if s.is_empty() || !s.chars().all(plausible) {
            return Err(InvalidKeyMaterial::Secret);
        }
        // Whatever a plugin or a verify command prints from now on is shown without it.
        crate::child::remember_secret(s);
        Ok(Self { id, secret })
    }

    /// Whether `id` could be an access key id (non-empty, upper-case ASCII letters and
    /// digits, as every IAM key id is: `AKIA…`, `ASIA…`), so that it may be shown.
    /// Anything else is never printed: it may be a secret in the wrong field (a secret
    /// has lower-case letters, `/` or `+`).
    pub fn is_plausible_id(id: &str) -> bool {
        !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
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

/// Serde's `deserialize_with` for a secret: read straight into a `SecretString`, the
/// text it was parsed into wiped (secrecy's own serde support does not cover `str`).
pub(crate) fn deserialize_secret<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<SecretString, D::Error> {
    use serde::Deserialize;
    let text = zeroize::Zeroizing::new(String::deserialize(d)?);
    Ok(SecretString::from(text.as_str()))
}

/// [`deserialize_secret`] for an optional field.
pub(crate) fn deserialize_optional_secret<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<SecretString>, D::Error> {
    use serde::Deserialize;
    let text = Option::<String>::deserialize(d)?.map(zeroize::Zeroizing::new);
    Ok(text.map(|t| SecretString::from(t.as_str())))
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
            InvalidKeyMaterial::Id
        );
        // Swapped id and secret: the error must not repeat the secret.
        let swapped = AccessKey::new(SECRET, "AKIAIOSFODNN7EXAMPLE".into()).unwrap_err();
        assert!(!swapped.to_string().contains(SECRET), "{swapped}");
        for bad in ["", "abc def", "abc#def", "abc\ndef", "abc\"def"] {
            assert_eq!(
                AccessKey::new("AKIAX", bad.into()).unwrap_err(),
                InvalidKeyMaterial::Secret,
                "{bad:?}"
            );
        }
    }
}
