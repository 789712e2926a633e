//! Starting control-plane processes so that they can never outlive the test process.
//!
//! Each process is started
//! - in its own process group (so terminal signals aimed at the test runner's group do not
//!   reach it half-way, and it is clearly ours), and
//! - with `PR_SET_PDEATHSIG = SIGKILL`, so the kernel kills it when its parent goes away, even
//!   when the test binary is SIGKILLed or aborts on a panic and no destructor runs.
//!
//! `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits, not the process.
//! Tests run on short-lived threads (one per test, plus runtime worker threads), and a control
//! plane shared by a suite must survive the test that started it. So every fork happens on one
//! dedicated spawner thread that lives as long as the process.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;

use crate::TestEnvError;

type SpawnJob = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns `cmd` on the process-long spawner thread.
fn spawn_on_spawner_thread(cmd: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<io::Result<mpsc::Sender<SpawnJob>>> = OnceLock::new();
    let sender = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnJob>();
        std::thread::Builder::new()
            .name("kube-testenv-spawner".into())
            .spawn(move || {
                // The sender lives in a static, so this loop (and the thread) never ends.
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .map(|_| tx)
    });
    let sender = sender
        .as_ref()
        .map_err(|e| io::Error::new(e.kind(), format!("spawner thread: {e}")))?;
    let (reply_tx, reply_rx) = mpsc::channel();
    sender
        .send((cmd, reply_tx))
        .map_err(|_| io::Error::other("kube-testenv spawner thread is gone"))?;
    reply_rx
        .recv()
        .map_err(|_| io::Error::other("kube-testenv spawner thread dropped the request"))?
}

/// A running control-plane process. Dropping it SIGKILLs the process and reaps it.
#[derive(Debug)]
pub(crate) struct ManagedChild {
    binary: &'static str,
    child: Option<Child>,
    log: PathBuf,
}

impl ManagedChild {
    /// Starts `program args...` with stdout and stderr appended to `log`.
    pub(crate) fn spawn(
        binary: &'static str,
        program: &Path,
        args: &[String],
        log: PathBuf,
    ) -> Result<Self, TestEnvError> {
        let out = File::create(&log).map_err(|e| TestEnvError::io(format!("creating {}", log.display()), e))?;
        let err = out
            .try_clone()
            .map_err(|e| TestEnvError::io(format!("cloning {}", log.display()), e))?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .process_group(0);
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: the closure runs in the forked child between fork and exec, where only
        // async-signal-safe functions may be called. It calls just prctl(2) and getppid(2), and
        // builds its errors with `io::Error::last_os_error`/`from_raw_os_error`, which do not
        // allocate. The getppid check closes the race in which the parent died before prctl.
        #[allow(unsafe_code)]
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) == -1 {
                    return Err(io::Error::last_os_error());
                }
                if libc::getppid() != parent {
                    return Err(io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
        let child = spawn_on_spawner_thread(cmd).map_err(|source| TestEnvError::Spawn {
            binary,
            path: program.to_path_buf(),
            source,
        })?;
        tracing::debug!(binary, pid = child.id(), log = %log.display(), "started");
        Ok(Self {
            binary,
            child: Some(child),
            log,
        })
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Fails with the log tail if the process has exited.
    pub(crate) fn check_running(&mut self) -> Result<(), TestEnvError> {
        let Some(child) = self.child.as_mut() else {
            return Err(self.exited("stopped".into()));
        };
        match child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(self.exited(status.to_string())),
            Err(e) => Err(TestEnvError::io(format!("checking on {}", self.binary), e)),
        }
    }

    fn exited(&self, status: String) -> TestEnvError {
        TestEnvError::Exited {
            binary: self.binary,
            status,
            log_tail: self.log_tail(),
        }
    }

    pub(crate) fn not_ready(&self, timeout: std::time::Duration, last_error: String) -> TestEnvError {
        TestEnvError::NotReady {
            binary: self.binary,
            timeout,
            last_error,
            log_tail: self.log_tail(),
        }
    }

    pub(crate) fn log_tail(&self) -> String {
        log_tail(&self.log, 40)
    }

    /// SIGKILLs the process and waits for it. Idempotent.
    pub(crate) fn kill(&mut self) -> io::Result<Option<ExitStatus>> {
        let Some(mut child) = self.child.take() else {
            return Ok(None);
        };
        // Already exited? Then just reap it.
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        // `Child::kill` sends SIGKILL; it only fails if the process was already reaped.
        if let Err(e) = child.kill() {
            tracing::warn!(binary = self.binary, error = %e, "kill failed");
        }
        let status = child.wait()?;
        tracing::debug!(binary = self.binary, %status, "stopped");
        Ok(Some(status))
    }
}

impl Drop for ManagedChild {
    fn drop(&mut self) {
        if let Err(e) = self.kill() {
            tracing::warn!(binary = self.binary, error = %e, "stopping failed");
        }
    }
}

/// The last `lines` lines of a log file (at most 64 KiB are read).
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    const MAX: u64 = 64 * 1024;
    let read = || -> io::Result<String> {
        let mut f = File::open(path)?;
        let len = f.metadata()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(MAX)))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    };
    match read() {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            let tail = &all[all.len().saturating_sub(lines)..];
            if tail.is_empty() {
                format!("({} is empty)", path.display())
            } else {
                tail.join("\n")
            }
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}
