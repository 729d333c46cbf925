//! A program and its arguments as the manifest writes them (`[program, args...]`):
//! never empty, checked while the manifest is read, so `mfa_command: []` is an error
//! with its line and column instead of a silent fall-back to a prompt.

use serde::Deserialize;

/// `[program, args...]` with a program that is not empty.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "Vec<String>")]
#[schemars(extend("minItems" = 1, "items" = { "type": "string" }, "prefixItems" = [{ "type": "string", "minLength": 1 }]))]
pub(crate) struct Argv(Vec<String>);

impl Argv {
    /// The program and its arguments.
    pub(crate) fn split_first(&self) -> (&String, &[String]) {
        self.0.split_first().expect("an Argv is never empty")
    }

    /// The command line as people read it (`prog arg arg`).
    pub(crate) fn shown(&self) -> String {
        self.0.join(" ")
    }

    /// The same arguments with the program replaced by `change(program)`.
    pub(crate) fn with_program(&self, change: impl FnOnce(&str) -> String) -> Self {
        let mut argv = self.0.clone();
        argv[0] = change(&argv[0]);
        Self(argv)
    }
}

impl TryFrom<Vec<String>> for Argv {
    type Error = &'static str;

    fn try_from(argv: Vec<String>) -> Result<Self, Self::Error> {
        match argv.first() {
            Some(program) if !program.is_empty() => Ok(Self(argv)),
            _ => Err("needs a program: [program, args...]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_command_or_program_is_refused() {
        assert!(Argv::try_from(vec![]).is_err());
        assert!(Argv::try_from(vec![String::new(), "x".into()]).is_err());
        let argv = Argv::try_from(vec!["echo".into(), "1".into()]).unwrap();
        assert_eq!(argv.split_first().0, "echo");
        assert_eq!(argv.shown(), "echo 1");
    }
}
