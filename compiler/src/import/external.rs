//! External tensor data (`data_location = EXTERNAL`): only relative paths under the model's folder, no `..`,
//! no symlinks, offset and length checked with checked arithmetic; reads only the bytes the tensor needs.
//! It must not follow a path out of the model's folder (CVE-2022-25882, CVE-2024-27318: BAD-INPUT #11).
use super::error::ImportError;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use tract_onnx::pb::TensorProto;

/// Reads the `need` bytes of tensor `name` from its external file.
pub(crate) fn read(t: &TensorProto, name: &str, model_dir: Option<&Path>, need: usize) -> Result<Vec<u8>, ImportError> {
    let err = |why: String| ImportError::external(name, why);
    let (mut location, mut offset, mut length) = (None, None, None);
    for e in &t.external_data {
        let slot = match e.key.as_str() {
            "location" => &mut location,
            "offset" => &mut offset,
            "length" => &mut length,
            // `checksum` and unknown keys carry nothing we rely on.
            _ => continue,
        };
        if slot.replace(e.value.as_str()).is_some() {
            return Err(err(format!("key `{}` is given twice", e.key)));
        }
    }
    let location = location.ok_or_else(|| err("no `location` entry".into()))?;
    let parse = |key: &str, v: Option<&str>| -> Result<Option<u64>, ImportError> {
        v.map(|s| s.trim().parse::<u64>().map_err(|_| err(format!("`{key}` is not a byte count: {s:?}")))).transpose()
    };
    let offset = parse("offset", offset)?.unwrap_or(0);
    let need64 = need as u64;
    let length = parse("length", length)?.unwrap_or(need64);
    if length != need64 {
        return Err(err(format!("length {length} does not match the {need} bytes its dims and dtype need")));
    }
    let dir = model_dir.ok_or_else(|| err("external data needs the model's folder (import from a path)".into()))?;
    let (path, file_len) = resolve(dir, location).map_err(err)?;
    let end = offset.checked_add(length).ok_or_else(|| err(format!("offset {offset} + length {length} overflows")))?;
    if end > file_len {
        return Err(err(format!(
            "offset {offset} + length {length} is past the end of `{location}` ({file_len} bytes)"
        )));
    }
    let mut f = File::open(&path).map_err(|e| err(format!("cannot open `{location}`: {e}")))?;
    // Re-check through the handle: the file may have changed since it was resolved.
    let meta = f.metadata().map_err(|e| err(format!("cannot stat `{location}`: {e}")))?;
    if !meta.is_file() || meta.len() < end {
        return Err(err(format!("`{location}` changed while reading")));
    }
    f.seek(SeekFrom::Start(offset)).map_err(|e| err(format!("cannot seek in `{location}`: {e}")))?;
    let mut buf = Vec::new();
    buf.try_reserve_exact(need).map_err(|_| err(format!("cannot allocate {need} bytes")))?;
    f.take(length).read_to_end(&mut buf).map_err(|e| err(format!("cannot read `{location}`: {e}")))?;
    if buf.len() != need {
        return Err(err(format!("read {} bytes of `{location}`, expected {need}", buf.len())));
    }
    Ok(buf)
}

/// Resolves `location` under `dir`, refusing absolute paths, `..`, symlinks and non-files; returns the path
/// and the file's length.
fn resolve(dir: &Path, location: &str) -> Result<(PathBuf, u64), String> {
    if location.is_empty() {
        return Err("empty location".into());
    }
    if location.contains('\0') {
        return Err("location contains a NUL byte".into());
    }
    let rel = Path::new(location);
    if rel.is_absolute() || rel.has_root() {
        return Err(format!(
            "location `{location}` is an absolute path; only paths under the model's folder are allowed"
        ));
    }
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(p) => parts.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(format!(
                    "location `{location}` contains `..`; only paths under the model's folder are allowed"
                ))
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("location `{location}` is an absolute path"))
            }
        }
    }
    let mut path = dir.to_path_buf();
    let count = parts.len();
    if count == 0 {
        return Err(format!("location `{location}` names no file"));
    }
    for (i, p) in parts.into_iter().enumerate() {
        path.push(p);
        let meta = std::fs::symlink_metadata(&path).map_err(|e| format!("cannot stat `{}`: {e}", path.display()))?;
        if meta.file_type().is_symlink() {
            return Err(format!("`{}` is a symlink; external data must not use symlinks", path.display()));
        }
        let last = i + 1 == count;
        if last && !meta.is_file() {
            return Err(format!("`{}` is not a regular file", path.display()));
        }
        if !last && !meta.is_dir() {
            return Err(format!("`{}` is not a folder", path.display()));
        }
        if last {
            return Ok((path, meta.len()));
        }
    }
    Err(format!("location `{location}` names no file"))
}
