//! A fake controller for process tests: listens on loopback, starts the real `synod-node`
//! binary, does the handshake and exchanges frames. Every child is killed when its guard drops.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use synod_node::protocol::{Body, Envelope, Init};

pub const TOKEN: &str = "test-token";

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("synod-proc-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running node process; killed (SIGKILL) and reaped on drop.
pub struct NodeProcess {
    pub child: Child,
    pub stderr_path: PathBuf,
}

impl NodeProcess {
    pub fn spawn(addr: &str, node: u32, data_dir: &Path) -> NodeProcess {
        let stderr_path = data_dir.with_extension(format!("stderr-{}", Instant::now().elapsed().as_nanos()));
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_synod-node"))
            .env("SYNOD_CONTROLLER", addr)
            .env("SYNOD_NODE", node.to_string())
            .env("SYNOD_TOKEN", TOKEN)
            .env("SYNOD_DATA_DIR", data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn synod-node");
        NodeProcess { child, stderr_path }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn sigkill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Waits for the process to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "node did not exit within {timeout:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.stderr_path);
    }
}

pub struct FakeController {
    listener: TcpListener,
}

/// One node's connection, after the handshake.
pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl FakeController {
    pub fn new() -> FakeController {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        FakeController { listener }
    }

    pub fn addr(&self) -> String {
        self.listener.local_addr().unwrap().to_string()
    }

    /// Accepts the node's connection, checks its hello and sends `init`.
    pub fn accept(&self, node: u32, nodes: &[u32]) -> Conn {
        self.accept_with(node, nodes, Default::default())
    }

    /// `accept` with `config` in the `init`.
    pub fn accept_with(&self, node: u32, nodes: &[u32], config: synod_node::paxos::Tuning) -> Conn {
        let deadline = Instant::now() + Duration::from_secs(10);
        let stream = loop {
            match self.listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "node never connected");
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        stream.set_nonblocking(false).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut conn = Conn { reader: BufReader::new(stream.try_clone().unwrap()), writer: stream };
        let hello = conn.recv();
        assert_eq!(hello.body, Body::Hello { node, token: TOKEN.into() });
        let init = Body::Init(Box::new(Init {
            node,
            nodes: nodes.to_vec(),
            acceptors: nodes.to_vec(),
            proposers: nodes.to_vec(),
            learners: nodes.to_vec(),
            config,
        }));
        conn.send(&Envelope { src: 0, dest: node, body: init });
        conn
    }
}

impl Conn {
    pub fn send(&mut self, env: &Envelope) {
        self.writer.write_all(&env.to_frame()).unwrap();
    }

    /// Frames the node sends from now on, collected by a thread until the connection ends
    /// (closed or reset: a killed node's unread input makes its kernel reset it); the
    /// returned stream writes to the node.
    pub fn collect_in_background(self) -> (TcpStream, std::thread::JoinHandle<Vec<Envelope>>) {
        let Conn { mut reader, writer } = self;
        let collector = std::thread::spawn(move || {
            let mut frames = Vec::new();
            let mut line = String::new();
            while let Ok(n) = reader.read_line(&mut line) {
                if n == 0 || !line.ends_with('\n') {
                    break;
                }
                frames
                    .push(serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad frame {line:?}: {e}")));
                line.clear();
            }
            frames
        });
        (writer, collector)
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
    }

    pub fn recv(&mut self) -> Envelope {
        self.try_recv().expect("node closed the connection")
    }

    /// The next frame, or `None` once the node closed the connection.
    pub fn try_recv(&mut self) -> Option<Envelope> {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("read a frame from the node");
        (n > 0).then(|| serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad frame {line:?}: {e}")))
    }

    /// Frames until one `want` accepts (which it returns); the others are skipped.
    pub fn recv_until<T>(&mut self, mut want: impl FnMut(&Envelope) -> Option<T>) -> T {
        for _ in 0..100_000 {
            let env = self.recv();
            if let Some(found) = want(&env) {
                return found;
            }
        }
        panic!("no wanted frame in 100,000");
    }
}
