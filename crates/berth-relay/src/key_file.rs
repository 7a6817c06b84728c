//! The relay's private key on disk: 32 raw bytes, readable by its owner only.
//!
//! Created with mode 0600 and a key from the OS when missing; refused when
//! the length is wrong or group or others may read it. The key is never
//! logged or printed ([`berth::Key`]'s `Debug` hides it too).

use berth::{Key, OsRandom};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Bytes in a key file: the key, raw.
pub const KEY_FILE_LEN: usize = 32;

/// Why the key file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// Opening or reading an existing file failed.
    #[error("cannot read key file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// Creating or writing a new file failed.
    #[error("cannot create key file {}", path.display())]
    Create {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// The file is not 32 bytes long.
    #[error(
        "key file {} holds {len} bytes, not {KEY_FILE_LEN}; a key file is exactly {KEY_FILE_LEN} raw bytes \
         (delete it to have a new key made)",
        path.display()
    )]
    WrongLength {
        /// The file.
        path: PathBuf,
        /// Its length, or 33 for anything longer.
        len: usize,
    },
    /// Group or others may read or write the file.
    #[error(
        "key file {} has mode {mode:03o}: group or others may access it; run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The path names something other than a regular file.
    #[error("key file {} is not a regular file", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
}

/// Whether [`load_or_create`] found the key or made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    /// Read from an existing file.
    Loaded,
    /// Generated and written to a new file.
    Created,
}

/// Reads the key at `path`, or creates the file (mode 0600, a fresh key
/// from the OS) when there is none.
///
/// # Errors
///
/// [`KeyFileError`] when the file cannot be read or created, has the
/// wrong length, is not a regular file, or (on Unix) is open to group or
/// others.
pub fn load_or_create(path: &Path) -> Result<(Key, KeyOrigin), KeyFileError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dir(parent).map_err(|source| KeyFileError::Create {
            path: path.to_owned(),
            source,
        })?;
    }
    match create(path) {
        Ok(key) => Ok((key, KeyOrigin::Created)),
        // Someone else's file, or one from an earlier run: read it.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            load(path).map(|key| (key, KeyOrigin::Loaded))
        }
        Err(source) => Err(KeyFileError::Create {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Creates `dir` and its missing parents, the new ones readable by their
/// owner only (the default key's folder is made on first run).
fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates `path` (never an existing file, nor through a symlink), writes
/// a new key, and syncs it. A half-written file is removed.
fn create(path: &Path) -> io::Result<Key> {
    let mut options = File::options();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    let key = Key::generate(&mut OsRandom);
    let written = file
        .write_all(key.as_bytes())
        .and_then(|()| file.sync_all());
    if let Err(e) = written {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(key)
}

/// Reads an existing key file after checking its type, mode and length.
fn load(path: &Path) -> Result<Key, KeyFileError> {
    let read_error = |source| KeyFileError::Read {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(read_error)?;
    // Checked on the open file, so what is checked is what is read.
    let meta = file.metadata().map_err(read_error)?;
    if !meta.is_file() {
        return Err(KeyFileError::NotAFile {
            path: path.to_owned(),
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::TooOpen {
                path: path.to_owned(),
                mode,
            });
        }
    }
    // One byte more than a key tells "too long" apart without reading a huge file.
    let mut bytes = Vec::with_capacity(KEY_FILE_LEN + 1);
    file.take(KEY_FILE_LEN as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    let key: [u8; KEY_FILE_LEN] =
        bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyFileError::WrongLength {
                path: path.to_owned(),
                len: bytes.len(),
            })?;
    Ok(Key::from_bytes(key))
}
