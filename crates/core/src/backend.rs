//! Where state lives, behind one trait, and the local folder backend.

mod memory;

pub use memory::MemoryBackend;

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::state::{State, STATE_FORMAT_VERSION};

/// Who holds a stack's lock, and since when.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LockInfo {
    /// A random id of this lock.
    pub id: String,
    /// `user@host (pid N)`.
    pub who: String,
    /// The command that took it, such as `apply`.
    pub operation: String,
    /// RFC 3339 time it was taken.
    pub created: String,
    /// The host the holder runs on (absent in locks written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The holder's process id on `host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
}

impl LockInfo {
    /// Describes the current process taking a lock for `operation`. The user is the OS login
    /// name (not `$USER`, which cron jobs and containers often leave unset).
    pub fn for_current_process(operation: &str) -> LockInfo {
        let user = whoami::username().ok().filter(|u| !u.is_empty()).or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "unknown".into());
        let host = this_host();
        let pid = std::process::id();
        LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            who: format!("{user}@{host} (pid {pid})"),
            operation: operation.to_string(),
            created: now_rfc3339(),
            host: Some(host),
            pid: Some(pid),
        }
    }

    /// Whether the holder is known to be gone: it ran on this host and its process no longer
    /// exists. (A holder on another host cannot be checked from here.)
    pub fn holder_is_gone(&self) -> bool {
        match (&self.host, self.pid) {
            (Some(host), Some(pid)) if *host == this_host() => !process_exists(pid),
            _ => false,
        }
    }

    /// A lock that names no one (its document could not be read).
    pub fn unknown(who: &str) -> LockInfo {
        LockInfo { id: "?".into(), who: who.into(), operation: "?".into(), created: "?".into(), host: None, pid: None }
    }
}

fn this_host() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// Whether process `pid` exists on this host (Linux and other systems with `/proc`; elsewhere
/// a process is assumed alive, so nothing is ever called gone wrongly).
fn process_exists(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

fn locked_message(stack: &str, holder: &LockInfo) -> String {
    let mut text = format!("state of stack `{stack}` is locked by {} for `{}` since {} (lock id {})", holder.who, holder.operation, holder.created, holder.id);
    if holder.holder_is_gone() {
        text.push_str(&format!(
            "; process {} is no longer running on this host, so the lock is stale: remove it with `clawform force-unlock {stack} {}`",
            holder.pid.unwrap_or_default(),
            holder.id
        ));
    } else {
        text.push_str(&format!("; if that process is gone, run `clawform force-unlock {stack} {}`", holder.id));
    }
    text
}

/// Errors of a state backend.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// Someone else holds the stack's lock.
    #[error("{}", locked_message(stack, holder))]
    Locked {
        /// The stack.
        stack: String,
        /// Who holds the lock.
        holder: Box<LockInfo>,
    },
    /// `force-unlock` was given another lock id than the holder's.
    #[error("the lock of stack `{stack}` has id {}, not {given} (held by {} for `{}` since {}); nothing was removed", .holder.id, .holder.who, .holder.operation, .holder.created)]
    OtherLock {
        /// The stack.
        stack: String,
        /// The id given.
        given: String,
        /// Who holds the lock.
        holder: Box<LockInfo>,
    },
    /// The state document is not valid.
    #[error("state file {path} is not valid: {reason}")]
    Corrupt {
        /// Where it is.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A write would go back in time or cross lineages.
    #[error("refusing to write state of stack `{stack}`: {reason}")]
    Conflict {
        /// The stack.
        stack: String,
        /// What did not match.
        reason: String,
    },
    /// An I/O or service error.
    #[error("state backend: {0}")]
    Io(String),
}

/// A place that keeps state documents and locks, one per stack.
#[async_trait]
pub trait StateBackend: Send + Sync {
    /// Reads a stack's state, or `None` if it was never applied.
    async fn load(&self, stack: &str) -> Result<Option<State>, BackendError>;
    /// Writes a stack's state; the serial must be above the stored one and the lineage equal.
    async fn save(&self, state: &State) -> Result<(), BackendError>;
    /// Takes the stack's lock, or fails naming whoever holds it.
    async fn lock(&self, stack: &str, info: &LockInfo) -> Result<(), BackendError>;
    /// Gives the lock back (only if `info` still holds it).
    async fn unlock(&self, stack: &str, info: &LockInfo) -> Result<(), BackendError>;
    /// Removes the stack's lock if its id is `lock_id`, whoever holds it; returns who held it
    /// (`None`: not locked). Another id is [`BackendError::OtherLock`], and the lock stays.
    async fn force_unlock(&self, stack: &str, lock_id: &str) -> Result<Option<LockInfo>, BackendError>;
    /// Names of the stacks that have state.
    async fn list(&self) -> Result<Vec<String>, BackendError>;
    /// A stack's state document as JSON text, or `None` if it was never applied: for reading
    /// a few things of many documents without parsing each as a [`State`]
    /// ([`crate::dependents::UsageIndex`]). By default the state, written out.
    async fn load_document(&self, stack: &str) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self.load(stack).await?.map(|state| serde_json::to_vec(&state).expect("a state is JSON")))
    }
}

/// State files in a local folder: `NAME.json`, `NAME.json.backup` and `NAME.lock`.
#[derive(Debug, Clone)]
pub struct LocalBackend {
    dir: PathBuf,
}

impl LocalBackend {
    /// A backend storing files in `dir` (created when first written).
    pub fn new(dir: impl Into<PathBuf>) -> LocalBackend {
        LocalBackend { dir: dir.into() }
    }

    /// The state file of `stack`.
    pub fn state_path(&self, stack: &str) -> PathBuf {
        self.dir.join(format!("{stack}.json"))
    }

    fn lock_path(&self, stack: &str) -> PathBuf {
        self.dir.join(format!("{stack}.lock"))
    }

    fn read_lock(&self, stack: &str) -> Option<LockInfo> {
        let text = fs::read_to_string(self.lock_path(stack)).ok()?;
        Some(serde_json::from_str(&text).unwrap_or_else(|_| LockInfo::unknown("an unknown process (the lock file is unreadable)")))
    }

    /// Writes a stack's state (see [`StateBackend::save`]), blocking.
    fn save_now(&self, state: &State) -> Result<(), BackendError> {
        fs::create_dir_all(&self.dir).map_err(|e| io("cannot create", &self.dir, e))?;
        let path = self.state_path(&state.stack);
        let stored = match fs::read_to_string(&path) {
            Ok(text) => Some(parse_state(&text, &path.display().to_string())?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io("cannot read", &path, e)),
        };
        if let Some(old) = stored {
            if old.lineage != state.lineage {
                return Err(BackendError::Conflict {
                    stack: state.stack.clone(),
                    reason: format!("stored state has lineage {}, this one {}", old.lineage, state.lineage),
                });
            }
            if old.serial >= state.serial {
                return Err(BackendError::Conflict {
                    stack: state.stack.clone(),
                    reason: format!("stored serial {} is not below the new serial {}", old.serial, state.serial),
                });
            }
            fs::copy(&path, self.dir.join(format!("{}.json.backup", state.stack))).map_err(|e| io("cannot back up", &path, e))?;
        }
        let mut bytes = serde_json::to_vec_pretty(state).map_err(|e| BackendError::Io(e.to_string()))?;
        bytes.push(b'\n');
        write_atomically(&path, &bytes).map_err(|e| io("cannot write", &path, e))
    }
}

fn io(context: &str, path: &Path, e: std::io::Error) -> BackendError {
    BackendError::Io(format!("{context} {}: {e}", path.display()))
}

/// Parses a state document, checking its format version.
pub fn parse_state(text: &str, origin: &str) -> Result<State, BackendError> {
    let state: State = serde_json::from_str(text).map_err(|e| BackendError::Corrupt { path: origin.into(), reason: e.to_string() })?;
    if state.format_version > STATE_FORMAT_VERSION {
        return Err(BackendError::Corrupt {
            path: origin.into(),
            reason: format!("format version {} is newer than this clawform understands ({STATE_FORMAT_VERSION}); upgrade clawform", state.format_version),
        });
    }
    Ok(state)
}

/// Writes `bytes` to `path` so that a reader sees the old file or the new one, never a mix.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{}.tmp.{}", path.file_name().and_then(|n| n.to_str()).unwrap_or("state"), std::process::id()));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    // The rename itself is durable only once the directory is synced.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[async_trait]
impl StateBackend for LocalBackend {
    async fn load(&self, stack: &str) -> Result<Option<State>, BackendError> {
        let path = self.state_path(stack);
        match fs::read_to_string(&path) {
            Ok(text) => parse_state(&text, &path.display().to_string()).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("cannot read", &path, e)),
        }
    }

    async fn load_document(&self, stack: &str) -> Result<Option<Vec<u8>>, BackendError> {
        let path = self.state_path(stack);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("cannot read", &path, e)),
        }
    }

    async fn save(&self, state: &State) -> Result<(), BackendError> {
        // Blocking file writes and two fsyncs: off the async threads, so that stacks applied
        // side by side (a rollout to many tenants) do not queue behind each other's disk writes.
        let (backend, state) = (self.clone(), state.clone());
        tokio::task::spawn_blocking(move || backend.save_now(&state)).await.map_err(|e| BackendError::Io(format!("state write did not finish: {e}")))?
    }

    async fn lock(&self, stack: &str, info: &LockInfo) -> Result<(), BackendError> {
        fs::create_dir_all(&self.dir).map_err(|e| io("cannot create", &self.dir, e))?;
        let path = self.lock_path(stack);
        let bytes = serde_json::to_vec_pretty(info).map_err(|e| BackendError::Io(e.to_string()))?;
        // The lock file appears whole or not at all: its content is written and synced under a
        // name of this attempt's own, then linked to the lock's name. link(2) fails when the
        // name exists, so of two processes racing here exactly one succeeds, and a reader never
        // sees a half-written lock (which it could only call "an unknown process").
        let attempt: String = info.id.chars().filter(char::is_ascii_alphanumeric).take(40).collect();
        let tmp = self.dir.join(format!(".{stack}.lock.{attempt}.{}.tmp", std::process::id()));
        let written = File::create(&tmp).and_then(|mut f| f.write_all(&bytes).and_then(|_| f.sync_all()));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io("cannot write", &tmp, e));
        }
        // A lock given back between our failed link and our read of its holder is free again:
        // try once more rather than name no one.
        let mut outcome = Err(BackendError::Io(String::new()));
        for _ in 0..5 {
            outcome = match fs::hard_link(&tmp, &path) {
                Ok(()) => {
                    if let Ok(d) = File::open(&self.dir) {
                        let _ = d.sync_all();
                    }
                    Ok(())
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => match self.read_lock(stack) {
                    Some(holder) => Err(BackendError::Locked { stack: stack.to_string(), holder: Box::new(holder) }),
                    None => continue,
                },
                Err(e) => Err(io("cannot create", &path, e)),
            };
            break;
        }
        let _ = fs::remove_file(&tmp);
        outcome
    }

    async fn unlock(&self, stack: &str, info: &LockInfo) -> Result<(), BackendError> {
        match self.read_lock(stack) {
            Some(holder) if holder.id == info.id => fs::remove_file(self.lock_path(stack)).map_err(|e| io("cannot remove", &self.lock_path(stack), e)),
            _ => Ok(()),
        }
    }

    async fn force_unlock(&self, stack: &str, lock_id: &str) -> Result<Option<LockInfo>, BackendError> {
        let holder = self.read_lock(stack);
        if let Some(holder) = holder.as_ref().filter(|h| h.id != lock_id && h.id != "?") {
            return Err(BackendError::OtherLock { stack: stack.to_string(), given: lock_id.to_string(), holder: Box::new(holder.clone()) });
        }
        match fs::remove_file(self.lock_path(stack)) {
            Ok(()) => Ok(holder),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("cannot remove", &self.lock_path(stack), e)),
        }
    }

    async fn list(&self) -> Result<Vec<String>, BackendError> {
        let mut names = Vec::new();
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(names),
            Err(e) => return Err(io("cannot list", &self.dir, e)),
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(stack) = name.strip_suffix(".json") {
                if !stack.starts_with('.') {
                    names.push(stack.to_string());
                }
            }
        }
        names.sort();
        Ok(names)
    }
}

/// The current time in RFC 3339 (UTC, seconds).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, (rem % 3600) / 60, rem % 60)
}

// Howard Hinnant's days-to-civil algorithm: avoids a date crate for one timestamp.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_is_never_seen_half_written() {
        // Many takers race for one lock while it is taken and given back: every refusal must
        // name a real holder (a reader of a half-written file could only say "unknown").
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(dir.path());
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(4).build().unwrap();
        runtime.block_on(async {
            let mut tasks = Vec::new();
            for n in 0..8 {
                let backend = backend.clone();
                tasks.push(tokio::spawn(async move {
                    let mut unnamed = 0;
                    for _ in 0..200 {
                        let info = LockInfo::for_current_process(&format!("racer {n}"));
                        match backend.lock("race", &info).await {
                            Ok(()) => backend.unlock("race", &info).await.unwrap(),
                            Err(BackendError::Locked { holder, .. }) => unnamed += usize::from(holder.id == "?"),
                            Err(e) => panic!("{e}"),
                        }
                    }
                    unnamed
                }));
            }
            for t in tasks {
                assert_eq!(t.await.unwrap(), 0, "a refusal named no holder");
            }
        });
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(leftovers.is_empty(), "no lock or temporary file left: {leftovers:?}");
    }

    #[tokio::test]
    async fn save_keeps_a_backup_and_refuses_old_serials_and_other_lineages() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(dir.path());
        let mut state = State::new("net");
        state.serial = 1;
        backend.save(&state).await.unwrap();
        state.serial = 2;
        backend.save(&state).await.unwrap();
        assert!(dir.path().join("net.json.backup").exists());
        assert_eq!(backend.load("net").await.unwrap().unwrap().serial, 2);
        state.serial = 2;
        assert!(matches!(backend.save(&state).await, Err(BackendError::Conflict { .. })));
        let mut other = State::new("net");
        other.serial = 9;
        assert!(matches!(backend.save(&other).await, Err(BackendError::Conflict { .. })));
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_783), (2026, 11, 26));
    }
}
