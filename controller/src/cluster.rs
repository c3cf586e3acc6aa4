//! The node processes: spawn, kill, pause, resume, stop.
//!
//! No orphans, whatever happens to the controller: every node is started with
//! PR_SET_PDEATHSIG=SIGKILL (it dies when the controller does, SIGKILL included) and in a
//! process group of its own (so a terminal's Ctrl-C reaches only the controller, which then
//! shuts the nodes down in order, and so that signals reach whatever a `--node-cmd` wrapper
//! started). Processes are signalled by pid (or their own group id), never by name.
//!
//! All spawns happen on the runtime's one thread: PR_SET_PDEATHSIG fires when the thread
//! that forked the child exits, so it must be a thread that lives as long as the controller.

use crate::net::conn::Event;
use anyhow::{Context, Result};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::path::PathBuf;
use std::process::Stdio;
use synod_node::paxos::NodeId;
use synod_node::runtime::env::{ENV_CONTROLLER, ENV_DATA_DIR, ENV_NODE, ENV_TOKEN};
use tokio::sync::mpsc;

/// The program run as `PROGRAM node` for the built-in node, when set (see [`use_builtin_program`]).
static BUILTIN_PROGRAM: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Makes `program` the built-in node (`program node`) for every run this process starts.
/// The `synod` binary needs none of this: it runs itself. A program that starts runs through
/// the library (a test, a tool) is not synod, so it names the synod binary here, once, before
/// its first run. A second call with another program is refused: runs in flight would
/// otherwise disagree about what they run.
pub fn use_builtin_program(program: PathBuf) -> Result<()> {
    let set = BUILTIN_PROGRAM.get_or_init(|| program.clone());
    anyhow::ensure!(
        *set == program,
        "the built-in node is already {}, not {}",
        set.display(),
        program.display()
    );
    Ok(())
}

/// The program whose `node` subcommand is the built-in node: the one named by
/// [`use_builtin_program`], or else this very binary.
pub fn builtin_program() -> Result<PathBuf> {
    match BUILTIN_PROGRAM.get() {
        Some(program) => Ok(program.clone()),
        None => std::env::current_exe().context("cannot find the synod binary"),
    }
}

/// How to start a node.
#[derive(Debug, Clone)]
pub enum NodeCommand {
    /// The hidden `synod node` subcommand of this binary (or of [`builtin_program`]).
    Builtin(PathBuf),
    /// A shell command line (`--node-cmd`), run as `sh -c 'exec <cmd>'`.
    Shell(String),
}

#[derive(Clone, Copy, Default)]
struct Proc {
    pid: Option<u32>,
    stopped: bool,
    /// SIGKILL was sent; the exit has not been seen yet.
    killed: bool,
}

/// What a node's process is doing, as far as the controller knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcState {
    /// No process.
    Down,
    /// SIGKILLed, exit not yet reaped: it cannot be restarted until it has gone.
    Dying,
    Running,
    /// SIGSTOPped.
    Stopped,
}

pub struct Cluster {
    command: NodeCommand,
    controller: String,
    token: String,
    /// Where each node's `node.log` goes.
    node_dirs: Vec<PathBuf>,
    /// The folder each node keeps its durable state in (SYNOD_DATA_DIR): its node dir, or
    /// the mountpoint of its lazy filesystem in a run that cuts power.
    data_dirs: Vec<PathBuf>,
    procs: Vec<Proc>,
    events: mpsc::Sender<Event>,
    /// Extra environment for every node (e.g. SYNOD_LOG).
    pub extra_env: Vec<(String, String)>,
}

impl Cluster {
    pub fn new(
        command: NodeCommand,
        controller: String,
        token: String,
        node_dirs: Vec<PathBuf>,
        data_dirs: Vec<PathBuf>,
        events: mpsc::Sender<Event>,
    ) -> Cluster {
        assert_eq!(node_dirs.len(), data_dirs.len(), "one data dir per node");
        let procs = data_dirs.iter().map(|_| Proc::default()).collect();
        Cluster { command, controller, token, node_dirs, data_dirs, procs, events, extra_env: Vec::new() }
    }

    pub fn pid(&self, node: NodeId) -> Option<u32> {
        self.procs[node as usize - 1].pid
    }

    pub fn is_up(&self, node: NodeId) -> bool {
        self.pid(node).is_some()
    }

    pub fn state(&self, node: NodeId) -> ProcState {
        match self.procs[node as usize - 1] {
            Proc { pid: None, .. } => ProcState::Down,
            Proc { killed: true, .. } => ProcState::Dying,
            Proc { stopped: true, .. } => ProcState::Stopped,
            _ => ProcState::Running,
        }
    }

    /// Starts node `node` with its data dir; its output goes to `node.log` in its node dir.
    pub fn spawn(&mut self, node: NodeId) -> Result<u32> {
        let dir = &self.data_dirs[node as usize - 1];
        let node_dir = &self.node_dirs[node as usize - 1];
        for d in [dir, node_dir] {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
        }
        let log_path = node_dir.join("node.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("cannot open {}", log_path.display()))?;
        let mut cmd = match &self.command {
            NodeCommand::Builtin(exe) => {
                let mut c = tokio::process::Command::new(exe);
                c.arg("node");
                c
            }
            NodeCommand::Shell(line) => {
                let mut c = tokio::process::Command::new("/bin/sh");
                c.arg("-c").arg(format!("exec {line}"));
                c
            }
        };
        cmd.env(ENV_CONTROLLER, &self.controller)
            .env(ENV_NODE, node.to_string())
            .env(ENV_TOKEN, &self.token)
            .env(ENV_DATA_DIR, dir)
            .envs(self.extra_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .kill_on_drop(false);
        let controller_pid = std::process::id();
        // SAFETY: only async-signal-safe calls (prctl, getppid, _exit) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
                // The controller may have died between fork and prctl: then nobody kills us.
                if std::os::unix::process::parent_id() != controller_pid {
                    nix::libc::_exit(1);
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().with_context(|| format!("cannot start node n{node}"))?;
        let pid = child.id().context("spawned node has no pid")?;
        self.procs[node as usize - 1] = Proc { pid: Some(pid), ..Proc::default() };
        let events = self.events.clone();
        tokio::spawn(async move {
            let status = match child.wait().await {
                Ok(s) => describe(s),
                Err(e) => format!("wait failed: {e}"),
            };
            let _ = events.send(Event::Exited { node, pid, status }).await;
        });
        Ok(pid)
    }

    /// The process `pid` of `node` has exited (reported by its waiter).
    pub fn exited(&mut self, node: NodeId, pid: u32) {
        let p = &mut self.procs[node as usize - 1];
        if p.pid == Some(pid) {
            *p = Proc::default();
        }
    }

    /// Sends `signal` to the node's process group (the node and anything it started).
    pub fn signal(&mut self, node: NodeId, signal: Signal) -> Result<()> {
        let p = &mut self.procs[node as usize - 1];
        let pid = p.pid.with_context(|| format!("n{node} is not running"))?;
        killpg(Pid::from_raw(pid as i32), signal)
            .with_context(|| format!("cannot send {signal} to n{node} (pid {pid})"))?;
        match signal {
            Signal::SIGSTOP => p.stopped = true,
            Signal::SIGCONT => p.stopped = false,
            Signal::SIGKILL => p.killed = true,
            _ => {}
        }
        Ok(())
    }

    pub fn up_nodes(&self) -> Vec<NodeId> {
        (1..=self.procs.len() as NodeId).filter(|&n| self.is_up(n)).collect()
    }

    /// Last resort, also used on drop: SIGCONT and SIGKILL every node still running.
    pub fn kill_all(&mut self) {
        for p in &mut self.procs {
            if let Some(pid) = p.pid.take() {
                let pgid = Pid::from_raw(pid as i32);
                let _ = killpg(pgid, Signal::SIGCONT);
                let _ = killpg(pgid, Signal::SIGKILL);
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.kill_all();
    }
}

fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(sig)) => {
            let name =
                Signal::try_from(sig).map(|s| s.as_str().to_string()).unwrap_or_else(|_| sig.to_string());
            format!("signal {name}")
        }
        _ => "unknown".into(),
    }
}
