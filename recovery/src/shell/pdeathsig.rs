//! The one `unsafe` block of vigil-recovery: a child is SIGKILLed by the
//! kernel when the supervisor dies, so a SIGKILLed supervisor leaves no
//! orphans.
//!
//! `PR_SET_PDEATHSIG` must be set by the child itself, between `fork` and
//! `exec`: only `CommandExt::pre_exec` reaches there, and it is `unsafe`
//! because the closure runs in a forked copy of a multi-threaded process,
//! where anything that allocates or takes a lock may deadlock. No safe
//! wrapper exists in std or tokio; a helper binary (`setpriv --pdeathsig`)
//! would make every child depend on util-linux being installed. So the
//! crate denies `unsafe_code` instead of forbidding it, and allows it here
//! only, for this block.
//!
//! The signal fires when the *thread* that forked the child exits, not the
//! process: children must be spawned from a thread that lives as long as the
//! supervisor (a tokio worker or the main thread, never `spawn_blocking`).
#![allow(unsafe_code)]

use std::io;

use nix::sys::signal::Signal;
use nix::unistd::{getppid, Pid};

/// Makes the child spawned by `command` die with SIGKILL when this process
/// (its parent) dies; if the parent is already gone when the child starts,
/// the spawn fails instead of leaving an orphan.
pub(super) fn die_with_parent(command: &mut tokio::process::Command) {
    let parent = Pid::this();
    // SAFETY: the closure only makes two system calls, prctl(2) and
    // getppid(2), which are async-signal-safe: no allocation (errors are
    // raw OS codes, `io::Error::from_raw_os_error` does not allocate), no
    // locks, nothing captured but a `Copy` pid.
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
                .map_err(|errno| io::Error::from_raw_os_error(errno as i32))?;
            // The parent may have died between fork and prctl: then the
            // child was reparented and the death signal will never come.
            if getppid() != parent {
                return Err(io::Error::from_raw_os_error(nix::libc::ESRCH));
            }
            Ok(())
        });
    }
}
