//! The `secretsmanager` sink: an AWS Secrets Manager secret holding the key as
//! `credential_process` JSON, the hub other machines read the key from (`rekey sync`,
//! or `rekey credential-process --secret-id` in `~/.aws/config`).
//!
//! A rotation writes its new key as AWS's own rotation does: a new version staged
//! `AWSPENDING` (`PutSecretValue`), which readers of `AWSCURRENT` do not see; once every
//! place holds the key and the verify command passed, `AWSCURRENT` moves to it
//! (`UpdateSecretVersionStage`, the previous version becoming `AWSPREVIOUS`), and so does
//! rekey's own label [`VERIFIED`], which tells `rekey sync` on another machine that the
//! current key is a finished rotation's. Undoing a staged write drops the pending stage;
//! undoing a promoted one puts the previous value back (a version of its own), or
//! deletes a secret rekey created. Every read names `AWSCURRENT` (what a reader that
//! names no stage gets from AWS). Credentials: see [`crate::secret_store`].

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

/// AWS's stage of the version readers get.
const CURRENT: &str = "AWSCURRENT";
/// AWS's stage of a version written and not yet verified.
const PENDING: &str = "AWSPENDING";
/// rekey's stage of the version a rotation verified; it marks the key verified while
/// it is also [`CURRENT`] (a write by hand moves `AWSCURRENT` alone).
pub const VERIFIED: &str = "rekey-verified";

impl SecretsManager {
    /// The value of the version staged `stage`, if there is one.
    async fn get_stage(
        &self,
        sdk: &SdkConfig,
        stage: &str,
    ) -> Result<Option<(Zeroizing<String>, Vec<String>)>, StoreError> {
        let answer = aws::secrets_manager(sdk)
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_stage(stage)
            .send()
            .await;
        match answer {
            Ok(out) => Ok(out.secret_string.map(|value| {
                (
                    Zeroizing::new(value),
                    out.version_stages.unwrap_or_default(),
                )
            })),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(StoreError::from_sdk("secretsmanager:GetSecretValue", &e)),
        }
    }

    /// Which version each stage is on (`DescribeSecret`); none if there is no secret.
    async fn stages(&self, sdk: &SdkConfig) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let answer = aws::secrets_manager(sdk)
            .describe_secret()
            .secret_id(&self.secret_id)
            .send()
            .await;
        let described = match answer {
            Ok(described) => described,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(Vec::new())
            }
            Err(e) => return Err(StoreError::from_sdk("secretsmanager:DescribeSecret", &e)),
        };
        Ok(described
            .version_ids_to_stages
            .unwrap_or_default()
            .into_iter()
            .collect())
    }

    /// Moves `stage` to version `to` (from wherever it is), or removes it from its
    /// version when `to` is `None`; `true` if it moved.
    async fn move_stage(
        &self,
        sdk: &SdkConfig,
        versions: &[(String, Vec<String>)],
        stage: &str,
        to: Option<&str>,
    ) -> Result<bool, StoreError> {
        let from = versions
            .iter()
            .find(|(_, stages)| stages.iter().any(|s| s == stage))
            .map(|(id, _)| id.as_str());
        if from == to {
            return Ok(false);
        }
        aws::secrets_manager(sdk)
            .update_secret_version_stage()
            .secret_id(&self.secret_id)
            .version_stage(stage)
            .set_move_to_version_id(to.map(str::to_owned))
            .set_remove_from_version_id(from.map(str::to_owned))
            .send()
            .await
            .map(|_| true)
            .map_err(|e| StoreError::from_sdk("secretsmanager:UpdateSecretVersionStage", &e))
    }

    /// `CreateSecret` holding `value` as its first (current) version.
    async fn create(&self, sdk: &SdkConfig, value: &str) -> Result<(), StoreError> {
        aws::secrets_manager(sdk)
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

    /// `PutSecretValue` of `value`, staged `stage` (AWS's default: `AWSCURRENT`); the
    /// secret is created when it is missing and the sink may create it.
    async fn put_staged(
        &self,
        sdk: &SdkConfig,
        value: &str,
        stage: Option<&str>,
    ) -> Result<(), StoreError> {
        let answer = aws::secrets_manager(sdk)
            .put_secret_value()
            .secret_id(&self.secret_id)
            .secret_string(value)
            .set_version_stages(stage.map(|s| vec![s.to_owned()]))
            .send()
            .await;
        match answer {
            Ok(_) => Ok(()),
            Err(e)
                if self.create
                    && e.as_service_error()
                        .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                self.create(sdk, value).await
            }
            Err(e) => Err(StoreError::from_sdk("secretsmanager:PutSecretValue", &e)),
        }
    }
}

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
        Ok(self.get_stage(sdk, CURRENT).await?.map(|(value, _)| value))
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
        self.put_staged(sdk, value, None).await
    }

    async fn put_pending(&self, sdk: &SdkConfig, value: &str) -> Result<bool, StoreError> {
        self.put_staged(sdk, value, Some(PENDING)).await?;
        Ok(true)
    }

    async fn get_pending(&self, sdk: &SdkConfig) -> Result<Option<Zeroizing<String>>, StoreError> {
        Ok(self.get_stage(sdk, PENDING).await?.map(|(value, _)| value))
    }

    async fn promote(&self, sdk: &SdkConfig, value: &str) -> Result<bool, StoreError> {
        let mut versions = self.stages(sdk).await?;
        let version_of = |versions: &[(String, Vec<String>)], stage: &str| {
            (versions.iter())
                .find(|(_, stages)| stages.iter().any(|s| s == stage))
                .map(|(id, _)| id.clone())
        };
        let pending = self.get_pending(sdk).await?;
        let current = self.get(sdk).await?;
        let mut changed = true;
        if pending.as_deref().map(String::as_str) == Some(value) {
            let to = version_of(&versions, PENDING);
            self.move_stage(sdk, &versions, CURRENT, to.as_deref())
                .await?;
            self.move_stage(sdk, &versions, PENDING, None).await?;
            versions = self.stages(sdk).await?;
        } else if current.as_deref().map(String::as_str) != Some(value) {
            self.put(sdk, value).await?;
            versions = self.stages(sdk).await?;
        } else {
            changed = false;
        }
        // Where AWSCURRENT is now, the verified label goes too.
        let to = version_of(&versions, CURRENT);
        let moved = self
            .move_stage(sdk, &versions, VERIFIED, to.as_deref())
            .await?;
        Ok(changed || moved)
    }

    async fn drop_pending(&self, sdk: &SdkConfig) -> Result<(), StoreError> {
        let versions = self.stages(sdk).await?;
        self.move_stage(sdk, &versions, PENDING, None)
            .await
            .map(drop)
    }

    async fn get_verified(&self, sdk: &SdkConfig) -> Result<Option<Zeroizing<String>>, StoreError> {
        let verified = self.get_stage(sdk, VERIFIED).await?;
        Ok(verified
            .filter(|(_, stages)| stages.iter().any(|s| s == CURRENT))
            .map(|(value, _)| value))
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
