//! The rotation journal: each step of a rotation is recorded here *before* it is taken.
//!
//! A crash at any instant therefore leaves a record of the last step that may have
//! happened, including the new key's secret from the moment IAM returns it, and the
//! content of every sink before it was written. When the rotation ends (done or rolled
//! back) the journal and the backups are deleted, so secrets do not linger.

use std::path::PathBuf;
use std::time::SystemTime;

use rekey_sinks::{AccessKey, Snapshot};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::Owner;
use super::{corrupt, off_runtime, Copied, Replica, StateDir, StateError};
use crate::time::serde_rfc3339;

/// Where a rotation stands. Each variant is recorded before the action it names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub(crate) enum Phase {
    /// Nothing changed yet.
    Planned,
    /// Deleting an inactive key to make room for the new one.
    DeletingStaleKey {
        /// The key being deleted.
        key_id: String,
    },
    /// `CreateAccessKey` is being called; a key may exist whose secret is not recorded.
    CreatingKey {
        /// The user's key ids before the call, to find a key created without an answer.
        existing: Vec<String>,
        /// When the call was sent (the Unix epoch in journals of older versions, which
        /// did not record it).
        #[serde(with = "serde_rfc3339", default = "unknown_time")]
        attempted_at: SystemTime,
    },
    /// The new key exists and its secret is in this journal.
    KeyCreated,
    /// The new key has been proven to work.
    Propagated,
    /// Sink `index` is being written; its previous content is in the backups.
    WritingSink {
        /// Index in the profile's sink list.
        index: usize,
    },
    /// Every sink holds the new key.
    SinksWritten,
    /// The verification command is running.
    Verifying,
    /// The old key is being deactivated.
    DeactivatingOldKey,
    /// Undoing the rotation.
    RollingBack {
        /// Why.
        reason: String,
    },
}

fn unknown_time() -> SystemTime {
    SystemTime::UNIX_EPOCH
}

/// What the journal file holds.
#[derive(Serialize, Deserialize)]
pub(crate) struct JournalRecord {
    /// Whose rotation it is.
    #[serde(flatten)]
    pub(crate) owner: Owner,
    /// The key being replaced.
    pub(crate) old_key_id: String,
    /// The sinks, described, in order (for people; a plugin describes itself).
    pub(crate) sinks: Vec<String>,
    /// The sinks' stable identities ([`rekey_sinks::Sink::id`]), in order: what recovery
    /// compares with the manifest. Empty in journals of rekey before 0.2, which recovery
    /// then compares by description.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) sink_ids: Vec<String>,
    /// When the rotation started.
    #[serde(with = "serde_rfc3339")]
    pub(crate) started_at: SystemTime,
    /// The current phase.
    #[serde(flatten)]
    pub(crate) phase: Phase,
    /// The new key, once created. This is the only copy of its secret outside the sinks.
    pub(crate) new_key: Option<StoredKey>,
    /// The key being replaced, with its secret (already in the first sink's backup), so
    /// that undoing signs with the key IAM surely accepts rather than with a new key
    /// that may still be propagating. `None` where the secret is not at hand (`rekey
    /// rollback`, journals of older versions): undo then signs with the new key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) old_key: Option<StoredKey>,
    /// The places (by index) that live on this machine alone
    /// ([`rekey_sinks::Sink::machine_local`]): their backups never go to the shared
    /// state, whose copy marks them `<n>.elsewhere` instead (issue 29).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) local_places: Vec<usize>,
    /// Whether the journal is copied to the shared state (`state: s3://…`): if that copy
    /// is gone, another machine has resolved the rotation.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) replicated: bool,
}

impl JournalRecord {
    /// Whether `sinks` are the places this rotation wrote: by identity, or by description
    /// for a journal that recorded none.
    pub(crate) fn same_sinks(&self, sinks: &[std::sync::Arc<dyn rekey_sinks::Sink>]) -> bool {
        if self.sink_ids.is_empty() {
            let described: Vec<String> = sinks.iter().map(|s| s.describe()).collect();
            return described == self.sinks;
        }
        let ids: Vec<String> = sinks.iter().map(|s| s.id()).collect();
        ids == self.sink_ids
    }

    /// Whether this is `profile`'s rotation (alone or shared).
    pub(crate) fn concerns(&self, profile: &str) -> bool {
        self.owner.concerns(profile)
    }

    /// The profiles of this rotation, in order.
    pub(crate) fn members(&self) -> Vec<String> {
        self.owner.members()
    }
}

/// A key as stored in the journal: the one place rekey serializes a secret.
#[derive(Serialize, Deserialize)]
pub(crate) struct StoredKey {
    /// The access key id.
    pub(crate) id: String,
    /// The secret.
    #[serde(serialize_with = "expose", deserialize_with = "conceal")]
    pub(crate) secret: SecretString,
}

impl StoredKey {
    /// The key as it is stored.
    pub(crate) fn from_key(key: &AccessKey) -> Self {
        Self {
            id: key.id().to_owned(),
            secret: key.secret().clone(),
        }
    }

    /// The key, if the stored id is one.
    pub(crate) fn to_key(&self) -> Option<AccessKey> {
        AccessKey::new(self.id.as_str(), self.secret.clone()).ok()
    }
}

fn expose<S: serde::Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose_secret())
}

fn conceal<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
    String::deserialize(d).map(SecretString::from)
}

/// An open rotation journal for one user.
pub(crate) struct Journal {
    state: StateDir,
    path: PathBuf,
    backups: PathBuf,
    record: JournalRecord,
    /// Where every write is copied too (`state: s3://…`), once [`Journal::replicate`]d.
    replica: Option<std::sync::Arc<dyn Replica>>,
}

/// A journal for this user already exists: an earlier rotation did not finish.
#[derive(Debug, thiserror::Error)]
#[error(
    "an earlier rotation of {user_arn} was interrupted ({phase}); its journal {} keeps the new key and the sink backups. `rekey recover` finishes or undoes it (and `rekey apply` does first); then rotate this user again",
    rekey_sinks::shown::path(path)
)]
pub(crate) struct Interrupted {
    /// The user.
    pub(crate) user_arn: String,
    /// The recorded phase.
    pub(crate) phase: String,
    /// The journal file.
    pub(crate) path: PathBuf,
}

/// Starting a journal failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BeginError {
    /// An unfinished rotation of the same user is recorded.
    #[error(transparent)]
    Interrupted(#[from] Interrupted),
    /// The state directory failed.
    #[error(transparent)]
    State(#[from] StateError),
}

impl StateDir {
    fn journal_name(account: &str, user_name: &str) -> String {
        format!("{account}-{user_name}")
    }

    /// The unfinished rotation recorded for this user, if any.
    pub(crate) fn interrupted(
        &self,
        account: &str,
        user_name: &str,
    ) -> Result<Option<Interrupted>, StateError> {
        let path = self.path(&[
            "journal",
            &format!("{}.json", Self::journal_name(account, user_name)),
        ]);
        let Some(bytes) = self.read(&path)? else {
            return Ok(None);
        };
        let existing: JournalRecord =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(&path, e))?;
        Ok(Some(Interrupted {
            user_arn: existing.owner.user_arn,
            phase: phase_name(&existing.phase),
            path,
        }))
    }
}

impl StateDir {
    /// Every unfinished rotation recorded in the state directory, as open journals.
    pub(crate) fn unfinished(&self) -> Result<Vec<Journal>, StateError> {
        let mut journals = Vec::new();
        for path in self.list(&self.path(&["journal"]))? {
            let Some(bytes) = self.read(&path)? else {
                continue;
            };
            let record: JournalRecord =
                serde_json::from_slice(&bytes).map_err(|e| corrupt(&path, e))?;
            let name = StateDir::journal_name(&record.owner.account, &record.owner.user_name);
            journals.push(Journal {
                state: self.clone(),
                backups: self.path(&["backups", &name]),
                path,
                record,
                replica: None,
            });
        }
        Ok(journals)
    }
}

impl StateDir {
    /// Writes a journal copied from the shared state (`copied`) into this state dir,
    /// backups first, so the usual recovery resolves it here. Refused if this state dir
    /// has a journal of that name already.
    pub(crate) async fn import_journal(&self, copied: Copied) -> Result<(), StateError> {
        let path = self.path(&["journal", &format!("{}.json", copied.name)]);
        if self.read(&path)?.is_some() {
            return Ok(());
        }
        let backups = self.path(&["backups", &copied.name]);
        let state = self.clone();
        off_runtime(move || {
            remove_dir(&backups)?;
            for (file, bytes) in &copied.backups {
                state.write(&backups.join(file), bytes)?;
            }
            state.write(&path, &copied.record)
        })
        .await
    }
}

impl Journal {
    /// The journal as it is on disk now (`None` once its rotation has ended), for a
    /// reader that waited for the rotation's lock.
    pub(crate) fn reload(self) -> Result<Option<Journal>, StateError> {
        let Some(bytes) = self.state.read(&self.path)? else {
            return Ok(None);
        };
        let record = serde_json::from_slice(&bytes).map_err(|e| corrupt(&self.path, e))?;
        Ok(Some(Journal { record, ..self }))
    }

    /// What the journal holds.
    pub(crate) fn record(&self) -> &JournalRecord {
        &self.record
    }

    /// The new key recorded in the journal, if it was created.
    pub(crate) fn new_key(&self) -> Option<AccessKey> {
        self.record.new_key.as_ref()?.to_key()
    }

    /// The key being replaced, if the journal holds its secret.
    pub(crate) fn old_key(&self) -> Option<AccessKey> {
        self.record.old_key.as_ref()?.to_key()
    }

    /// Whether sink `index`'s previous content was saved (so it may have been written),
    /// here or, for a journal imported from the shared state, on the machine that wrote
    /// it ([`Journal::backup_elsewhere`]).
    pub(crate) fn has_backup(&self, index: usize) -> bool {
        self.backups.join(index.to_string()).exists() || self.backup_elsewhere(index)
    }

    /// Whether sink `index`'s previous content stayed on the machine that began this
    /// rotation (a place of that machine alone; the journal was imported): undoing can
    /// only put the old key back if the place here holds the new one.
    pub(crate) fn backup_elsewhere(&self, index: usize) -> bool {
        self.backups.join(format!("{index}.elsewhere")).exists()
    }

    /// Like [`Journal::begin`], with the sinks' previous content saved *before* the
    /// journal exists, so that no moment has a journal whose backups are incomplete.
    pub(crate) async fn begin_with_backups(
        state: &StateDir,
        record: JournalRecord,
        backups: &[Snapshot],
    ) -> Result<Self, BeginError> {
        if let Some(interrupted) =
            state.interrupted(&record.owner.account, &record.owner.user_name)?
        {
            return Err(interrupted.into());
        }
        let name = StateDir::journal_name(&record.owner.account, &record.owner.user_name);
        let journal = Self {
            state: state.clone(),
            backups: state.path(&["backups", &name]),
            path: state.path(&["journal", &format!("{name}.json")]),
            record,
            replica: None,
        };
        let backups: Vec<_> = backups.iter().map(owned_bytes).collect();
        let json = journal.record_json();
        off_runtime(move || {
            remove_dir(&journal.backups)?;
            for (index, bytes) in backups.iter().enumerate() {
                save_backup_in(
                    &journal.state,
                    &journal.backups,
                    index,
                    bytes.as_ref().map(|b| b.as_slice()),
                )?;
            }
            journal.state.write(&journal.path, &json)?;
            Ok(journal)
        })
        .await
    }

    /// Opens a journal for `record`'s user and records it, refusing if one exists.
    /// Backups an earlier, unrecorded attempt may have left are cleared.
    pub(crate) async fn begin(state: &StateDir, record: JournalRecord) -> Result<Self, BeginError> {
        Self::begin_with_backups(state, record, &[]).await
    }

    /// The journal file.
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// The recorded phase.
    pub(crate) fn phase(&self) -> &Phase {
        &self.record.phase
    }

    /// Records `phase`; call before taking the action it names.
    pub(crate) async fn advance(&mut self, phase: Phase) -> Result<(), StateError> {
        self.record.phase = phase;
        let json = self.record_json();
        let (state, path, local) = (self.state.clone(), self.path.clone(), json.clone());
        off_runtime(move || state.write(&path, &local)).await?;
        self.copy(&self.record_name(), &json).await
    }

    /// From now on, every write of this journal is copied to `replica` too, starting
    /// with what it holds already (the record and every backup).
    pub(crate) async fn replicate(
        &mut self,
        replica: std::sync::Arc<dyn Replica>,
    ) -> Result<(), StateError> {
        self.replica = Some(replica);
        if !self.record.replicated {
            self.record.replicated = true;
            let json = self.record_json();
            let (state, path) = (self.state.clone(), self.path.clone());
            off_runtime(move || state.write(&path, &json)).await?;
        }
        // Every backup file (`<n>` and `<n>.absent`), not only JSON.
        let files: Vec<PathBuf> = match std::fs::read_dir(&self.backups) {
            Ok(entries) => entries.filter_map(Result::ok).map(|e| e.path()).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => {
                return Err(StateError {
                    action: "list",
                    path: self.backups.clone(),
                    source,
                })
            }
        };
        for file in files {
            if let (Some(bytes), Some(file_name)) = (self.state.read(&file)?, file.file_name()) {
                let file_name = file_name.to_string_lossy();
                match self.local_index(&file_name) {
                    Some(index) => self.copy_elsewhere(index).await?,
                    None => {
                        let name = format!("{}/{file_name}", self.backups_name());
                        self.copy(&name, &bytes).await?;
                    }
                }
            }
        }
        self.copy(&self.record_name(), &self.record_json()).await
    }

    /// Drops this state dir's copy of a journal another machine resolved (its shared
    /// copy is gone): nothing of it is left to do here.
    pub(crate) async fn forget_resolved(self) -> Result<(), StateError> {
        Journal {
            replica: None,
            ..self
        }
        .finish()
        .await
    }

    /// `journal/<name>.json`, as the replica names it.
    fn record_name(&self) -> String {
        format!("journal/{}.json", self.name())
    }

    /// `backups/<name>`, as the replica names it.
    fn backups_name(&self) -> String {
        format!("backups/{}", self.name())
    }

    /// `<account>-<user>`: the journal's name, here and in the shared state.
    pub(crate) fn name(&self) -> String {
        StateDir::journal_name(&self.record.owner.account, &self.record.owner.user_name)
    }

    /// The place a backup file (`<n>`, `<n>.absent`) belongs to, if that place lives on
    /// this machine alone.
    fn local_index(&self, file_name: &str) -> Option<usize> {
        let index = file_name.split('.').next()?.parse().ok()?;
        self.record.local_places.contains(&index).then_some(index)
    }

    /// Marks in the replica that place `index`'s backup stays here (`<n>.elsewhere`,
    /// empty): no byte of a machine-local place goes to the shared state.
    async fn copy_elsewhere(&self, index: usize) -> Result<(), StateError> {
        let name = format!("{}/{index}.elsewhere", self.backups_name());
        self.copy(&name, b"").await
    }

    /// Copies `bytes` as `name` to the replica, if there is one.
    async fn copy(&self, name: &str, bytes: &[u8]) -> Result<(), StateError> {
        let Some(replica) = &self.replica else {
            return Ok(());
        };
        replica.put(name, bytes).await.map_err(|e| StateError {
            action: "copy to the shared state",
            path: self.path.clone(),
            source: std::io::Error::other(e),
        })
    }

    /// Removes the replica's copy (before the local one: a copy left behind would be
    /// imported and resolved again by another machine).
    async fn uncopy(&self) -> Result<(), StateError> {
        let Some(replica) = &self.replica else {
            return Ok(());
        };
        replica
            .remove_journal(&self.name(), self.record.sinks.len())
            .await
            .map_err(|e| StateError {
                action: StateError::SHARED_COPY_LEFT,
                path: self.path.clone(),
                source: std::io::Error::other(e),
            })
    }

    /// Records the new key (and its secret) with phase [`Phase::KeyCreated`].
    pub(crate) async fn record_new_key(&mut self, key: &AccessKey) -> Result<(), StateError> {
        self.record.new_key = Some(StoredKey::from_key(key));
        self.advance(Phase::KeyCreated).await
    }

    /// Stores sink `index`'s previous content (before it is written).
    pub(crate) async fn save_backup(
        &self,
        index: usize,
        snapshot: &Snapshot,
    ) -> Result<(), StateError> {
        let bytes = owned_bytes(snapshot);
        let (state, dir) = (self.state.clone(), self.backups.clone());
        let local = bytes.clone();
        off_runtime(move || {
            save_backup_in(&state, &dir, index, local.as_ref().map(|b| b.as_slice()))
        })
        .await?;
        if self.record.local_places.contains(&index) {
            return self.copy_elsewhere(index).await;
        }
        let backups = self.backups_name();
        match bytes {
            Some(bytes) => self.copy(&format!("{backups}/{index}"), &bytes).await,
            None => {
                self.copy(&format!("{backups}/{index}"), b"").await?;
                self.copy(&format!("{backups}/{index}.absent"), b"").await
            }
        }
    }

    /// Sink `index`'s content before it was written.
    pub(crate) fn backup(&self, index: usize) -> Result<Snapshot, StateError> {
        self.state.read_backup(&self.backups, index)
    }

    /// Ends the rotation: deletes the journal (and with it the secret) and the backups.
    pub(crate) async fn finish(self) -> Result<(), StateError> {
        self.uncopy().await?;
        off_runtime(move || {
            self.state.remove(&self.path)?;
            remove_dir(&self.backups)
        })
        .await
    }

    /// Ends a completed rotation, keeping the sinks' previous content as the history of
    /// `old_key_id` until that key is deleted, so `rekey rollback` can restore it.
    pub(crate) async fn finish_keeping_history(self, old_key_id: &str) -> Result<(), StateError> {
        self.uncopy().await?;
        let history = self.state.history_dir(old_key_id);
        off_runtime(move || self.keep_history(&history)).await
    }

    fn keep_history(self, history: &std::path::Path) -> Result<(), StateError> {
        remove_dir(history)?;
        if self.backups.is_dir() {
            rekey_sinks::atomic::create_private_dir_all(
                history.parent().expect("under the state dir"),
            )
            .and_then(|()| std::fs::rename(&self.backups, history))
            .map_err(|source| StateError {
                action: "keep the backups of",
                path: self.backups.clone(),
                source,
            })?;
        }
        self.state.remove(&self.path)
    }

    /// The record as the journal file holds it (with the secret, so zeroized on drop).
    fn record_json(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(serde_json::to_vec_pretty(&self.record).expect("plain data serializes"))
    }
}

/// A snapshot's bytes, owned so they can move to the blocking pool (`None`: absent).
pub(super) fn owned_bytes(snapshot: &Snapshot) -> Option<Zeroizing<Vec<u8>>> {
    match snapshot {
        Snapshot::Absent => None,
        Snapshot::Bytes(bytes) => Some(Zeroizing::new(bytes.expose_secret().to_vec())),
    }
}

/// Stores sink `index`'s previous content in `dir` (`None`: the place did not exist).
pub(super) fn save_backup_in(
    state: &StateDir,
    dir: &std::path::Path,
    index: usize,
    bytes: Option<&[u8]>,
) -> Result<(), StateError> {
    let path = dir.join(index.to_string());
    let absent = dir.join(format!("{index}.absent"));
    match bytes {
        None => state
            .write(&path, b"")
            .and_then(|()| state.write(&absent, b"")),
        Some(bytes) => {
            state.remove(&absent)?;
            state.write(&path, bytes)
        }
    }
}

impl StateDir {
    /// Where the sinks' content from before the rotation that retired `key_id` is kept.
    pub(crate) fn history_dir(&self, key_id: &str) -> PathBuf {
        self.path(&["history", key_id])
    }

    /// Whether a history is kept for `key_id` and holds a backup of sink `index`.
    pub(crate) fn has_history(&self, key_id: &str, index: usize) -> bool {
        let dir = self.history_dir(key_id);
        dir.join(index.to_string()).exists()
    }

    /// Sink `index`'s content from before the rotation that retired `key_id`.
    pub(crate) fn history_backup(
        &self,
        key_id: &str,
        index: usize,
    ) -> Result<Snapshot, StateError> {
        self.read_backup(&self.history_dir(key_id), index)
    }

    /// Forgets the history of `key_id` (the key is deleted: nothing to roll back to).
    pub(crate) async fn forget_history(&self, key_id: &str) -> Result<(), StateError> {
        let history = self.history_dir(key_id);
        off_runtime(move || remove_dir(&history)).await
    }

    pub(super) fn read_backup(
        &self,
        dir: &std::path::Path,
        index: usize,
    ) -> Result<Snapshot, StateError> {
        if self.read(&dir.join(format!("{index}.absent")))?.is_some() {
            return Ok(Snapshot::Absent);
        }
        let path = dir.join(index.to_string());
        match self.read(&path)? {
            Some(bytes) => Ok(Snapshot::Bytes(bytes.to_vec().into())),
            None => Err(StateError {
                action: "read backup",
                path,
                source: std::io::ErrorKind::NotFound.into(),
            }),
        }
    }
}

pub(super) fn remove_dir(dir: &std::path::Path) -> Result<(), StateError> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StateError {
            action: "remove",
            path: dir.to_owned(),
            source,
        }),
    }
}

fn phase_name(phase: &Phase) -> String {
    match phase {
        Phase::Planned => "planned".into(),
        Phase::DeletingStaleKey { key_id } => format!("while deleting inactive key {key_id}"),
        Phase::CreatingKey { .. } => "while creating the new key".into(),
        Phase::KeyCreated => "after creating the new key".into(),
        Phase::Propagated => "after the new key propagated".into(),
        Phase::WritingSink { index } => format!("while writing sink {}", index + 1),
        Phase::SinksWritten => "after writing every sink".into(),
        Phase::Verifying => "while running the verification command".into(),
        Phase::DeactivatingOldKey => "while deactivating the old key".into(),
        Phase::RollingBack { reason } => format!("while rolling back ({reason})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn record() -> JournalRecord {
        JournalRecord {
            owner: Owner::example("dev", "alice"),
            old_key_id: "AKIAOLD".into(),
            sinks: vec!["credentials file x [dev]".into()],
            sink_ids: vec!["credentials file x [dev]".into()],
            started_at: crate::time::now(),
            phase: Phase::Planned,
            new_key: None,
            old_key: None,
            local_places: Vec::new(),
            replicated: false,
        }
    }

    #[tokio::test]
    async fn records_the_secret_privately_and_scrubs_it_when_finished() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path().join("state"));
        let mut journal = Journal::begin(&state, record()).await.unwrap();
        let key = AccessKey::new("AKIANEW", "s3cr3t/Key".into()).unwrap();
        journal.record_new_key(&key).await.unwrap();
        journal
            .save_backup(0, &Snapshot::Bytes(b"old bytes".to_vec().into()))
            .await
            .unwrap();
        journal.save_backup(1, &Snapshot::Absent).await.unwrap();

        let text = std::fs::read_to_string(journal.path()).unwrap();
        assert!(
            text.contains("s3cr3t/Key") && text.contains("\"phase\": \"key_created\""),
            "{text}"
        );
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(journal.path()), 0o600);
        assert_eq!(mode(state.root()), 0o700);
        assert!(matches!(journal.backup(1).unwrap(), Snapshot::Absent));
        match journal.backup(0).unwrap() {
            Snapshot::Bytes(b) => assert_eq!(b.expose_secret(), b"old bytes"),
            Snapshot::Absent => panic!("backup 0 lost"),
        }

        let err = Journal::begin(&state, record())
            .await
            .err()
            .expect("second journal for the same user");
        assert!(
            err.to_string().contains("after creating the new key"),
            "{err}"
        );

        let path = journal.path().to_owned();
        journal.finish().await.unwrap();
        assert!(!path.exists());
        assert!(!dir.path().join("state/backups/123456789012-alice").exists());
    }
}
