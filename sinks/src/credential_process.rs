//! The `credential_process` JSON (`{"Version":1,"AccessKeyId":…,"SecretAccessKey":…}`):
//! the value the keyring and secret-store sinks hold, so the AWS CLI and SDKs can use
//! it directly through `rekey credential-process`.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::AccessKey;

/// The `credential_process` JSON. Field names are AWS's.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProcessCredentials {
    version: u32,
    access_key_id: String,
    secret_access_key: String,
}

/// `credential_process` JSON for `key`.
pub fn encode(key: &AccessKey) -> Zeroizing<String> {
    use secrecy::ExposeSecret;
    let value = ProcessCredentials {
        version: 1,
        access_key_id: key.id().to_owned(),
        secret_access_key: key.secret().expose_secret().to_owned(),
    };
    let json = Zeroizing::new(serde_json::to_string(&value).expect("plain data"));
    drop(Zeroizing::new(value.secret_access_key));
    json
}

/// The key in `credential_process` JSON (the message never quotes the value).
pub fn decode(json: &str) -> Result<AccessKey, String> {
    let value: ProcessCredentials = serde_json::from_str(json)
        .map_err(|_| "the stored value is not credential_process JSON ({\"Version\":1,\"AccessKeyId\":…,\"SecretAccessKey\":…})".to_owned())?;
    let key = AccessKey::new(
        value.access_key_id.as_str(),
        SecretString::from(value.secret_access_key.as_str()),
    );
    drop(Zeroizing::new(value.secret_access_key));
    key.map_err(|e| e.to_string())
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
