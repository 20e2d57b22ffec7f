//! Files rotated by size (the server log, `core.log_file`, and the audit log,
//! `security.audit_path`), with `file-rotate`: past `max_bytes` the live file becomes
//! `NAME.1`, older ones move up, and at most `keep` rotated files are kept.

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};
use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::Path;

/// A file rotated by size.
pub(crate) type RotatingFile = FileRotate<AppendCount>;

/// Opens `path` for appending, rotated past `max_bytes` (at a write boundary, so a line
/// is never split) with `keep` rotated files. A missing parent directory is created
/// (mode 0750); the file is created with mode `mode`. Every failure is an error naming
/// the file and `what` (the profile key), never a panic later.
pub(crate) fn open(
    path: &Path,
    max_bytes: u64,
    keep: usize,
    mode: u32,
    what: &str,
) -> io::Result<RotatingFile> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()));
    if path.file_name().is_none() {
        return Err(named(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a file path",
        )));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(dir)
            .map_err(named)?;
    }
    let mut options = OpenOptions::new();
    options.read(true).create(true).append(true).mode(mode);
    // Fail here, with the reason, if the file cannot be written: the rotating writer
    // would otherwise drop every line silently.
    options.open(path).map_err(named)?;
    let limit = usize::try_from(max_bytes).unwrap_or(usize::MAX).max(1);
    Ok(FileRotate::new(
        path,
        AppendCount::new(keep.max(1)),
        ContentLimit::BytesSurpassed(limit),
        Compression::None,
        Some(options),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn rotates_by_size_and_keeps_a_bounded_number_of_files() {
        let dir = std::env::temp_dir().join(format!("mabeam-logfile-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("sub/app.log");
        let mut f = open(&path, 100, 2, 0o600, "core.log_file").unwrap();
        for i in 0..40 {
            writeln!(f, "line {i:04} of the log").unwrap();
        }
        f.flush().unwrap();
        let mut names: Vec<String> = std::fs::read_dir(dir.join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["app.log", "app.log.1", "app.log.2"]);
        for n in &names {
            let len = std::fs::metadata(dir.join("sub").join(n)).unwrap().len();
            assert!(len <= 100 + 32, "{n}: {len} bytes");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unwritable_path_is_an_error_naming_the_key() {
        let opened = open(
            Path::new("/proc/mabeam/x.log"),
            100,
            2,
            0o600,
            "security.audit_path",
        );
        let Err(e) = opened else {
            panic!("opened a file under /proc");
        };
        assert!(e.to_string().contains("security.audit_path"), "{e}");
    }
}
