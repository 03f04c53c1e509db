//! systemd's notify protocol: datagrams of `KEY=VALUE` lines on the socket
//! named by `$NOTIFY_SOCKET` (sd_notify(3)). Services written for systemd,
//! and the `sd-notify` crate, work under vigil unchanged.

/// What one notify datagram says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Notice {
    /// `READY=1`: startup finished.
    pub ready: bool,
    /// `WATCHDOG=1`: still alive.
    pub watchdog: bool,
    /// `STATUS=...`: a line for people.
    pub status: Option<String>,
}

impl Notice {
    /// Reads a datagram; unknown keys (`MAINPID=`, `STOPPING=1`, ...) and
    /// lines that are not `KEY=VALUE` are ignored, as systemd does.
    pub fn parse(datagram: &[u8]) -> Notice {
        let text = String::from_utf8_lossy(datagram);
        let mut notice = Notice::default();
        for line in text.split('\n') {
            match line.split_once('=') {
                Some(("READY", "1")) => notice.ready = true,
                Some(("WATCHDOG", "1")) => notice.watchdog = true,
                Some(("STATUS", status)) => notice.status = Some(status.to_owned()),
                _ => {}
            }
        }
        notice
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sd_notify_datagrams() {
        assert_eq!(
            Notice::parse(b"READY=1\nSTATUS=up and running\nMAINPID=42"),
            Notice {
                ready: true,
                watchdog: false,
                status: Some("up and running".into())
            }
        );
        assert!(Notice::parse(b"WATCHDOG=1").watchdog);
        assert_eq!(Notice::parse(b"READY=0\n\xff\nnonsense"), Notice::default());
    }
}
