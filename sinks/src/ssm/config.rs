//! The manifest fields of an `ssm` sink.

use std::sync::Arc;

use serde::Deserialize;

use super::Parameter;
use crate::secret_store::{Access, StoreSink};
use crate::sink::{BuildContext, Reach, SinkConfig};
use crate::Sink;

/// `type: ssm` in the manifest.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The parameter's name (e.g. `/ci/app/aws`).
    pub name: String,
    /// Its region (default: the run's).
    pub region: Option<String>,
    /// The KMS key of the SecureString (default: the account's `aws/ssm` key).
    pub kms_key_id: Option<String>,
    /// The AWS profile whose credentials read and write it (default: the profile's own
    /// key; see [`crate::secret_store`]).
    pub via: Option<String>,
}

impl SinkConfig for Config {
    fn build(&self, ctx: &BuildContext<'_>) -> Arc<dyn Sink> {
        let store = Parameter {
            name: self.name.clone(),
            region: self.region.clone(),
            kms_key_id: self.kms_key_id.clone(),
        };
        let access = Access::new(ctx, self.region.clone(), self.via.clone());
        Arc::new(StoreSink::new(store, access))
    }

    fn reach(&self, _: &BuildContext<'_>) -> Option<Reach> {
        Some(Reach::SendsTo(crate::secret_store::place(
            "SSM parameter",
            &self.name,
            self.region.as_deref(),
            self.via.as_deref(),
        )))
    }
}
