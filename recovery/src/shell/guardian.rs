//! The guardian: a second, tiny process that outlives a SIGKILLed
//! supervisor just long enough to kill what its children forked.
//!
//! The parent-death signal (`pdeathsig`) reaches the supervisor's direct
//! children only: a child that forked (a shell script, a launch file, a
//! driver with a helper process) leaves its own children running, and they
//! hold devices and DDS participants that the restarted child then fights.
//! Nothing inside a SIGKILLed process can act, so the cleanup must live in
//! another process. The guardian is that process:
//!
//! - the supervisor starts it once, with a pipe as its stdin, in a process
//!   group of its own (a terminal's Ctrl-C goes to the supervisor, which
//!   stops the children in order; the guardian must not race it);
//! - the supervisor writes `+PGID` when a child starts and `-PGID` once its
//!   group was killed after an exit;
//! - when the pipe reaches end of file (the kernel closes it when the
//!   supervisor dies, however it dies; a clean exit closes it too), the
//!   guardian SIGKILLs every group still registered and exits. After a
//!   clean stop none is registered, so it kills nothing.
//!
//! systemd gets the same guarantee from cgroups (`KillMode=control-group`);
//! a supervisor that is not PID 1 and must run without cgroup delegation on
//! a small computer gets it from this pipe. The guardian is the program the
//! supervisor names in [`ShellConfig::guardian`](super::ShellConfig); it
//! runs [`serve`] (`vigil`'s is a hidden subcommand of its own binary).

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::{self, BufRead, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Stdio};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// The supervisor's end: registers and unregisters process groups.
pub(super) struct Guardian {
    child: Child,
    pipe: Option<ChildStdin>,
}

impl Guardian {
    /// Starts the guardian program (`command[0]` with the rest as its
    /// arguments).
    pub(super) fn start(command: &[OsString]) -> io::Result<Guardian> {
        let Some((program, args)) = command.split_first() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "empty guardian command",
            ));
        };
        let mut child = std::process::Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .process_group(0)
            .spawn()?;
        let pipe = child.stdin.take();
        Ok(Guardian { child, pipe })
    }

    /// The group `pgid` is to be killed if the supervisor dies.
    pub(super) fn register(&mut self, pgid: u32) {
        self.say(format_args!("+{pgid}\n"));
    }

    /// The group `pgid` is gone (killed after its leader exited).
    pub(super) fn unregister(&mut self, pgid: u32) {
        self.say(format_args!("-{pgid}\n"));
    }

    fn say(&mut self, line: std::fmt::Arguments<'_>) {
        // A few bytes into a pipe with 64 KiB of room: never blocks in
        // practice. A dead guardian only loses the grandchild cleanup.
        let Some(pipe) = self.pipe.as_mut() else {
            return;
        };
        if let Err(error) = pipe.write_fmt(line).and_then(|()| pipe.flush()) {
            tracing::warn!(%error, "the guardian is gone: grandchildren may outlive a killed supervisor");
            self.pipe = None;
        }
    }
}

impl Drop for Guardian {
    fn drop(&mut self) {
        // End of file: the guardian kills what is still registered (nothing
        // after a clean stop) and exits; reap it.
        self.pipe = None;
        if let Err(error) = self.child.wait() {
            tracing::debug!(%error, "cannot reap the guardian");
        }
    }
}

/// What the guardian holds: the process groups to kill at end of file.
#[derive(Debug, Default)]
struct Registry {
    groups: BTreeSet<i32>,
}

impl Registry {
    /// Applies one line of the protocol; anything else is ignored (the
    /// only writer is the supervisor, and a bad line must not end the
    /// guardian before it has done its job).
    fn apply(&mut self, line: &str) {
        let line = line.trim();
        let (add, digits) = match line.split_at_checked(1) {
            Some(("+", rest)) => (true, rest),
            Some(("-", rest)) => (false, rest),
            _ => return,
        };
        // A pgid is a positive pid: never 0 or 1, which killpg would take as
        // "my own group" or init's.
        match digits.parse::<i32>() {
            Ok(pgid) if pgid > 1 => {
                if add {
                    self.groups.insert(pgid);
                } else {
                    self.groups.remove(&pgid);
                }
            }
            _ => tracing::warn!(line, "guardian: not a process group line"),
        }
    }
}

/// The guardian's main loop: reads the protocol from `input` until end of
/// file, then SIGKILLs every process group still registered. Returns how
/// many groups it signalled.
pub fn serve(input: impl BufRead) -> usize {
    let mut registry = Registry::default();
    for line in input.lines() {
        match line {
            Ok(line) => registry.apply(&line),
            // A read error is the supervisor's end going away too.
            Err(_) => break,
        }
    }
    let mut killed = 0;
    for &pgid in &registry.groups {
        match killpg(Pid::from_raw(pgid), Signal::SIGKILL) {
            Ok(()) => killed += 1,
            // Already empty: every process of the group exited.
            Err(nix::errno::Errno::ESRCH) => {}
            Err(error) => tracing::warn!(pgid, %error, "guardian: cannot kill a process group"),
        }
    }
    killed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_and_unregisters_groups() {
        let mut r = Registry::default();
        for line in ["+100", "+200", "-100", "+300\n", "-999"] {
            r.apply(line);
        }
        assert_eq!(r.groups.iter().copied().collect::<Vec<_>>(), [200, 300]);
    }

    #[test]
    fn ignores_lines_that_could_name_its_own_group_or_init() {
        let mut r = Registry::default();
        for line in ["+0", "+1", "+-5", "+", "", "x12", "+12abc", "+99999999999"] {
            r.apply(line);
        }
        assert!(r.groups.is_empty());
    }

    #[test]
    fn end_of_file_kills_registered_groups_that_still_exist() {
        // A real process group: `sh` leading it, a `sleep` forked inside.
        let mut leader = std::process::Command::new("sh")
            .args(["-c", "sleep 60 & wait"])
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = leader.id();
        // A group that does not exist any more (or never did) is skipped.
        let input = format!("+{pgid}\n+{}\n", i32::MAX - 7);
        assert_eq!(serve(input.as_bytes()), 1);
        let status = leader.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9));
    }
}
