//! Keeps the process's signals away from rustdds's threads.
//!
//! rustdds 0.15 runs each participant on two threads of its own (the RTPS
//! event loop and discovery), and each stops for good, with one log line,
//! when its `poll` returns an error. A signal handled on one of those
//! threads interrupts `epoll_wait` (EINTR, never restarted), so the first
//! SIGCHLD, SIGTERM or SIGUSR1 the kernel happens to deliver there leaves
//! the participant deaf and mute while the process carries on: for `vigil
//! supervise`, which takes a SIGCHLD at every crash, that is the FAILED it
//! should have said. A process-directed signal goes to any thread that
//! does not block it, so the participant's threads are started with every
//! asynchronous signal blocked (a thread inherits its creator's mask) and
//! the application's own threads take them all.

use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};

/// Runs `start` (which spawns rustdds's threads) with the asynchronous
/// signals blocked on the calling thread, then restores its mask.
pub(super) fn without_signals<T>(start: impl FnOnce() -> T) -> T {
    let mut blocked = SigSet::all();
    // Faults are delivered to the thread that caused them; blocking them
    // is undefined behaviour (POSIX), and they must still kill.
    for fault in [
        Signal::SIGSEGV,
        Signal::SIGBUS,
        Signal::SIGFPE,
        Signal::SIGILL,
        Signal::SIGTRAP,
        Signal::SIGSYS,
    ] {
        blocked.remove(fault);
    }
    let mut previous = SigSet::empty();
    if let Err(error) = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&blocked), Some(&mut previous))
    {
        // Not expected; the participant works, only signals may stop it.
        tracing::warn!(%error, "cannot block signals for rustdds's threads");
        return start();
    }
    let started = start();
    if let Err(error) = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&previous), None) {
        tracing::warn!(%error, "cannot restore this thread's signal mask");
    }
    started
}
