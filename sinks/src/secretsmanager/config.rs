//! The manifest fields of a `secretsmanager` sink.

use std::sync::Arc;

use serde::Deserialize;

use super::SecretsManager;
use crate::secret_store::{Access, StoreSink};
use crate::sink::{BuildContext, Reach, SinkConfig};
use crate::Sink;

/// `type: secretsmanager` in the manifest.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The secret's name or ARN.
    pub secret_id: String,
    /// Its region (default: the run's, `AWS_REGION` or the config file's).
    pub region: Option<String>,
    /// The KMS key to encrypt a secret rekey creates (default: Secrets Manager's own).
    pub kms_key_id: Option<String>,
    /// Create the secret if it does not exist (default: a missing secret is an error in
    /// plan).
    #[serde(default)]
    pub create: bool,
    /// The AWS profile whose credentials read and write the secret (default: the
    /// profile's own key; see [`crate::secret_store`]).
    pub via: Option<String>,
}

impl SinkConfig for Config {
    fn build(&self, ctx: &BuildContext<'_>) -> Arc<dyn Sink> {
        let store = SecretsManager {
            secret_id: self.secret_id.clone(),
            region: self.region.clone(),
            kms_key_id: self.kms_key_id.clone(),
            create: self.create,
        };
        let access = Access::new(ctx, self.region.clone(), self.via.clone());
        Arc::new(StoreSink::new(store, access))
    }

    fn reach(&self, _: &BuildContext<'_>) -> Option<Reach> {
        Some(Reach::SendsTo(crate::secret_store::place(
            "Secrets Manager secret",
            &self.secret_id,
            self.region.as_deref(),
            self.via.as_deref(),
        )))
    }
}
