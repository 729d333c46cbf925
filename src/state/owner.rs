//! Whose rotation a journal or a pending deletion records: one record, flattened into
//! both files (their JSON is the same as when the fields were written out in each).

use serde::{Deserialize, Serialize};

/// The profile a rotation was for (with the profiles rotated with it because they held
/// the same key) and the IAM user whose key it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Owner {
    /// The profile (the first of a group sharing a key).
    pub(crate) profile: String,
    /// Profiles rotated with `profile` because they held the same key; recovery and
    /// rollback rebuild the combined sink list from them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) also: Vec<String>,
    /// The account id.
    pub(crate) account: String,
    /// The user's ARN.
    pub(crate) user_arn: String,
    /// The user's name.
    pub(crate) user_name: String,
}

impl Owner {
    /// Whether this is `profile`'s rotation (alone or shared).
    pub(crate) fn concerns(&self, profile: &str) -> bool {
        self.profile == profile || self.also.iter().any(|p| p == profile)
    }

    /// The profiles of this rotation, in order.
    pub(crate) fn members(&self) -> Vec<String> {
        std::iter::once(self.profile.clone())
            .chain(self.also.iter().cloned())
            .collect()
    }
}

#[cfg(test)]
impl Owner {
    /// The owner tests use: `profile`'s rotation of IAM user `user_name` in account
    /// 123456789012.
    pub(crate) fn example(profile: &str, user_name: &str) -> Self {
        Self {
            profile: profile.to_owned(),
            also: Vec::new(),
            account: "123456789012".into(),
            user_arn: format!("arn:aws:iam::123456789012:user/{user_name}"),
            user_name: user_name.to_owned(),
        }
    }
}
