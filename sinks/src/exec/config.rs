//! The manifest fields of an `exec` sink.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::{Plugin, DEFAULT_TIMEOUT};
use crate::duration::HumanDuration;
use crate::sink::{BuildContext, Reach, SinkConfig};
use crate::Sink;

/// `type: exec` in the manifest: a plugin program with at least its name.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(try_from = "Written")]
pub struct Config {
    /// The plugin program. With a `/` in its name it is resolved relative to the
    /// manifest's folder; otherwise it is looked up on `PATH`.
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// How long one request may take.
    pub timeout: Duration,
}

/// The fields as the manifest writes them.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Written {
    /// The plugin and its arguments.
    command: Vec<String>,
    /// How long one request may take (default 30s), e.g. `10s`, `2m`.
    timeout: Option<String>,
}

impl TryFrom<Written> for Config {
    type Error = String;

    fn try_from(written: Written) -> Result<Self, String> {
        let mut command = written.command.into_iter();
        let program = command
            .next()
            .filter(|p| !p.is_empty())
            .ok_or("an exec sink needs `command: [program, args...]`")?;
        let timeout = match written.timeout {
            None => DEFAULT_TIMEOUT,
            Some(text) => {
                text.parse::<HumanDuration>()
                    .map_err(|e| format!("exec sink timeout: {e}"))?
                    .0
            }
        };
        Ok(Self {
            program,
            args: command.collect(),
            timeout,
        })
    }
}

impl SinkConfig for Config {
    fn build(&self, ctx: &BuildContext<'_>) -> Arc<dyn Sink> {
        // `./plugin` is relative to the manifest; a bare name is found on PATH.
        let program = if self.program.contains('/') {
            (ctx.expand)(&self.program)
        } else {
            PathBuf::from(&self.program)
        };
        Arc::new(Plugin::new(program, self.args.clone(), self.timeout))
    }

    fn reach(&self, ctx: &BuildContext<'_>) -> Option<Reach> {
        let program = match self.program.contains('/') {
            true => (ctx.expand)(&self.program).display().to_string(),
            false => self.program.clone(),
        };
        Some(Reach::Runs(
            std::iter::once(program).chain(self.args.clone()).collect(),
        ))
    }
}
