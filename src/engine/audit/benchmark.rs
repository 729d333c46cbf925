//! `audit --benchmark cis|fsbp`: a benchmark's own thresholds for the findings, and its
//! access-key controls' verdicts per account, so `audit` answers "are we compliant" as
//! well as "what to act on". The verdicts come from each key's failed controls (see
//! [`super::findings::failed_controls`]), which are judged by the benchmarks' thresholds
//! whatever `--max-age` and `--unused` say, and which a suppression does not change.

use std::time::Duration;

use serde::Serialize;

use super::findings::Thresholds;
use super::AccountAudit;

const DAY: u64 = 86_400;

/// A benchmark whose access-key controls `audit` judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Benchmark {
    /// CIS AWS Foundations Benchmark, v3.0 and v7.0 (which renumbered the access-key
    /// controls and dropped "one active key").
    Cis,
    /// AWS Foundational Security Best Practices (Security Hub's standard).
    Fsbp,
}

/// A control: its id as `controls` names it, and its title in the benchmark.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Control {
    /// `CIS-3.0-1.14`, `FSBP-IAM.3`, ….
    pub(crate) id: &'static str,
    /// The benchmark's own words.
    pub(crate) title: &'static str,
}

const CIS: &[Control] = &[
    Control {
        id: "CIS-3.0-1.4",
        title: "Ensure no 'root' user account access key exists",
    },
    Control {
        id: "CIS-3.0-1.10",
        title: "Ensure multi-factor authentication (MFA) is enabled for all IAM users that have a console password",
    },
    Control {
        id: "CIS-3.0-1.12",
        title: "Ensure credentials unused for 45 days or greater are disabled",
    },
    Control {
        id: "CIS-3.0-1.13",
        title: "Ensure there is only one active access key available for any single IAM user",
    },
    Control {
        id: "CIS-3.0-1.14",
        title: "Ensure access keys are rotated every 90 days or less",
    },
    Control {
        id: "CIS-7.0-2.4",
        title: "Ensure no 'root' user account access key exists",
    },
    Control {
        id: "CIS-7.0-2.11",
        title: "Ensure credentials unused for 45 days or more are disabled",
    },
    Control {
        id: "CIS-7.0-2.12",
        title: "Ensure access keys are rotated every 90 days or less",
    },
];

const FSBP: &[Control] = &[
    Control {
        id: "FSBP-IAM.3",
        title: "IAM users' access keys should be rotated every 90 days or less",
    },
    Control {
        id: "FSBP-IAM.4",
        title: "IAM root user access key should not exist",
    },
    Control {
        id: "FSBP-IAM.5",
        title: "MFA should be enabled for all IAM users that have a console password",
    },
    Control {
        id: "FSBP-IAM.8",
        title: "Unused IAM user credentials should be removed",
    },
    Control {
        id: "FSBP-IAM.22",
        title: "IAM user credentials unused for 45 days should be removed",
    },
];

impl Benchmark {
    /// The thresholds the benchmark's document uses: keys rotated within 90 days;
    /// unused for 45 days (CIS 1.12 / 2.11) or 90 (FSBP IAM.8).
    pub(crate) fn thresholds(self) -> Thresholds {
        let days = |d: u64| Duration::from_secs(d * DAY);
        match self {
            Benchmark::Cis => Thresholds {
                max_age: days(90),
                unused: days(45),
            },
            Benchmark::Fsbp => Thresholds {
                max_age: days(90),
                unused: days(90),
            },
        }
    }

    /// Its access-key controls.
    pub(crate) fn controls(self) -> &'static [Control] {
        match self {
            Benchmark::Cis => CIS,
            Benchmark::Fsbp => FSBP,
        }
    }
}

/// Pass or fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    /// No key fails it.
    Pass,
    /// At least one key fails it.
    Fail,
}

/// One control's verdict in one account.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct Verdict {
    /// The control's id.
    pub(crate) control: &'static str,
    /// Its title.
    pub(crate) title: &'static str,
    /// Pass or fail.
    pub(crate) status: Status,
    /// What fails it: key and certificate ids, `<root_account>` for the root user's
    /// keys, a user's name for the user's console password.
    pub(crate) failing: Vec<String>,
    /// How many credentials were judged (keys, the root user's included, passwords,
    /// certificates).
    pub(crate) checked: usize,
}

/// The verdict of each of `benchmark`'s controls in `account` (none for an account
/// that could not be audited: nothing was judged).
pub(crate) fn verdicts(benchmark: Benchmark, account: &AccountAudit) -> Vec<Verdict> {
    if account.error.is_some() {
        return Vec::new();
    }
    let keys = account
        .keys
        .iter()
        .map(|k| (k.key_id.as_str(), &k.controls));
    let root = account
        .root_keys
        .iter()
        .map(|k| ("<root_account>", &k.controls));
    // A password is named by its user; a certificate by its id.
    let other = (account.credentials.iter())
        .map(|c| (c.id.as_deref().unwrap_or(c.user.as_str()), &c.controls));
    let judged: Vec<(&str, &Vec<&str>)> = keys.chain(root).chain(other).collect();
    benchmark
        .controls()
        .iter()
        .map(|control| {
            let failing: Vec<String> = (judged.iter())
                .filter(|(_, failed)| failed.contains(&control.id))
                .map(|(id, _)| (*id).to_owned())
                .collect();
            Verdict {
                control: control.id,
                title: control.title,
                status: match failing.is_empty() {
                    true => Status::Pass,
                    false => Status::Fail,
                },
                failing,
                checked: judged.len(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_a_key_can_fail_has_a_title_in_its_benchmark() {
        let named = [
            "CIS-3.0-1.12",
            "CIS-3.0-1.13",
            "CIS-3.0-1.14",
            "CIS-7.0-2.11",
        ];
        let named = named.into_iter().chain(["CIS-7.0-2.12", "FSBP-IAM.3"]);
        let named = named.chain(["FSBP-IAM.8", "FSBP-IAM.22"]);
        let named = named.chain(super::super::findings::ROOT_KEY_CONTROLS.iter().copied());
        let named = named.chain(["CIS-3.0-1.10", "FSBP-IAM.5"]);
        for id in named {
            let benchmark = match id.starts_with("CIS") {
                true => Benchmark::Cis,
                false => Benchmark::Fsbp,
            };
            assert!(
                benchmark.controls().iter().any(|c| c.id == id),
                "{id} is not among {benchmark:?}'s controls"
            );
        }
        assert_eq!(Benchmark::Cis.thresholds().unused.as_secs(), 45 * DAY);
        assert_eq!(Benchmark::Fsbp.thresholds().unused.as_secs(), 90 * DAY);
    }
}
