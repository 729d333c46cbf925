//! The `ssm` sink: an SSM Parameter Store `SecureString` holding the key as
//! `credential_process` JSON. A write is `PutParameter` with `Overwrite`; undoing it
//! writes the previous value back, or deletes a parameter rekey created. A rotation
//! writes the parameter only once the new key is verified (a parameter has no pending
//! version its readers would skip), so they never read a key a failed rotation deletes.
//! Credentials: see [`crate::secret_store`].

mod config;

use async_trait::async_trait;
use aws_sdk_ssm::types::ParameterType;
use aws_types::SdkConfig;
use zeroize::Zeroizing;

pub use config::Config;

use crate::aws;
use crate::secret_store::{Store, StoreError};

/// One parameter, as a [`Store`].
pub struct Parameter {
    name: String,
    region: Option<String>,
    kms_key_id: Option<String>,
}

#[async_trait]
impl Store for Parameter {
    fn describe(&self) -> String {
        match &self.region {
            Some(region) => format!("SSM parameter {} ({region})", self.name),
            None => format!("SSM parameter {}", self.name),
        }
    }

    fn id(&self) -> String {
        let region = self.region.as_deref().unwrap_or("default region");
        format!("ssm {region} {}", self.name)
    }

    async fn get(&self, sdk: &SdkConfig) -> Result<Option<Zeroizing<String>>, StoreError> {
        let answer = aws::ssm(sdk)
            .get_parameter()
            .name(&self.name)
            .with_decryption(true)
            .send()
            .await;
        match answer {
            Ok(out) => Ok(out.parameter.and_then(|p| p.value).map(Zeroizing::new)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_not_found()) =>
            {
                Ok(None)
            }
            Err(e) => Err(StoreError::from_sdk("ssm:GetParameter", &e)),
        }
    }

    async fn check(&self, sdk: &SdkConfig) -> Result<(), StoreError> {
        // Reading it (or learning it is absent: PutParameter creates it) with the
        // credentials that will write it.
        self.get(sdk).await.map(|_| ())
    }

    async fn put(&self, sdk: &SdkConfig, value: &str) -> Result<(), StoreError> {
        aws::ssm(sdk)
            .put_parameter()
            .name(&self.name)
            .value(value)
            .r#type(ParameterType::SecureString)
            .set_key_id(self.kms_key_id.clone())
            .overwrite(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StoreError::from_sdk("ssm:PutParameter", &e))
    }

    /// A parameter has no pending version: it is written once the key is verified
    /// ([`Store::promote`]), so its readers never see an unverified key. (A parameter
    /// label could mark versions, but every reader would then have to name it.)
    async fn put_pending(&self, _: &SdkConfig, _: &str) -> Result<bool, StoreError> {
        Ok(false)
    }

    async fn get_pending(&self, _: &SdkConfig) -> Result<Option<Zeroizing<String>>, StoreError> {
        Ok(None)
    }

    async fn promote(&self, sdk: &SdkConfig, value: &str) -> Result<bool, StoreError> {
        match self.get(sdk).await? {
            Some(now) if now.as_str() == value => Ok(false),
            _ => self.put(sdk, value).await.map(|()| true),
        }
    }

    async fn drop_pending(&self, _: &SdkConfig) -> Result<(), StoreError> {
        Ok(())
    }

    /// Nothing marks a parameter's value verified (a person may have written it).
    async fn get_verified(&self, _: &SdkConfig) -> Result<Option<Zeroizing<String>>, StoreError> {
        Ok(None)
    }

    async fn remove(&self, sdk: &SdkConfig) -> Result<(), StoreError> {
        aws::ssm(sdk)
            .delete_parameter()
            .name(&self.name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StoreError::from_sdk("ssm:DeleteParameter", &e))
    }
}
