//! Programs rekey started (plugins, the verify command) that may outlive it: each runs
//! in a process group of its own, which survives if rekey is killed. While one runs,
//! `$STATE/children/<group>.json` records its group and deadline; the run that recovers
//! from a crash first waits for any recorded group still running (no longer than its
//! deadline), so an orphaned plugin cannot finish writing the new key after recovery
//! put the old one back.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::{corrupt, StateDir, StateError};
use crate::time::serde_rfc3339;

/// A process group rekey started, and when it must be done.
#[derive(Debug, Serialize, Deserialize)]
struct Running {
    group: i32,
    #[serde(with = "serde_rfc3339")]
    deadline: SystemTime,
    /// The rekey process that started it: while that one lives, the group is its own
    /// business (it kills the group at the deadline), not an orphan.
    rekey: i32,
}

impl StateDir {
    fn child_path(&self, group: i32) -> PathBuf {
        self.path(&["children", &format!("{group}.json")])
    }

    /// Records that process group `group` runs until `deadline` at the latest.
    pub(crate) fn record_child(&self, group: i32, deadline: SystemTime) -> Result<(), StateError> {
        let rekey = rustix::process::getpid().as_raw_nonzero().get();
        self.write_child(&Running {
            group,
            deadline,
            rekey,
        })
    }

    fn write_child(&self, running: &Running) -> Result<(), StateError> {
        let json = serde_json::to_vec(running).expect("plain data");
        self.write(&self.child_path(running.group), &json)
    }

    /// Forgets process group `group` (it ended).
    pub(crate) fn forget_child(&self, group: i32) -> Result<(), StateError> {
        self.remove(&self.child_path(group))
    }

    /// Waits until no orphaned process group runs any more (one whose rekey process is
    /// gone), each no longer than its deadline, and forgets them; a group a live rekey
    /// process runs is left to it. Returns a note for each orphan still running past its
    /// deadline (rekey does not kill it: after a reboot its number may be another's).
    pub(crate) async fn wait_for_orphans(&self) -> Result<Vec<String>, StateError> {
        let mut notes = Vec::new();
        for path in self.list(&self.path(&["children"]))? {
            let Some(bytes) = self.read(&path)? else {
                continue;
            };
            let running: Running = serde_json::from_slice(&bytes).map_err(|e| corrupt(&path, e))?;
            if is_running(running.group) && is_alive(running.rekey) {
                continue;
            }
            while is_running(running.group) {
                if SystemTime::now() >= running.deadline {
                    notes.push(format!(
                        "process group {} that an interrupted rekey started is still running past its deadline; rekey goes on without it",
                        running.group
                    ));
                    break;
                }
                // Polling another process's group, bounded by its deadline.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            self.remove(&path)?;
        }
        Ok(notes)
    }
}

fn is_running(group: i32) -> bool {
    rustix::process::Pid::from_raw(group)
        .is_some_and(|pid| rustix::process::test_kill_process_group(pid).is_ok())
}

/// Whether process `process` of this host still exists (a stopped one does).
pub(crate) fn is_alive(process: i32) -> bool {
    rustix::process::Pid::from_raw(process)
        .is_some_and(|pid| rustix::process::test_kill_process(pid).is_ok())
}

/// Records every program [`rekey_sinks::child`] starts in the state dir, for the
/// duration of its run.
pub(crate) struct ChildRecorder(pub StateDir);

impl rekey_sinks::child::ChildWatcher for ChildRecorder {
    fn started(&self, group: i32, deadline: SystemTime) {
        if let Err(e) = self.0.record_child(group, deadline) {
            tracing::warn!("{e}");
        }
    }

    fn ended(&self, group: i32) {
        if let Err(e) = self.0.forget_child(group) {
            tracing::warn!("{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    use super::*;

    fn group_of(child: &std::process::Child) -> i32 {
        i32::try_from(child.id()).unwrap()
    }

    /// The id of a process that has exited (the rekey that crashed).
    fn a_dead_process() -> i32 {
        let mut done = Command::new("true").spawn().unwrap();
        done.wait().unwrap();
        group_of(&done)
    }

    /// Records `group` as started by a rekey that is gone, due by `deadline`.
    fn orphan(state: &StateDir, group: i32, deadline: SystemTime) {
        let rekey = a_dead_process();
        state
            .write_child(&Running {
                group,
                deadline,
                rekey,
            })
            .unwrap();
    }

    #[tokio::test]
    async fn recovery_waits_for_an_orphaned_group_to_end() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path().join("state"));
        let mut orphan = Command::new("sleep")
            .arg("0.3")
            .process_group(0)
            .spawn()
            .unwrap();
        let group = group_of(&orphan);
        self::orphan(&state, group, SystemTime::now() + Duration::from_secs(30));
        // A real orphan's parent is gone and init reaps it; here the test is the parent.
        let reaper = std::thread::spawn(move || orphan.wait().unwrap());
        let notes = state.wait_for_orphans().await.unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        assert!(!is_running(group), "waited until it ended");
        assert!(reaper.join().unwrap().success());
        assert!(!state.child_path(group).exists(), "forgotten");
    }

    #[tokio::test]
    async fn a_group_past_its_deadline_is_left_running_with_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path().join("state"));
        let mut stuck = Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let group = group_of(&stuck);
        orphan(&state, group, SystemTime::now() - Duration::from_secs(1));
        let notes = state.wait_for_orphans().await.unwrap();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            is_running(group),
            "rekey does not kill what it cannot identify"
        );
        assert!(!state.child_path(group).exists());
        stuck.kill().unwrap();
        stuck.wait().unwrap();
    }

    #[tokio::test]
    async fn a_group_a_live_rekey_runs_is_left_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path().join("state"));
        let mut live = Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let group = group_of(&live);
        // Recorded by this process, which is alive: not an orphan.
        state
            .record_child(group, SystemTime::now() + Duration::from_secs(30))
            .unwrap();
        let notes = state.wait_for_orphans().await.unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        assert!(state.child_path(group).exists(), "left to its rekey");
        live.kill().unwrap();
        live.wait().unwrap();
    }
}
