//! Free loopback port ranges: each test gets a range no other test of this process holds.
#![allow(dead_code)] // each test crate uses a different subset

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::sync::Mutex;

/// Ports handed out in this process (tests run in parallel threads of one process).
static RESERVED: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// The low end of the kernel's ephemeral (outgoing) port range.
fn ephemeral_low() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768)
}

/// A base port such that `base..base + width` are all free on 127.0.0.1 and not
/// handed to another test of this process. The randomness comes from binding port 0;
/// the range is then moved below the kernel's ephemeral range, so that outgoing
/// connections (readiness probes, clients, nginx to its upstreams, load generators)
/// can never sit on a port a fake is about to listen on.
pub fn reserve_ports(width: u16) -> u16 {
    let lo: u32 = 20000;
    let hi: u32 = ephemeral_low()
        .saturating_sub(u32::from(width) + 1)
        .max(lo + 1000);
    for attempt in 0..500u32 {
        let seed = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| u32::from(a.port()))
            .expect("bind 127.0.0.1:0");
        let base = (lo + (seed * 7919 + std::process::id() + attempt * 131) % (hi - lo)) as u16;
        let range = base..base + width;
        let mut reserved = RESERVED.lock().unwrap_or_else(|e| e.into_inner());
        if range.clone().any(|p| reserved.contains(&p)) {
            continue;
        }
        // Hold every listener until all are bound: the whole range is free at once.
        let held: Vec<_> = range
            .clone()
            .map(|p| TcpListener::bind(("127.0.0.1", p)))
            .collect();
        if held.iter().all(|l| l.is_ok()) {
            reserved.extend(range);
            return base;
        }
    }
    panic!("no free range of {width} loopback ports");
}
