//! The contract every sink implements, and how one is built from its manifest entry.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use secrecy::SecretSlice;

use crate::{AccessKey, SinkError};

/// A place that holds one access key: a credentials-file section, a `.env` file, …
///
/// The engine calls these in a fixed order during a rotation: [`Sink::check`] while
/// planning, then [`Sink::snapshot`] (whose result it stores before going on),
/// [`Sink::write`], and [`Sink::restore`] (with the key it wrote) if the rotation is
/// rolled back.
#[async_trait]
pub trait Sink: Send + Sync {
    /// A one-line, secret-free description for plans and errors, e.g.
    /// `credentials file ~/.aws/credentials [dev]`.
    fn describe(&self) -> String;

    /// A stable identity made from the sink's configuration alone (its type and where
    /// it writes: path and section, service and account, command line), the same for
    /// the life of the configuration and whatever the place answers. The journal records
    /// it, so recovery can tell the manifest still names the same places; unlike
    /// [`Sink::describe`], which is for people and may change once a plugin has
    /// described itself, it is never shown as a label.
    fn id(&self) -> String;

    /// The key the place holds now, or `None` if it holds none. Only the profile's first
    /// sink must be able to give the secret too.
    async fn read(&self) -> Result<Option<AccessKey>, SinkError>;

    /// The id of the key the place holds now (for drift detection). Sinks that cannot
    /// hand out the secret (plugins) override this.
    async fn read_id(&self) -> Result<Option<String>, SinkError> {
        Ok(self.read().await?.map(|key| key.id().to_owned()))
    }

    /// Whether [`Sink::write`] can succeed, checked without changing anything, and what
    /// it will do beyond putting the key in place (create the place, replace a
    /// read-only file), for the plan to say.
    async fn check(&self) -> Result<Checked, SinkError>;

    /// Everything needed to put the place back exactly as it is now.
    async fn snapshot(&self) -> Result<Snapshot, SinkError>;

    /// Stores `key` in the place, atomically, changing nothing else.
    ///
    /// A place that knows better than a snapshot how to undo its write (a plugin) returns
    /// that undo data; the engine then keeps it instead of the snapshot.
    async fn write(&self, key: &AccessKey) -> Result<Option<Snapshot>, SinkError>;

    /// Stores `key`, which a rotation has not verified yet: as [`Sink::write`], except
    /// that a place other machines read from (a hub) keeps it from its readers until
    /// [`Sink::promote`]. Secrets Manager writes it as the `AWSPENDING` version; SSM
    /// writes nothing yet. Everything else writes it at once (the default).
    async fn stage(&self, key: &AccessKey) -> Result<Option<Snapshot>, SinkError> {
        self.write(key).await
    }

    /// Hands `key`, staged by [`Sink::stage`] and now verified, to the place's readers,
    /// and marks it verified where the place can say so. Called once every place holds
    /// the key and the verify command passed, before the old key is deactivated; called
    /// again by recovery, so doing it twice changes nothing. `true` if it changed
    /// anything.
    async fn promote(&self, _key: &AccessKey) -> Result<bool, SinkError> {
        Ok(false)
    }

    /// Whether the place holds key `key_id`: as its value, or staged and not promoted.
    async fn holds(&self, key_id: &str) -> Result<bool, SinkError> {
        Ok(self.read_id().await?.as_deref() == Some(key_id))
    }

    /// Whether the place marks key `key_id`, its current value, as verified by the
    /// rotation that wrote it (see [`Sink::promote`]): what lets `rekey sync` on another
    /// machine adopt it without a record of that rotation. `false` when it cannot say.
    async fn verified(&self, _key_id: &str) -> Result<bool, SinkError> {
        Ok(false)
    }

    /// Undoes rekey's write of `written` to the place, `snapshot` being what it held
    /// before. Only that edit is undone: a place shared with others (another section of
    /// the same file, written by a later rotation) keeps their changes. A place that
    /// changed since in a way rekey cannot undo alone is refused with an error, never
    /// overwritten; one that already holds what it held before is left as it is.
    async fn restore(&self, snapshot: &Snapshot, written: &AccessKey) -> Result<(), SinkError>;

    /// What two processes must not write at once (a file's resolved path, a keyring
    /// entry), or `None` if the place guards itself (plugins).
    fn lock_key(&self) -> Option<String> {
        None
    }

    /// Whether the place lives on this machine alone (a file, the OS keyring). Its
    /// previous content then never leaves the machine: a journal copy in the shared
    /// state holds none of it (for a credentials file, every other profile's secret),
    /// since no other machine could restore it anyway.
    fn machine_local(&self) -> bool {
        false
    }

    /// The file this sink writes, resolved (through a symlink, `..` gone), if it writes
    /// one: how `rekey find` tells which copies of a key a sink keeps current.
    fn file(&self) -> Option<std::path::PathBuf> {
        None
    }

    /// Removes what an interrupted write may have left beside the place (for files: a
    /// temporary file holding the new secret). Called when recovering.
    async fn clean_up(&self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// What [`Sink::check`] found a write will do, beyond putting the key in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// The place is there and takes the key.
    Ready,
    /// The place does not exist; the write creates it (its configuration allows it).
    Creates,
    /// The file is read-only (no write permission bit); the write replaces it (a rename,
    /// which its folder allows) and the new file keeps that mode.
    ReplacesReadOnly,
}

/// What a place held before a write: the bytes of a file, or that it did not exist.
///
/// It usually holds a secret (the old key), so it is zeroized on drop and has no `Debug`
/// that shows the bytes.
pub enum Snapshot {
    /// The place did not exist; restoring removes it.
    Absent,
    /// The exact bytes the place held.
    Bytes(SecretSlice<u8>),
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Snapshot::Absent => f.write_str("Snapshot::Absent"),
            Snapshot::Bytes(_) => f.write_str("Snapshot::Bytes([REDACTED])"),
        }
    }
}

/// What building a sink needs from around it: the profile and how paths resolve.
pub struct BuildContext<'a> {
    /// The profile the sink belongs to (the default section, keyring account, …).
    pub profile: &'a str,
    /// The shared credentials file (`$AWS_SHARED_CREDENTIALS_FILE`, else
    /// `~/.aws/credentials`).
    pub credentials_file: &'a Path,
    /// The AWS config file (`$AWS_CONFIG_FILE`, else `~/.aws/config`).
    pub config_file: &'a Path,
    /// Resolves a path as the manifest writes it: `~` is the home, and a relative path
    /// is relative to the manifest's folder.
    pub expand: &'a dyn Fn(&str) -> PathBuf,
    /// The run's shared AWS configuration (HTTP client, region, retries; no
    /// credentials), for the secret-store sinks.
    pub sdk: &'a crate::aws::SdkConfig,
}

/// A sink's manifest configuration. Deserializing it checks everything that can be
/// checked without I/O (a bad value is a manifest error with its line and column);
/// building cannot fail.
pub trait SinkConfig {
    /// The sink this configuration describes, for `ctx`'s profile.
    fn build(&self, ctx: &BuildContext<'_>) -> Arc<dyn Sink>;

    /// What this sink runs, or where it sends the key beyond this machine's files and
    /// keyring: what a person must have trusted before a manifest naming it is used
    /// (issue 29). `None`: it only keeps the key in a place of this machine that exists.
    fn reach(&self, ctx: &BuildContext<'_>) -> Option<Reach> {
        let _ = ctx;
        None
    }
}

/// What a sink does beyond keeping the key in a place of this machine that exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// It runs this program (resolved) with these arguments, and hands it the key.
    Runs(Vec<String>),
    /// It sends the key to this place (described for a person).
    SendsTo(String),
    /// It may create this file, which does not exist yet, to hold the key.
    Creates(PathBuf),
}
