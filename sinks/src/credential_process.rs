//! The `credential_process` JSON (`{"Version":1,"AccessKeyId":…,"SecretAccessKey":…}`):
//! the value the keyring and secret-store sinks hold, so the AWS CLI and SDKs can use
//! it directly through `rekey credential-process`.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::AccessKey;

/// The `credential_process` JSON as rekey writes it, borrowing the key it encodes (no
/// copy of the secret to wipe). Field names are AWS's.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Encoded<'a> {
    version: u32,
    access_key_id: &'a str,
    secret_access_key: &'a str,
}

/// The `credential_process` JSON as read: the secret a `SecretString` from the moment
/// it is parsed (redacted in `Debug`, wiped on drop).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Decoded {
    access_key_id: String,
    #[serde(deserialize_with = "crate::key::deserialize_secret")]
    secret_access_key: SecretString,
}

/// `credential_process` JSON for `key`.
pub fn encode(key: &AccessKey) -> Zeroizing<String> {
    use secrecy::ExposeSecret;
    let value = Encoded {
        version: 1,
        access_key_id: key.id(),
        secret_access_key: key.secret().expose_secret(),
    };
    Zeroizing::new(serde_json::to_string(&value).expect("plain data"))
}

/// The key in `credential_process` JSON (the message never quotes the value).
pub fn decode(json: &str) -> Result<AccessKey, String> {
    let value: Decoded = serde_json::from_str(json)
        .map_err(|_| "the stored value is not credential_process JSON ({\"Version\":1,\"AccessKeyId\":…,\"SecretAccessKey\":…})".to_owned())?;
    AccessKey::new(value.access_key_id.as_str(), value.secret_access_key).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn encodes_what_credential_process_expects_and_reads_it_back() {
        let key = AccessKey::new("AKIAKEYRING000000001", "s3cret/Key+1".into()).unwrap();
        let json = encode(&key);
        assert_eq!(
            json.as_str(),
            r#"{"Version":1,"AccessKeyId":"AKIAKEYRING000000001","SecretAccessKey":"s3cret/Key+1"}"#
        );
        let back = decode(&json).unwrap();
        assert_eq!(
            (back.id(), back.secret().expose_secret()),
            (key.id(), "s3cret/Key+1")
        );
        let err =
            decode("{\"Version\":1,\"AccessKeyId\":\"X\",\"Secret\":\"SECRETVALUE\"}").unwrap_err();
        assert!(!err.contains("SECRETVALUE"), "{err}");
    }
}
