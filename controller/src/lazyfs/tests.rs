//! Real mounts in temporary directories. Each test skips (printing why) where FUSE cannot be
//! mounted; CI installs fuse3 so they run there.

use super::mount::is_mount_root;
use super::*;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

const LIMIT_BYTES: u64 = 64 << 20;

/// A mount over `<tmp>/backing` at `<tmp>/mnt`; unmounted and removed on drop.
struct Fixture {
    dir: PathBuf,
    mount: Option<LazyMount>,
}

impl Fixture {
    /// None (after printing why) where FUSE is not available.
    fn new(name: &str) -> Option<Fixture> {
        Fixture::with_limit(name, LIMIT_BYTES)
    }

    fn with_limit(name: &str, limit_bytes: u64) -> Option<Fixture> {
        if let Err(reason) = available() {
            println!("skipped: {reason}");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("synod-lazyfs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mount = LazyMount::mount(&dir.join("backing"), &dir.join("mnt"), limit_bytes).expect("mount");
        Some(Fixture { dir, mount: Some(mount) })
    }

    fn lazy(&self) -> &LazyMount {
        self.mount.as_ref().expect("mounted")
    }

    /// A path through the mount.
    fn mnt(&self, rel: &str) -> PathBuf {
        self.lazy().mountpoint().join(rel)
    }

    /// The same path in the backing directory: what survives a power loss.
    fn backing(&self, rel: &str) -> PathBuf {
        self.dir.join("backing").join(rel)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        drop(self.mount.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn rw(path: &Path) -> File {
    OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).expect("open")
}

fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) | 1).collect()
}

/// A clean unmount (the end of a run) is no power loss: unsynced writes reach the backing file.
#[test]
fn a_clean_unmount_writes_back_what_is_pending() {
    let Some(mut fx) = Fixture::new("writeback") else { return };
    std::fs::write(fx.backing("f"), b"old").unwrap();
    let f = rw(&fx.mnt("f"));
    f.write_all_at(b"new, never synced", 0).unwrap();
    drop(f);
    assert_eq!(std::fs::read(fx.backing("f")).unwrap(), b"old");
    drop(fx.mount.take());
    assert_eq!(std::fs::read(fx.backing("f")).unwrap(), b"new, never synced");
}

#[test]
fn an_unsynced_write_is_lost_and_the_backing_file_is_as_before() {
    let Some(fx) = Fixture::new("unsynced") else { return };
    std::fs::write(fx.backing("f"), b"durable content").unwrap();
    let mut f = rw(&fx.mnt("f"));
    f.write_all(b"NEW").unwrap();
    f.write_all_at(b"tail beyond the old end", 15).unwrap();
    drop(f);
    assert_eq!(std::fs::read(fx.mnt("f")).unwrap(), b"NEWable contenttail beyond the old end");
    assert_eq!(
        std::fs::read(fx.backing("f")).unwrap(),
        b"durable content",
        "nothing reached the backing file"
    );
    let expected = Loss { files: 1, writes: 2, bytes: 3 + 23, torn_bytes_kept: 0 };
    assert_eq!(fx.lazy().pending(), expected);
    assert_eq!(fx.lazy().power_loss(false), expected);
    assert_eq!(fx.lazy().pending(), Loss::default());
    assert_eq!(std::fs::read(fx.backing("f")).unwrap(), b"durable content");
    assert_eq!(
        std::fs::read(fx.mnt("f")).unwrap(),
        b"durable content",
        "the mount shows the backing file again"
    );
    assert_eq!(std::fs::metadata(fx.mnt("f")).unwrap().len(), 15);

    // A file created and written but never synced: its name survives (entries are durable
    // at once), its contents do not.
    std::fs::write(fx.mnt("new"), b"never synced").unwrap();
    assert_eq!(fx.lazy().power_loss(false).bytes, 12);
    assert_eq!(std::fs::read(fx.mnt("new")).unwrap(), b"");
    assert_eq!(std::fs::metadata(fx.backing("new")).unwrap().len(), 0);
}

#[test]
fn fsync_and_fdatasync_make_writes_survive() {
    let Some(fx) = Fixture::new("synced") else { return };
    let mut a = rw(&fx.mnt("a"));
    a.write_all(b"synced with fsync").unwrap();
    a.sync_all().unwrap();
    let mut b = rw(&fx.mnt("b"));
    b.write_all(b"synced with fdatasync").unwrap();
    b.sync_data().unwrap();
    assert_eq!(fx.lazy().pending(), Loss::default());
    assert_eq!(std::fs::read(fx.backing("a")).unwrap(), b"synced with fsync");
    assert_eq!(std::fs::read(fx.backing("b")).unwrap(), b"synced with fdatasync");
    assert_eq!(fx.lazy().power_loss(false), Loss::default());
    assert_eq!(std::fs::read(fx.mnt("a")).unwrap(), b"synced with fsync");
    assert_eq!(std::fs::read(fx.mnt("b")).unwrap(), b"synced with fdatasync");
}

#[test]
fn reads_stat_append_pwrite_and_truncate_see_pending_state() {
    let Some(fx) = Fixture::new("pagecache") else { return };
    let mut f = rw(&fx.mnt("log"));
    f.write_all(b"0123456789").unwrap();
    assert_eq!(std::fs::metadata(fx.mnt("log")).unwrap().len(), 10, "stat shows the pending size");
    assert_eq!(f.metadata().unwrap().len(), 10, "fstat too");
    assert_eq!(std::fs::metadata(fx.backing("log")).unwrap().len(), 0);

    // O_APPEND appends at the pending end, not the backing one.
    let mut app = OpenOptions::new().append(true).open(fx.mnt("log")).unwrap();
    app.write_all(b"AB").unwrap();
    app.write_all(b"CD").unwrap();
    drop(app);
    // pwrite in the middle.
    f.write_all_at(b"xy", 3).unwrap();
    let mut seen = String::new();
    File::open(fx.mnt("log")).unwrap().read_to_string(&mut seen).unwrap();
    assert_eq!(seen, "012xy56789ABCD");

    // ftruncate is lazy: seen at once, lost on power loss.
    f.set_len(4).unwrap();
    assert_eq!(std::fs::read(fx.mnt("log")).unwrap(), b"012x");
    f.set_len(6).unwrap();
    assert_eq!(std::fs::read(fx.mnt("log")).unwrap(), b"012x\0\0", "a shrink then grow reads zeros");
    drop(f);
    fx.lazy().power_loss(false);
    assert_eq!(std::fs::read(fx.mnt("log")).unwrap(), b"");

    // truncate (by path) + fsync is kept.
    std::fs::write(fx.backing("t"), b"0123456789").unwrap();
    let f = OpenOptions::new().write(true).open(fx.mnt("t")).unwrap();
    f.set_len(3).unwrap();
    f.sync_all().unwrap();
    drop(f);
    assert_eq!(std::fs::read(fx.backing("t")).unwrap(), b"012");
    fx.lazy().power_loss(false);
    assert_eq!(std::fs::read(fx.mnt("t")).unwrap(), b"012");

    // O_TRUNC on open is a lazy truncate too.
    drop(OpenOptions::new().write(true).truncate(true).open(fx.mnt("t")).unwrap());
    assert_eq!(std::fs::metadata(fx.mnt("t")).unwrap().len(), 0);
    assert_eq!(fx.lazy().power_loss(false).writes, 1);
    assert_eq!(std::fs::read(fx.mnt("t")).unwrap(), b"012");
}

#[test]
fn a_write_after_fsync_is_lost_and_the_synced_part_kept() {
    let Some(fx) = Fixture::new("later") else { return };
    let mut f = rw(&fx.mnt("f"));
    f.write_all(b"first").unwrap();
    f.sync_data().unwrap();
    f.write_all(b" second").unwrap();
    assert_eq!(std::fs::read(fx.mnt("f")).unwrap(), b"first second");
    let loss = fx.lazy().power_loss(false);
    assert_eq!((loss.files, loss.writes, loss.bytes), (1, 1, 7));
    assert_eq!(std::fs::read(fx.backing("f")).unwrap(), b"first");
    assert_eq!(std::fs::read(fx.mnt("f")).unwrap(), b"first");
}

#[test]
fn o_dsync_writes_are_durable_at_once() {
    let Some(fx) = Fixture::new("dsync") else { return };
    let mut f =
        OpenOptions::new().write(true).create(true).custom_flags(libc::O_DSYNC).open(fx.mnt("f")).unwrap();
    f.write_all(b"durable").unwrap();
    assert_eq!(fx.lazy().pending(), Loss::default());
    assert_eq!(std::fs::read(fx.backing("f")).unwrap(), b"durable");
}

#[test]
fn torn_power_loss_keeps_the_first_writes_whole_sectors_but_its_last() {
    let Some(fx) = Fixture::new("torn") else { return };
    let first = bytes(1500, 7);
    let second = bytes(1500, 100);
    let mut f = rw(&fx.mnt("f"));
    f.write_all(&first).unwrap();
    f.write_all(&second).unwrap();
    drop(f);
    let loss = fx.lazy().power_loss(true);
    assert_eq!(loss, Loss { files: 1, writes: 2, bytes: 3000, torn_bytes_kept: 1024 });
    // The first write touched sectors 0, 1 and 2: sectors 0 and 1 (bytes 0..1024) are kept.
    assert_eq!(std::fs::read(fx.backing("f")).unwrap(), &first[..1024]);
    assert_eq!(std::fs::read(fx.mnt("f")).unwrap(), &first[..1024]);

    // After a sync, the next unsynced write is the one torn, at its own offset.
    let f = rw(&fx.mnt("f"));
    f.write_all_at(&second, 1024).unwrap();
    assert_eq!(fx.lazy().power_loss(true).torn_bytes_kept, 1024);
    let mut expected = first[..1024].to_vec();
    expected.extend_from_slice(&second[..1024]);
    assert_eq!(std::fs::read(fx.backing("f")).unwrap(), expected);
}

#[test]
fn pending_writes_follow_a_rename_and_sync_through_the_new_name() {
    let Some(fx) = Fixture::new("rename") else { return };
    std::fs::create_dir(fx.mnt("dir")).unwrap();
    let mut f = rw(&fx.mnt("dir/a.tmp"));
    f.write_all(b"renamed before sync").unwrap();
    drop(f);
    std::fs::rename(fx.mnt("dir/a.tmp"), fx.mnt("dir/b")).unwrap();
    assert!(!fx.backing("dir/a.tmp").exists(), "the rename reached the backing directory");
    assert_eq!(std::fs::read(fx.backing("dir/b")).unwrap(), b"", "the contents did not");
    assert_eq!(std::fs::read(fx.mnt("dir/b")).unwrap(), b"renamed before sync");
    File::open(fx.mnt("dir/b")).unwrap().sync_all().unwrap();
    assert_eq!(fx.lazy().power_loss(false), Loss::default());
    assert_eq!(std::fs::read(fx.backing("dir/b")).unwrap(), b"renamed before sync");

    // A directory rename carries the files inside it.
    std::fs::write(fx.mnt("dir/c"), b"inside").unwrap();
    std::fs::rename(fx.mnt("dir"), fx.mnt("moved")).unwrap();
    assert_eq!(std::fs::read(fx.mnt("moved/c")).unwrap(), b"inside");
    File::open(fx.mnt("moved/c")).unwrap().sync_data().unwrap();
    assert_eq!(std::fs::read(fx.backing("moved/c")).unwrap(), b"inside");
    let names: Vec<String> = std::fs::read_dir(fx.mnt("moved"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(names, ["b", "c"]);
    std::fs::remove_file(fx.mnt("moved/b")).unwrap();
    std::fs::remove_file(fx.mnt("moved/c")).unwrap();
    std::fs::remove_dir(fx.mnt("moved")).unwrap();
    assert!(!fx.backing("moved").exists());
}

#[test]
fn unlink_drops_pending_and_several_files_are_tracked_apart() {
    let Some(fx) = Fixture::new("several") else { return };
    for name in ["x", "y", "z"] {
        std::fs::write(fx.mnt(name), name.repeat(10)).unwrap();
    }
    assert_eq!(fx.lazy().pending(), Loss { files: 3, writes: 3, bytes: 30, torn_bytes_kept: 0 });
    std::fs::remove_file(fx.mnt("z")).unwrap();
    assert_eq!(fx.lazy().pending(), Loss { files: 2, writes: 2, bytes: 20, torn_bytes_kept: 0 });
    File::open(fx.mnt("y")).unwrap().sync_all().unwrap();
    assert_eq!(fx.lazy().power_loss(false), Loss { files: 1, writes: 1, bytes: 10, torn_bytes_kept: 0 });
    assert_eq!(std::fs::read(fx.mnt("x")).unwrap(), b"");
    assert_eq!(std::fs::read(fx.mnt("y")).unwrap(), b"yyyyyyyyyy");
    assert!(!fx.mnt("z").exists());
}

#[test]
fn the_memory_limit_fails_the_writer_with_enospc() {
    let Some(fx) = Fixture::with_limit("limit", 4096) else { return };
    let mut f = rw(&fx.mnt("f"));
    f.write_all(&[1; 2000]).unwrap();
    let err = f.write_all(&[2; 3000]).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOSPC), "{err}");
    assert_eq!(std::fs::metadata(fx.mnt("f")).unwrap().len(), 2000, "the refused write left nothing");
    f.sync_data().unwrap();
    f.write_all(&[2; 3000]).unwrap();
    assert_eq!(fx.lazy().pending().bytes, 3000);
}

#[test]
fn dropping_the_mount_unmounts_it() {
    let Some(mut fx) = Fixture::new("drop") else { return };
    let mnt = fx.mnt("");
    assert!(is_mount_root(&mnt), "mounted: st_dev differs from the parent's");
    std::fs::write(fx.mnt("f"), b"x").unwrap();
    drop(fx.mount.take());
    assert!(!is_mount_root(&mnt), "after drop the mountpoint is a plain directory again");
    assert!(!mnt.join("f").exists());
    // A second mount at the same place works.
    let again = LazyMount::mount(&fx.backing(""), &mnt, LIMIT_BYTES).unwrap();
    assert!(is_mount_root(&mnt));
    assert!(matches!(
        LazyMount::mount(&fx.dir.join("other"), &mnt, LIMIT_BYTES),
        Err(LazyError::AlreadyMounted { .. })
    ));
    drop(again);
}

#[test]
fn a_nested_backing_dir_or_a_zero_limit_is_refused() {
    let dir = std::env::temp_dir().join(format!("synod-lazyfs-{}-nested", std::process::id()));
    let err = LazyMount::mount(&dir.join("m/backing"), &dir.join("m"), LIMIT_BYTES).err().unwrap();
    assert!(matches!(err, LazyError::Nested { .. }), "{err}");
    assert!(err.to_string().contains("must not be inside"), "{err}");
    assert!(matches!(LazyMount::mount(&dir.join("b"), &dir.join("m"), 0), Err(LazyError::Limit)));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_built_in_nodes_log_keeps_synced_records_and_loses_the_rest() {
    use synod_node::paxos::{Ballot, Record};
    use synod_node::storage::log::{encode_batch, MAGIC};
    use synod_node::storage::{AcceptorLog, LOG_FILE};
    let Some(fx) = Fixture::new("nodelog") else { return };
    let data = fx.mnt("node-1");
    let synced = vec![
        Record::Promise { instance: 1, ballot: Ballot::new(3, 2) },
        Record::Accept { instance: 1, ballot: Ballot::new(3, 2), value: "v1".into() },
    ];
    let (mut log, recovery) = AcceptorLog::open(&data).unwrap();
    assert!(recovery.records.is_empty());
    log.append(&synced).unwrap();
    drop(log);
    // A batch written where the next append would go, but never synced.
    let mut batch = Vec::new();
    encode_batch(&synced, &mut batch);
    let end = (MAGIC.len() + batch.len()) as u64;
    let unsynced = vec![Record::Promise { instance: 2, ballot: Ballot::new(9, 1) }];
    let mut late = Vec::new();
    encode_batch(&unsynced, &mut late);
    rw(&data.join(LOG_FILE)).write_all_at(&late, end).unwrap();
    let (_, seen) = AcceptorLog::open(&data).unwrap();
    assert_eq!(seen.records.len(), 3, "before the power loss the unsynced batch reads back");

    let loss = fx.lazy().power_loss(false);
    assert_eq!((loss.files, loss.bytes), (1, late.len() as u64));
    let (_, after) = AcceptorLog::open(&data).unwrap();
    assert_eq!(after.records, synced, "the synced records survive, the unsynced one is gone");
    assert_eq!(after.torn_bytes, 0);
}

/// Percentile `p` (0..=100) of sorted samples.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p / 100.0).round() as usize]
}

/// 64-byte append + fdatasync, `n` times: (p50, p99) in microseconds.
fn append_sync_us(path: &Path, n: usize) -> (f64, f64) {
    let mut f = OpenOptions::new().append(true).create(true).open(path).unwrap();
    let record = [0x5a; 64];
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        f.write_all(&record).unwrap();
        f.sync_data().unwrap();
        samples.push(start.elapsed().as_secs_f64() * 1e6);
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    (percentile(&samples, 50.0), percentile(&samples, 99.0))
}

/// `cargo test -p synod-controller --bin synod lazyfs_cost -- --ignored --nocapture`
#[test]
#[ignore = "a measurement: run it by name with --ignored --nocapture"]
fn lazyfs_cost() {
    let Some(fx) = Fixture::new("cost") else { return };
    const N: usize = 2000;
    let direct = fx.dir.join("direct.log");
    let (d50, d99) = append_sync_us(&direct, N);
    let (m50, m99) = append_sync_us(&fx.mnt("through.log"), N);
    println!("64-byte append + fdatasync, {N} times each:");
    println!("  on disk directly:     p50 {d50:.1} us, p99 {d99:.1} us");
    println!("  through the lazy fs:  p50 {m50:.1} us, p99 {m99:.1} us");
    assert_eq!(std::fs::metadata(fx.backing("through.log")).unwrap().len(), 64 * N as u64);
}

#[test]
fn large_files_and_long_directories_read_back_through_the_mount() {
    let Some(fx) = Fixture::new("bulk") else { return };
    // 1 MiB in pieces of odd sizes at scattered offsets, then read back whole.
    let mut expected = vec![0u8; 1 << 20];
    let f = rw(&fx.mnt("big"));
    let mut offset = 0usize;
    let mut piece = 1usize;
    while offset < expected.len() {
        let len = piece.min(expected.len() - offset);
        let data = bytes(len, piece as u8);
        f.write_all_at(&data, offset as u64).unwrap();
        expected[offset..offset + len].copy_from_slice(&data);
        offset += len;
        piece = piece * 7 % 65_521 + 1;
    }
    // Overwrite a range that spans many earlier pieces.
    f.write_all_at(&[0xAB; 300_000], 100_000).unwrap();
    expected[100_000..400_000].fill(0xAB);
    assert_eq!(std::fs::read(fx.mnt("big")).unwrap(), expected);
    f.sync_data().unwrap();
    assert_eq!(std::fs::read(fx.backing("big")).unwrap(), expected);

    std::fs::create_dir(fx.mnt("many")).unwrap();
    for i in 0..600 {
        std::fs::write(fx.mnt(&format!("many/entry-with-a-long-name-{i:04}")), b"").unwrap();
    }
    let listed = std::fs::read_dir(fx.mnt("many")).unwrap().count();
    assert_eq!(listed, 600, "readdir pages through every entry");
    let ino = std::os::unix::fs::MetadataExt::ino(
        &std::fs::metadata(fx.mnt("many/entry-with-a-long-name-0007")).unwrap(),
    );
    let listed_ino = std::fs::read_dir(fx.mnt("many"))
        .unwrap()
        .map(|e| e.unwrap())
        .find(|e| e.file_name() == "entry-with-a-long-name-0007")
        .map(|e| std::os::unix::fs::DirEntryExt::ino(&e));
    assert_eq!(listed_ino, Some(ino), "readdir's d_ino is stat's st_ino");
}

/// Env var that turns [`sigkill_child`] into a mounting child process.
const CHILD_DIR_ENV: &str = "SYNOD_LAZYFS_CHILD_DIR";

/// Not a test by itself: run by [`a_sigkilled_owner_leaves_no_mount`] in a child process.
#[test]
#[ignore = "the child half of a_sigkilled_owner_leaves_no_mount"]
fn sigkill_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR_ENV).map(PathBuf::from) else { return };
    let mount = LazyMount::mount(&dir.join("backing"), &dir.join("mnt"), LIMIT_BYTES).unwrap();
    std::thread::sleep(std::time::Duration::from_secs(30));
    drop(mount);
}

#[test]
fn a_sigkilled_owner_leaves_no_mount() {
    if let Err(reason) = available() {
        println!("skipped: {reason}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("synod-lazyfs-{}-sigkill", std::process::id()));
    let mnt = dir.join("mnt");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["lazyfs::tests::sigkill_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR_ENV, &dir)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let wait = |want: bool| {
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        while is_mount_root(&mnt) != want && Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        is_mount_root(&mnt) == want
    };
    let mounted = wait(true);
    child.kill().unwrap();
    child.wait().unwrap();
    let unmounted = wait(false);
    if !unmounted {
        let _ = nix::mount::umount2(&mnt, nix::mount::MntFlags::MNT_DETACH);
    }
    // The orphaned helper checks the mount from a private mount namespace for a moment, in
    // which the directory is still busy: retry the removal briefly.
    let deadline = Instant::now() + std::time::Duration::from_secs(5);
    while std::fs::remove_dir_all(&dir).is_err() && dir.exists() && Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(mounted, "the child mounted");
    assert!(unmounted, "fusermount3's auto_unmount detached the mount of the killed process");
}

#[test]
fn dropping_a_busy_mount_detaches_it_within_bounds() {
    let Some(mut fx) = Fixture::new("busy") else { return };
    let mnt = fx.mnt("");
    let mut held = rw(&fx.mnt("held"));
    held.write_all(b"still open").unwrap();
    let start = Instant::now();
    drop(fx.mount.take());
    let took = start.elapsed();
    assert!(took < std::time::Duration::from_secs(10), "drop took {took:?}");
    assert!(!is_mount_root(&mnt), "detached from the tree at once");
    // The open file still works until it is closed: a lazy detach, not a yanked device.
    assert_eq!(held.read_at(&mut [0u8; 4], 0).unwrap(), 4);
    drop(held);
}

/// chmod, chown and utimes by path reach the backing file at once; a truncate by path (no
/// handle) is lazy like any other content change.
#[test]
fn metadata_changes_by_path_are_durable_and_a_truncate_by_path_is_lazy() {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let Some(fx) = Fixture::new("setattr") else { return };
    std::fs::write(fx.backing("f"), b"0123456789").unwrap();
    let mnt = fx.mnt("f");
    std::fs::set_permissions(&mnt, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert_eq!(std::fs::metadata(fx.backing("f")).unwrap().mode() & 0o7777, 0o640);
    let meta = std::fs::metadata(&mnt).unwrap();
    std::os::unix::fs::chown(&mnt, Some(meta.uid()), Some(meta.gid())).unwrap();
    let c = std::ffi::CString::new(mnt.as_os_str().as_bytes()).unwrap();
    let times = [libc::timespec { tv_sec: 1_000_000_000, tv_nsec: 0 }; 2];
    // SAFETY: a NUL-terminated path and a two-element array.
    assert_eq!(unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), 0) }, 0);
    assert_eq!(std::fs::metadata(fx.backing("f")).unwrap().mtime(), 1_000_000_000);
    assert_eq!(std::fs::metadata(&mnt).unwrap().mtime(), 1_000_000_000);
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::truncate(c.as_ptr(), 4) }, 0);
    assert_eq!(std::fs::read(&mnt).unwrap(), b"0123");
    assert_eq!(std::fs::read(fx.backing("f")).unwrap(), b"0123456789");
    fx.lazy().power_loss(false);
    assert_eq!(std::fs::read(&mnt).unwrap(), b"0123456789");
}
