//! The file operations the acceptor log makes, behind a trait, so that one log code path runs
//! on the real filesystem ([`OsDisk`]) and on the simulator's in-memory disk
//! ([`super::sim_disk::SimDisk`]), which can crash and lose what was not synced (issue 19).
//!
//! Why a trait of exactly these operations and no more: the log's crash safety is an argument
//! about the order of writes, fdatasyncs, renames and directory fsyncs. Keeping the trait to
//! the calls the log makes, one trait method a syscall, means [`OsDisk`] issues the same
//! syscalls in the same order as the log did before the trait, and the simulated disk sees
//! that same order, so what a simulated crash shows holds for the real node too.
//!
//! Handles are values of [`Disk::File`], passed back to the disk for every operation: the
//! disk, not the handle, owns the state, so a simulated disk can crash every handle at once.

use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// A filesystem as the acceptor log uses it. Errors are `io::Error`s; the log adds the path.
pub trait Disk: Debug {
    /// An open file, readable and writable.
    type File: Debug;

    /// Creates `dir` and its missing ancestors (`mkdir -p`).
    fn create_dir_all(&mut self, dir: &Path) -> io::Result<()>;
    /// Opens `path` for reading and writing, creating it if missing; with `truncate`, empties
    /// it. A new name is durable only after [`Disk::sync_dir`] of its directory.
    fn open(&mut self, path: &Path, truncate: bool) -> io::Result<Self::File>;
    /// Reads the file of a handle just opened, from its start to its end.
    fn read_all(&mut self, file: &mut Self::File) -> io::Result<Vec<u8>>;
    /// Writes all of `data` at byte `offset`, extending the file (with zeros in any gap).
    fn write_at(&mut self, file: &Self::File, data: &[u8], offset: u64) -> io::Result<()>;
    /// Cuts or extends (with zeros) the file to `len_bytes`.
    fn set_len(&mut self, file: &Self::File, len_bytes: u64) -> io::Result<()>;
    /// The file's length as a reader sees it now.
    fn file_len(&mut self, file: &Self::File) -> io::Result<u64>;
    /// Makes the file's contents and length durable (fdatasync).
    fn sync_data(&mut self, file: &Self::File) -> io::Result<()>;
    /// Renames `from` to `to` atomically, replacing `to`. Durable after a directory sync.
    fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes the entries of directory `dir` durable (fsync of the directory).
    fn sync_dir(&mut self, dir: &Path) -> io::Result<()>;
    /// Removes the name `path`; `io::ErrorKind::NotFound` when there is none.
    fn remove_file(&mut self, path: &Path) -> io::Result<()>;
}

/// The real filesystem through `std::fs`: the syscalls the log has always made.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsDisk;

impl Disk for OsDisk {
    type File = File;

    fn create_dir_all(&mut self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    fn open(&mut self, path: &Path, truncate: bool) -> io::Result<File> {
        OpenOptions::new().read(true).write(true).create(true).truncate(truncate).open(path)
    }

    fn read_all(&mut self, file: &mut File) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    fn write_at(&mut self, file: &File, data: &[u8], offset: u64) -> io::Result<()> {
        file.write_all_at(data, offset)
    }

    fn set_len(&mut self, file: &File, len_bytes: u64) -> io::Result<()> {
        file.set_len(len_bytes)
    }

    fn file_len(&mut self, file: &File) -> io::Result<u64> {
        Ok(file.metadata()?.len())
    }

    fn sync_data(&mut self, file: &File) -> io::Result<()> {
        file.sync_data()
    }

    fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn sync_dir(&mut self, dir: &Path) -> io::Result<()> {
        File::open(dir).and_then(|d| d.sync_all())
    }

    fn remove_file(&mut self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }
}

/// A borrowed disk is a disk: the simulator keeps each node's disk and lends it to the node's
/// log, so that after the node is dropped the disk is still there to crash and reopen.
impl<D: Disk + ?Sized> Disk for &mut D {
    type File = D::File;

    fn create_dir_all(&mut self, dir: &Path) -> io::Result<()> {
        (**self).create_dir_all(dir)
    }
    fn open(&mut self, path: &Path, truncate: bool) -> io::Result<D::File> {
        (**self).open(path, truncate)
    }
    fn read_all(&mut self, file: &mut D::File) -> io::Result<Vec<u8>> {
        (**self).read_all(file)
    }
    fn write_at(&mut self, file: &D::File, data: &[u8], offset: u64) -> io::Result<()> {
        (**self).write_at(file, data, offset)
    }
    fn set_len(&mut self, file: &D::File, len_bytes: u64) -> io::Result<()> {
        (**self).set_len(file, len_bytes)
    }
    fn file_len(&mut self, file: &D::File) -> io::Result<u64> {
        (**self).file_len(file)
    }
    fn sync_data(&mut self, file: &D::File) -> io::Result<()> {
        (**self).sync_data(file)
    }
    fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        (**self).rename(from, to)
    }
    fn sync_dir(&mut self, dir: &Path) -> io::Result<()> {
        (**self).sync_dir(dir)
    }
    fn remove_file(&mut self, path: &Path) -> io::Result<()> {
        (**self).remove_file(path)
    }
}
