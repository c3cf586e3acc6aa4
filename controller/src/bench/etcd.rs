//! The real peer: a 3-member etcd cluster on loopback, when an `etcd` binary is on PATH
//! (Debian's etcd-server). Puts go through etcd's HTTP/JSON gateway (`POST /v3/kv/put`),
//! driven by a small keep-alive HTTP/1.1 client over plain TCP: one connection per client
//! thread, no allocation beyond the request and response buffers.

use anyhow::{bail, Context, Result};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde::Serialize;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// The cluster's processes, killed (by process group) when dropped.
struct Cluster(Vec<Child>);

impl Cluster {
    /// Members `e0`, `e1`, ... on loopback, member i serving clients on `client[i]` and peers on
    /// `peer[i]`, each with its data dir and log under `dir`. A member that fails to start
    /// takes those started before it down with it (the cluster is dropped).
    fn start(dir: &Path, client: &[u16], peer: &[u16]) -> Result<Cluster> {
        assert_eq!(client.len(), peer.len());
        let initial: Vec<String> =
            peer.iter().enumerate().map(|(i, port)| format!("e{i}=http://127.0.0.1:{port}")).collect();
        let mut cluster = Cluster(Vec::with_capacity(client.len()));
        for i in 0..client.len() {
            let mut cmd = member(dir, i, client[i], peer[i], &initial.join(","))?;
            cluster.0.push(cmd.spawn().context("cannot start etcd")?);
        }
        Ok(cluster)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            let _ = child.wait();
        }
    }
}

fn etcd_on_path() -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("etcd").is_file()))
        .unwrap_or(false)
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// etcd's figures beside synod's in bench.json.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EtcdFigures {
    /// Put latency at concurrency 1, in microseconds.
    pub put_p50_us: u64,
    pub put_p99_us: u64,
    /// Puts per second from 64 client threads.
    pub puts_per_s_c64: u64,
}

/// Members of the cluster.
const MEMBERS: usize = 3;
/// Client threads of the throughput figure.
const CLIENTS_C64: usize = 64;
/// How long the cluster may take to accept its first put.
const READY_TIMEOUT_MS: u64 = 30_000;

/// The put latency at concurrency 1 and puts per second at 64, or `None` without etcd.
pub fn measure(dir: &Path, time_s: f64) -> Result<Option<EtcdFigures>> {
    if !etcd_on_path() {
        return Ok(None);
    }
    let client: Vec<u16> = (0..MEMBERS).map(|_| free_port()).collect::<Result<_>>()?;
    let peer: Vec<u16> = (0..MEMBERS).map(|_| free_port()).collect::<Result<_>>()?;
    let _cluster = Cluster::start(dir, &client, &peer)?;
    wait_ready(client[0], dir)?;
    let latency_us = put_latency_us(client[0], time_s)?;
    let puts = puts_c64(&client, time_s)?;
    Ok(Some(EtcdFigures {
        put_p50_us: latency_us[latency_us.len() / 2],
        put_p99_us: latency_us[latency_us.len() * 99 / 100],
        puts_per_s_c64: (puts as f64 / time_s).round() as u64,
    }))
}

/// The command of member `e{i}`; it dies with this process.
fn member(dir: &Path, i: usize, client: u16, peer: u16, initial: &str) -> Result<std::process::Command> {
    let data = dir.join(format!("e{i}"));
    std::fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
    let log_path = dir.join(format!("e{i}.log"));
    let log =
        std::fs::File::create(&log_path).with_context(|| format!("cannot create {}", log_path.display()))?;
    let mut cmd = std::process::Command::new("etcd");
    cmd.args(["--name", &format!("e{i}"), "--data-dir"])
        .arg(&data)
        .args(["--listen-client-urls", &format!("http://127.0.0.1:{client}")])
        .args(["--advertise-client-urls", &format!("http://127.0.0.1:{client}")])
        .args(["--listen-peer-urls", &format!("http://127.0.0.1:{peer}")])
        .args(["--initial-advertise-peer-urls", &format!("http://127.0.0.1:{peer}")])
        .args(["--initial-cluster", initial, "--initial-cluster-state", "new"])
        .args(["--initial-cluster-token", "synod-bench"])
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0);
    // SAFETY: only prctl between fork and exec.
    unsafe {
        cmd.pre_exec(|| nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from));
    }
    Ok(cmd)
}

/// Returns once a put to the member on `port` succeeds; an error after [`READY_TIMEOUT_MS`].
fn wait_ready(port: u16, dir: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_millis(READY_TIMEOUT_MS);
    loop {
        if Client::connect(port).and_then(|mut c| c.put(b"ready", b"1")).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("etcd did not come up within {} s (see {})", READY_TIMEOUT_MS / 1000, dir.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The latency of each put, sorted, from one client to the member on `port` for `time_s`
/// seconds: at least one put.
fn put_latency_us(port: u16, time_s: f64) -> Result<Vec<u64>> {
    let mut c = Client::connect(port)?;
    let until = Instant::now() + Duration::from_secs_f64(time_s);
    let mut latency_us = Vec::new();
    let mut k = 0u64;
    while latency_us.is_empty() || Instant::now() < until {
        k += 1;
        let t = Instant::now();
        c.put(format!("k{}", k % 1000).as_bytes(), b"0123456789abcdef")?;
        latency_us.push(t.elapsed().as_micros() as u64);
    }
    latency_us.sort_unstable();
    Ok(latency_us)
}

/// Puts made in `time_s` seconds by [`CLIENTS_C64`] threads, each with its own connection,
/// spread over the members on `ports`.
fn puts_c64(ports: &[u16], time_s: f64) -> Result<u64> {
    let until = Instant::now() + Duration::from_secs_f64(time_s);
    let threads: Vec<_> = (0..CLIENTS_C64)
        .map(|i| {
            let port = ports[i % ports.len()];
            std::thread::spawn(move || -> Result<u64> {
                let mut c = Client::connect(port)?;
                let mut n = 0u64;
                while Instant::now() < until {
                    c.put(format!("t{i}-{}", n % 100).as_bytes(), b"0123456789abcdef")?;
                    n += 1;
                }
                Ok(n)
            })
        })
        .collect();
    let mut puts = 0;
    for t in threads {
        puts += t.join().map_err(|_| anyhow::anyhow!("a client thread panicked"))??;
    }
    Ok(puts)
}

/// A keep-alive HTTP/1.1 connection to one etcd member.
struct Client {
    port: u16,
    out: TcpStream,
    inp: BufReader<TcpStream>,
    line: String,
    body: Vec<u8>,
}

impl Client {
    fn connect(port: u16) -> Result<Client> {
        let out = TcpStream::connect(("127.0.0.1", port))?;
        out.set_nodelay(true)?;
        let inp = BufReader::new(out.try_clone()?);
        Ok(Client { port, out, inp, line: String::new(), body: Vec::new() })
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        let body = format!("{{\"key\":\"{}\",\"value\":\"{}\"}}", base64(key), base64(value));
        let req = format!(
            "POST /v3/kv/put HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.port,
            body.len()
        );
        self.out.write_all(req.as_bytes())?;
        // Status line, headers, then exactly Content-Length bytes.
        self.line.clear();
        self.inp.read_line(&mut self.line)?;
        let ok = self.line.starts_with("HTTP/1.1 200");
        let mut length = 0usize;
        loop {
            self.line.clear();
            if self.inp.read_line(&mut self.line)? == 0 {
                bail!("etcd closed the connection");
            }
            let l = self.line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        self.body.resize(length, 0);
        self.inp.read_exact(&mut self.body)?;
        if !ok {
            bail!("etcd put failed: {}", String::from_utf8_lossy(&self.body));
        }
        Ok(())
    }
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(super::base64(b""), "");
        assert_eq!(super::base64(b"f"), "Zg==");
        assert_eq!(super::base64(b"fo"), "Zm8=");
        assert_eq!(super::base64(b"foo"), "Zm9v");
        assert_eq!(super::base64(b"foobar"), "Zm9vYmFy");
    }
}
