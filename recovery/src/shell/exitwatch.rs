//! Early word of a child's death from the kernel: Linux taskstats.
//!
//! SIGCHLD (like a pidfd, or the EOF of a pipe the child held) reports an
//! exit only once the kernel has torn the process down, and tearing down a
//! process's memory is slow: 2.4 ms median for an 18 MB `vigil produce` on
//! the reference machine, 4.4 ms for 60 MB (BENCHMARKS.md, issue 9). The
//! last thread of a dying process sends its taskstats exit record *before*
//! its memory is freed, 0.2 ms after a SIGKILL there. The supervisor
//! listens to those records (a generic-netlink taskstats listener on every
//! CPU) and, when one says that one of its own children is dying, tells
//! the core at once, which says FAILED for the child's producers
//! ([`Supervisor::on_dying`](crate::Supervisor::on_dying)). The reap that
//! follows still drives restarts and is what `exited` reports.
//!
//! A record names the dying process by its pid in the kernel's initial pid
//! namespace, so the watch runs only there; it also needs CAP_NET_ADMIN
//! and the initial network namespace (the taskstats family lives there).
//! Anywhere else (a container, an unprivileged user) it does not start and
//! SIGCHLD alone reports deaths, as before. A record is taken as one of
//! ours only when its parent pid is this process and its pid is a child's:
//! nothing else can make the supervisor speak for a child.
//!
//! Every thread exit on the machine produces a record, so a busy build
//! machine costs the supervisor a wake-up per exiting thread; a robot in
//! steady state has few. Records lost to a full socket buffer (ENOBUFS)
//! only lose the early word: SIGCHLD still comes.

use std::io;

use netlink_packet_core::{
    DecodeError, DefaultNla, Emitable, NetlinkBuffer, NetlinkHeader, NetlinkMessage,
    NetlinkPayload, NlaBuffer, NlasIterator, ParseableParametrized, NLM_F_ACK, NLM_F_REQUEST,
};
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::{GenlFamily, GenlHeader, GenlMessage};
use netlink_sys::{protocols::NETLINK_GENERIC, AsyncSocket, AsyncSocketExt, TokioSocket};

use crate::Exit;

// linux/taskstats.h
const TASKSTATS_CMD_GET: u8 = 1;
const TASKSTATS_CMD_NEW: u8 = 2;
const TASKSTATS_CMD_ATTR_REGISTER_CPUMASK: u16 = 3;
const TASKSTATS_TYPE_PID: u16 = 1;
const TASKSTATS_TYPE_TGID: u16 = 2;
const TASKSTATS_TYPE_STATS: u16 = 3;
const TASKSTATS_TYPE_AGGR_PID: u16 = 4;
const TASKSTATS_TYPE_AGGR_TGID: u16 = 5;
/// Offsets in `struct taskstats` (stable since version 1; the kernel only
/// appends): `ac_exitcode`, `ac_pid`, `ac_ppid`.
const AC_EXITCODE: usize = 4;
const AC_PID: usize = 128;
const AC_PPID: usize = 132;
/// The inode of the kernel's initial pid namespace (PROC_PID_INIT_INO).
const INIT_PID_NS: &str = "pid:[4026531836]";

/// A process that the kernel says is dying: its pid, its parent's, and
/// how it ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Dying {
    pub pid: u32,
    pub ppid: u32,
    pub exit: Exit,
}

/// A taskstats listener on every CPU.
pub(crate) struct ExitWatch {
    socket: TokioSocket,
    buf: Vec<u8>,
}

impl ExitWatch {
    /// Registers as a taskstats listener; an error says why this machine
    /// or process cannot (see the module docs).
    pub(crate) async fn open() -> io::Result<ExitWatch> {
        let ns = std::fs::read_link("/proc/self/ns/pid")?;
        if ns.to_string_lossy() != INIT_PID_NS {
            return Err(io::Error::other(
                "not in the initial pid namespace: taskstats pids would not be ours",
            ));
        }
        let mut socket = TokioSocket::new(NETLINK_GENERIC)?;
        socket.socket_mut().bind_auto()?;
        let mut watch = ExitWatch {
            socket,
            buf: Vec::with_capacity(16 * 1024),
        };
        let family = watch.resolve_family().await?;
        let cpus = std::fs::read_to_string("/sys/devices/system/cpu/possible")?;
        let mut register = GenlMessage::from_payload(Taskstats::Register(cpus.trim().to_owned()));
        register.set_resolved_family_id(family);
        watch.request(register).await?;
        Ok(watch)
    }

    /// The next record of a process dying, skipping threads and other
    /// records; `None` once the socket fails for good.
    pub(crate) async fn next(&mut self) -> Option<Dying> {
        loop {
            self.buf.clear();
            match self.socket.recv(&mut self.buf).await {
                Ok(()) => {}
                // Records were lost while we were busy: only the early
                // word for them is.
                Err(e) if e.raw_os_error() == Some(libc_enobufs()) => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    tracing::debug!(%error, "taskstats listener stopped");
                    return None;
                }
            }
            if let Some(dying) = deaths(&self.buf).next() {
                return Some(dying);
            }
        }
    }

    async fn resolve_family(&mut self) -> io::Result<u16> {
        let ask = GenlMessage::from_payload(GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![GenlCtrlAttrs::FamilyName(
                Taskstats::family_name().to_owned(),
            )],
        });
        let reply = self.request(ask).await?;
        let parsed = NetlinkMessage::<GenlMessage<GenlCtrl>>::deserialize(&reply)
            .map_err(|e| io::Error::other(format!("taskstats family: {e}")))?;
        if let NetlinkPayload::InnerMessage(message) = parsed.payload {
            for nla in message.payload.nlas {
                if let GenlCtrlAttrs::FamilyId(id) = nla {
                    return Ok(id);
                }
            }
        }
        Err(io::Error::other("the kernel has no taskstats family"))
    }

    /// Sends `message` and returns the kernel's first reply; an error
    /// reply becomes an error (EPERM without CAP_NET_ADMIN).
    async fn request<F>(&mut self, message: GenlMessage<F>) -> io::Result<Vec<u8>>
    where
        F: GenlFamily + Emitable + std::fmt::Debug,
    {
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK;
        header.sequence_number = 1;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(message));
        packet.finalize();
        let mut out = vec![0; packet.buffer_len()];
        packet.serialize(&mut out);
        self.socket.send(&out).await?;
        loop {
            self.buf.clear();
            self.socket.recv(&mut self.buf).await?;
            let Ok(reply) = NetlinkBuffer::new_checked(&self.buf[..]) else {
                return Err(io::Error::other("a truncated netlink reply"));
            };
            // NLMSG_ERROR: an ack (code 0) or a refusal.
            if reply.message_type() == netlink_packet_core::NLMSG_ERROR {
                let payload = reply.payload();
                let code = payload
                    .get(..4)
                    .and_then(|b| b.try_into().ok())
                    .map(i32::from_ne_bytes)
                    .unwrap_or(0);
                if code != 0 {
                    return Err(io::Error::from_raw_os_error(-code));
                }
                // The ack of a request whose answer came first, or of the
                // registration, which has no other answer.
                return Ok(Vec::new());
            }
            if reply.sequence_number() == 1 {
                return Ok(self.buf.clone());
            }
        }
    }
}

fn libc_enobufs() -> i32 {
    nix::errno::Errno::ENOBUFS as i32
}

/// The deaths a datagram of taskstats records tells of (see
/// [`death_of`]). Malformed records are skipped, never trusted.
pub(crate) fn deaths(datagram: &[u8]) -> impl Iterator<Item = Dying> + '_ {
    let mut offset = 0;
    std::iter::from_fn(move || {
        while offset < datagram.len() {
            let message = NetlinkBuffer::new_checked(&datagram[offset..]).ok()?;
            let length = usize::try_from(message.length()).ok()?;
            // Netlink messages are 4-byte aligned.
            offset += (length + 3) & !3;
            if length == 0 {
                return None;
            }
            let payload = message.payload();
            let Some((header, attrs)) = payload.split_first_chunk::<4>() else {
                continue;
            };
            if header[0] != TASKSTATS_CMD_NEW {
                continue;
            }
            if let Some(dying) = death_of(attrs) {
                return Some(dying);
            }
        }
        None
    })
}

/// The process death one taskstats exit record tells of, if any.
///
/// Each exiting thread sends its own record (`AGGR_PID`: its tid and
/// stats); the last thread of a multi-threaded process adds `AGGR_TGID`:
/// that is a whole process gone. A record without `AGGR_TGID` is a whole
/// process only when the process had one thread, which the record does not
/// say; it is taken as a death only when the thread ended abnormally (a
/// signal, or a non-zero code): a thread that returns on its own ends with
/// code 0, and a process-wide exit or kill gives every thread its code.
pub(crate) fn death_of(attrs: &[u8]) -> Option<Dying> {
    let mut thread = None;
    let mut group = None;
    for nla in NlasIterator::new(attrs) {
        let nla = nla.ok()?;
        match nla.kind() {
            TASKSTATS_TYPE_AGGR_PID => thread = Some(aggregate(value_of(nla), TASKSTATS_TYPE_PID)?),
            TASKSTATS_TYPE_AGGR_TGID => {
                group = Some(aggregate(value_of(nla), TASKSTATS_TYPE_TGID)?.0)
            }
            _ => {}
        }
    }
    let (tid, stats) = thread?;
    let stats = stats?;
    let field = |at: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(stats.get(at..at + 4)?.try_into().ok()?))
    };
    let status = field(AC_EXITCODE)?;
    let ppid = field(AC_PPID)?;
    // The wait status: a signal in the low 7 bits, else the code above.
    let exit = match status & 0x7f {
        0 => Exit::Code(i32::try_from((status >> 8) & 0xff).unwrap_or(-1)),
        signal => Exit::Signal(i32::try_from(signal).unwrap_or(-1)),
    };
    let pid = match group {
        Some(tgid) => tgid,
        None if !exit.is_normal() => field(AC_PID).filter(|&p| p == tid)?,
        None => return None,
    };
    Some(Dying { pid, ppid, exit })
}

/// An attribute's value, borrowed from the record (`NlaBuffer::value`
/// borrows from the buffer view, which the iterator makes per item).
fn value_of(nla: NlaBuffer<&[u8]>) -> &[u8] {
    let len = usize::from(nla.length());
    nla.into_inner().get(4..len).unwrap_or(&[])
}

/// An aggregate's id (of `id_kind`) and its stats.
fn aggregate(value: &[u8], id_kind: u16) -> Option<(u32, Option<&[u8]>)> {
    let mut id = None;
    let mut stats = None;
    for nla in NlasIterator::new(value) {
        let nla = nla.ok()?;
        match nla.kind() {
            k if k == id_kind => {
                id = Some(u32::from_ne_bytes(value_of(nla).get(..4)?.try_into().ok()?))
            }
            TASKSTATS_TYPE_STATS => stats = Some(value_of(nla)),
            _ => {}
        }
    }
    Some((id?, stats))
}

/// The generic-netlink payload of the taskstats family, as far as the
/// listener needs it: the registration only (records are read by
/// [`deaths`]).
#[derive(Clone, Debug)]
enum Taskstats {
    /// Listen to the exit records of these CPUs (`0-3`).
    Register(String),
}

impl GenlFamily for Taskstats {
    fn family_name() -> &'static str {
        "TASKSTATS"
    }

    fn command(&self) -> u8 {
        TASKSTATS_CMD_GET
    }

    fn version(&self) -> u8 {
        1
    }
}

impl Taskstats {
    fn nla(&self) -> DefaultNla {
        match self {
            Taskstats::Register(cpus) => {
                let mut value = cpus.as_bytes().to_vec();
                value.push(0);
                DefaultNla::new(TASKSTATS_CMD_ATTR_REGISTER_CPUMASK, value)
            }
        }
    }
}

impl Emitable for Taskstats {
    fn buffer_len(&self) -> usize {
        self.nla().buffer_len()
    }

    fn emit(&self, buffer: &mut [u8]) {
        self.nla().emit(buffer)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for Taskstats {
    fn parse_with_param(_: &[u8], _: GenlHeader) -> Result<Self, DecodeError> {
        Err(DecodeError::from("taskstats messages are read by `deaths`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
        let len = 4 + value.len();
        let mut out = Vec::new();
        out.extend_from_slice(&u16::try_from(len).unwrap().to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(value);
        out.resize((len + 3) & !3, 0);
        out
    }

    fn stats(status: u32, pid: u32, ppid: u32) -> Vec<u8> {
        let mut s = vec![0u8; 400];
        s[AC_EXITCODE..AC_EXITCODE + 4].copy_from_slice(&status.to_ne_bytes());
        s[AC_PID..AC_PID + 4].copy_from_slice(&pid.to_ne_bytes());
        s[AC_PPID..AC_PPID + 4].copy_from_slice(&ppid.to_ne_bytes());
        s
    }

    fn record(tid: u32, status: u32, ppid: u32, tgid: Option<u32>) -> Vec<u8> {
        let mut thread = nla(TASKSTATS_TYPE_PID, &tid.to_ne_bytes());
        thread.extend(nla(TASKSTATS_TYPE_STATS, &stats(status, tid, ppid)));
        let mut out = nla(TASKSTATS_TYPE_AGGR_PID, &thread);
        if let Some(tgid) = tgid {
            let mut group = nla(TASKSTATS_TYPE_TGID, &tgid.to_ne_bytes());
            group.extend(nla(TASKSTATS_TYPE_STATS, &stats(0, 0, 0)));
            out.extend(nla(TASKSTATS_TYPE_AGGR_TGID, &group));
        }
        out
    }

    #[test]
    fn the_last_thread_of_a_killed_process_names_the_process() {
        let dying = death_of(&record(4242, 9, 100, Some(4200))).unwrap();
        assert_eq!(
            dying,
            Dying {
                pid: 4200,
                ppid: 100,
                exit: Exit::Signal(9)
            }
        );
    }

    #[test]
    fn a_single_threaded_crash_is_a_death_with_its_code() {
        let dying = death_of(&record(77, 3 << 8, 1, None)).unwrap();
        assert_eq!((dying.pid, dying.exit), (77, Exit::Code(3)));
    }

    #[test]
    fn a_thread_ending_on_its_own_is_no_death() {
        assert_eq!(death_of(&record(78, 0, 1, None)), None);
    }

    #[test]
    fn garbage_is_never_a_death_and_never_panics() {
        for len in 0..64 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8).collect();
            let _ = death_of(&junk);
            let _ = deaths(&junk).count();
        }
        // A record cut inside its stats says nothing.
        let mut cut = record(4242, 9, 100, Some(4200));
        cut.truncate(60);
        assert_eq!(death_of(&cut), None);
    }
}
