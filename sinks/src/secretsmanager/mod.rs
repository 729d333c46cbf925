//! The `secretsmanager` sink: an AWS Secrets Manager secret holding the key as
//! `credential_process` JSON, the hub other machines read the key from (`rekey sync`,
//! or `rekey credential-process --secret-id` in `~/.aws/config`).
//!
//! A write is `PutSecretValue`: a new version, the previous one staying as
//! `AWSPREVIOUS`. Undoing it puts the previous value back (a version of its own), or
//! deletes a secret rekey created. Credentials: see [`crate::secret_store`].

mod config;

use async_trait::async_trait;
use aws_types::SdkConfig;
use zeroize::Zeroizing;

pub use config::Config;

use crate::aws;
use crate::secret_store::{Store, StoreError};

/// One secret, as a [`Store`].
pub struct SecretsManager {
    secret_id: String,
    region: Option<String>,
    kms_key_id: Option<String>,
    create: bool,
}

const NOT_FOUND: &str = "ResourceNotFoundException";

#[async_trait]
impl Store for SecretsManager {
    fn describe(&self) -> String {
        match &self.region {
            Some(region) => format!("Secrets Manager secret {} ({region})", self.secret_id),
            None => format!("Secrets Manager secret {}", self.secret_id),
        }
    }

    fn id(&self) -> String {
        let region = self.region.as_deref().unwrap_or("default region");
        format!("secretsmanager {region} {}", self.secret_id)
    }

    async fn get(&self, sdk: &SdkConfig) -> Result<Option<Zeroizing<String>>, StoreError> {
        let answer = aws::secrets_manager(sdk)
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await;
        match answer {
            Ok(out) => Ok(out.secret_string.map(Zeroizing::new)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(StoreError::from_sdk("secretsmanager:GetSecretValue", &e)),
        }
    }

    async fn check(&self, sdk: &SdkConfig) -> Result<(), StoreError> {
        let answer = aws::secrets_manager(sdk)
            .describe_secret()
            .secret_id(&self.secret_id)
            .send()
            .await;
        match answer {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                if self.create {
                    Ok(())
                } else {
                    Err(StoreError::Other(format!(
                        "the secret does not exist ({NOT_FOUND}): create it, or set `create: true` on the sink"
                    )))
                }
            }
            Err(e) => Err(StoreError::from_sdk("secretsmanager:DescribeSecret", &e)),
        }
    }

    async fn put(&self, sdk: &SdkConfig, value: &str) -> Result<(), StoreError> {
        let client = aws::secrets_manager(sdk);
        let answer = client
            .put_secret_value()
            .secret_id(&self.secret_id)
            .secret_string(value)
            .send()
            .await;
        match answer {
            Ok(_) => Ok(()),
            Err(e)
                if self.create
                    && e.as_service_error()
                        .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                client
                    .create_secret()
                    .name(&self.secret_id)
                    .set_kms_key_id(self.kms_key_id.clone())
                    .secret_string(value)
                    .description("An AWS access key as credential_process JSON, written by rekey")
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| StoreError::from_sdk("secretsmanager:CreateSecret", &e))
            }
            Err(e) => Err(StoreError::from_sdk("secretsmanager:PutSecretValue", &e)),
        }
    }

    async fn remove(&self, sdk: &SdkConfig) -> Result<(), StoreError> {
        aws::secrets_manager(sdk)
            .delete_secret()
            .secret_id(&self.secret_id)
            .force_delete_without_recovery(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StoreError::from_sdk("secretsmanager:DeleteSecret", &e))
    }
}
