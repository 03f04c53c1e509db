//! Several computers on one Ethernet, in one test (issue 14): each host is
//! a network namespace whose veth is plugged into a bridge that lives in a
//! namespace of its own (the switch), so pulling a host's cable is `ip
//! link set down` on its side and nothing touches the machine's own
//! network.
//!
//! Names start with `vgs` and addresses are in 10.77.0.0/16, so a test
//! only ever removes what it made. A [`Lan`] removes its namespaces when
//! dropped, also while unwinding from a failed assertion; leftovers of a
//! killed run with the same tag are removed before a new one is made.
//!
//! Needs root and `ip netns`. [`Lan::new`] returns `None` with a loud
//! message when either is missing, so the caller skips; CI runs as root,
//! where a missing feature is a failure of the test command, not a skip.
//! Packet loss is injected with iptables' `statistic` match (the kernel
//! here has no `sch_netem`; scripts/test installs iptables).
#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

/// Runs `ip ARGS`, panicking with its stderr when it fails.
fn ip(args: &[&str]) {
    run("ip", args);
}

/// Runs `program ARGS` to completion, panicking with its stderr on failure.
fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `ip ARGS`, ignoring failure (cleanup of what may not exist).
fn ip_quiet(args: &[&str]) {
    let _ = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Why this machine cannot make hosts, or `None` when it can.
pub fn unsupported() -> Option<String> {
    // SAFETY-free root check: /proc/self/status names the effective uid.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or("?");
    if euid != "0" {
        return Some(format!("not root (effective uid {euid})"));
    }
    let probe = Command::new("ip")
        .args(["netns", "list"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match probe {
        Ok(s) if s.success() => None,
        Ok(s) => Some(format!("`ip netns list` failed ({s})")),
        Err(e) => Some(format!("no `ip` command ({e})")),
    }
}

/// One computer: a namespace with one veth into the switch.
#[derive(Debug, Clone)]
pub struct Host {
    /// Its name in the test (`a`, `b`, ...).
    pub name: String,
    /// The namespace.
    pub netns: String,
    /// The interface inside the namespace (the host's cable).
    pub dev: String,
    /// The switch-side end of the cable.
    pub port: String,
    /// Its address, the `--interface` of its vigil processes.
    pub addr: Ipv4Addr,
}

impl Host {
    /// `program` run inside this host.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.netns, program]);
        command
    }

    /// The `vigil` binary run inside this host (`ip netns exec` execs it,
    /// so the child's pid is vigil's own and a kill reaches it).
    pub fn vigil(&self) -> Command {
        self.command(env!("CARGO_BIN_EXE_vigil"))
    }

    /// The address as text, for `--interface`.
    pub fn interface(&self) -> String {
        self.addr.to_string()
    }

    /// Pulls the cable: the host's interface goes down.
    pub fn link_down(&self) {
        ip(&["-n", &self.netns, "link", "set", &self.dev, "down"]);
    }

    /// Plugs it back in.
    pub fn link_up(&self) {
        ip(&["-n", &self.netns, "link", "set", &self.dev, "up"]);
    }

    /// Drops each packet this host receives and sends with probability
    /// `loss` (iptables `statistic` in its namespace): a lossy cable.
    pub fn lossy(&self, loss: f64) {
        let p = format!("{loss:.4}");
        // Loopback stays clean: only the cable loses packets.
        for (chain, dir) in [("INPUT", "-i"), ("OUTPUT", "-o")] {
            let mut rule = vec!["netns", "exec", &self.netns, "iptables", "-A", chain];
            rule.extend([dir, self.dev.as_str()]);
            rule.extend(["-m", "statistic", "--mode", "random", "--probability", &p]);
            rule.extend(["-j", "DROP"]);
            run("ip", &rule);
            // What passed, counted, so a harness can state the loss it got.
            let mut pass = vec!["netns", "exec", &self.netns, "iptables", "-A", chain];
            pass.extend([dir, self.dev.as_str(), "-j", "ACCEPT"]);
            run("ip", &pass);
        }
    }
}

/// Hosts on one switch, removed when dropped.
#[derive(Debug)]
pub struct Lan {
    tag: String,
    switch: String,
    bridge: String,
    hosts: Vec<Host>,
}

impl Lan {
    /// `names.len()` hosts on subnet 10.77.`subnet`.0/24, named `names`
    /// (one lowercase letter or digit each), under a `tag` of at most 4
    /// characters unique to the test (interface names are at most 15).
    /// `None`, after a loud message on stderr, when the machine cannot.
    pub fn new(tag: &str, subnet: u8, names: &[&str]) -> Option<Lan> {
        assert!(tag.len() <= 4 && names.iter().all(|n| n.len() == 1));
        if let Some(why) = unsupported() {
            eprintln!(
                "\n!!!!!!!! SKIPPED: several-host test `{tag}` needs root and network \
                 namespaces: {why} !!!!!!!!\n"
            );
            return None;
        }
        let switch = format!("vgs{tag}sw");
        let bridge = format!("vgs{tag}br");
        let mut lan = Lan {
            tag: tag.to_owned(),
            switch: switch.clone(),
            bridge: bridge.clone(),
            hosts: Vec::new(),
        };
        for name in names {
            lan.hosts.push(Host {
                name: (*name).to_owned(),
                netns: format!("vgs{tag}{name}"),
                dev: format!("vgs{tag}{name}"),
                port: format!("vgs{tag}{name}s"),
                addr: Ipv4Addr::new(10, 77, subnet, lan.hosts.len() as u8 + 1),
            });
        }
        // A killed earlier run of this test left these behind.
        lan.remove();
        ip(&["netns", "add", &switch]);
        ip(&["-n", &switch, "link", "add", &bridge, "type", "bridge"]);
        ip(&["-n", &switch, "link", "set", &bridge, "up"]);
        for h in &lan.hosts {
            ip(&["netns", "add", &h.netns]);
            ip(&["-n", &h.netns, "link", "set", "lo", "up"]);
            ip(&[
                "link", "add", &h.dev, "netns", &h.netns, "type", "veth", "peer", "name", &h.port,
                "netns", &switch,
            ]);
            ip(&["-n", &switch, "link", "set", &h.port, "master", &bridge]);
            ip(&["-n", &switch, "link", "set", &h.port, "up"]);
            let cidr = format!("{}/24", h.addr);
            ip(&["-n", &h.netns, "addr", "add", &cidr, "dev", &h.dev]);
            ip(&["-n", &h.netns, "link", "set", &h.dev, "up"]);
        }
        Some(lan)
    }

    /// The host named `name`.
    pub fn host(&self, name: &str) -> &Host {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .unwrap_or_else(|| panic!("no host {name} in {}", self.tag))
    }

    /// Splits the switch: `isolated` hosts no longer hear each other, while
    /// every other host still hears all of them (bridge port isolation: a
    /// partition between two racks whose uplinks still reach a third).
    pub fn isolate(&self, isolated: &[&str], on: bool) {
        for name in isolated {
            let port = self.host(name).port.clone();
            let flag = if on { "on" } else { "off" };
            run(
                "ip",
                &[
                    "netns",
                    "exec",
                    &self.switch,
                    "bridge",
                    "link",
                    "set",
                    "dev",
                    &port,
                    "isolated",
                    flag,
                ],
            );
        }
    }

    fn remove(&self) {
        // Deleting a namespace deletes the veth ends inside it, and with
        // them their peers in the switch.
        for h in &self.hosts {
            ip_quiet(&["netns", "del", &h.netns]);
        }
        ip_quiet(&["netns", "del", &self.switch]);
    }
}

impl Drop for Lan {
    /// Removes every namespace of this LAN, also after a panic.
    fn drop(&mut self) {
        self.remove();
    }
}
