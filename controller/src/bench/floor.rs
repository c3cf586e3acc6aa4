//! The floor under a decision, measured on this machine: a 64-byte append plus fdatasync,
//! and a round trip through the controller's net between two node processes. The bench
//! sets each decision latency beside two of each (`ratio_to_floor`), so that a figure reads
//! as overhead over what the hardware and the net cost, not as an absolute.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// p50 and p99 of `n` 64-byte appends, each followed by fdatasync, in `dir`. With
/// `preallocated`, the file is first written full of zeros and the appends overwrite them,
/// as the node's log does (node/src/storage/log.rs).
pub fn fsync_us(dir: &Path, n: usize, preallocated: bool) -> Result<(u64, u64)> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("append.log");
    let mut f = std::fs::OpenOptions::new().create(true).truncate(true).write(true).open(&path)?;
    if preallocated {
        f.write_all(&vec![0u8; n * 64])?;
        f.sync_all()?;
        use std::io::Seek;
        f.rewind()?;
    }
    let mut us = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f.write_all(&[0x5a; 64])?;
        f.sync_data()?;
        us.push(t.elapsed().as_micros() as u64);
    }
    drop(f);
    std::fs::remove_file(&path)?;
    us.sort_unstable();
    Ok((us[n / 2], us[n * 99 / 100]))
}

/// The median time from a `decided` between two different nodes to the `decided_ok` that
/// answers it being handed back: one round trip through the controller's net and the other
/// node. `run` is the run folder (or its history file).
pub fn rtt_us(run: &Path) -> Result<Option<u64>> {
    use std::collections::HashMap;
    use synod_checker::history::{Event, Events, Msg};
    let mut events = Events::open(run)?;
    let mut decided_sent: HashMap<(u64, u64, u64), u64> = HashMap::new(); // (instance, from, to) -> t
    let mut ok_msg: HashMap<u64, u64> = HashMap::new(); // msg id of a decided_ok -> its decided's t
    let mut rtts = Vec::new();
    while let Some(ev) = events.next() {
        match ev? {
            Event::Send(s) if s.src != s.dest => match s.body.paxos() {
                Some(Msg::Decided { instance, .. }) => {
                    decided_sent.entry((*instance, s.src, s.dest)).or_insert(s.t);
                }
                Some(Msg::DecidedOk { instance }) => {
                    if let (Some(msg), Some(&sent)) = (s.msg, decided_sent.get(&(*instance, s.dest, s.src))) {
                        ok_msg.insert(msg, sent);
                    }
                }
                _ => {}
            },
            Event::Recv(r) => {
                if let Some(sent) = r.msg.and_then(|m| ok_msg.remove(&m)) {
                    rtts.push(r.t.saturating_sub(sent));
                }
            }
            _ => {}
        }
    }
    rtts.sort_unstable();
    Ok(rtts.get(rtts.len() / 2).copied())
}
