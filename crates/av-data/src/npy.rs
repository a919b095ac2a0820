//! A minimal NumPy `.npy` reader and writer, for the official code's label and index files
//! (`labels_a.npy` / `labels_v.npy` (N, 7) float soft pseudo labels, `audioset_val.npy`
//! (1099, 10) bool). Format: <https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html>.
//!
//! Supported: format versions 1-3, C order, little-endian or byte-sized dtypes `f4 f8 i1 i2 i4 i8
//! u1 u2 u4 u8 b1`; values are widened to `f64`.

use std::path::Path;

use crate::error::{DataError, Result, io_err};

/// An n-dimensional array read from a `.npy` file, values widened to `f64`, C (row-major) order.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// The shape, e.g. `[N, 7]`.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values in row-major order.
    pub data: Vec<f64>,
}

impl NpyArray {
    /// Row `i` of a 2-D array, `None` when not 2-D or out of range.
    pub fn row(&self, i: usize) -> Option<&[f64]> {
        match self.shape.as_slice() {
            [n, c] if i < *n => self.data.get(i * c..(i + 1) * c),
            _ => None,
        }
    }
}

fn npy_err(path: &Path, detail: impl Into<String>) -> DataError {
    DataError::Npy { path: path.to_path_buf(), detail: detail.into() }
}

/// Reads a `.npy` file.
///
/// # Errors
/// [`DataError::Missing`], [`DataError::Io`], [`DataError::Npy`] (bad magic, unsupported dtype,
/// Fortran order, truncated data).
pub fn read_npy(path: impl AsRef<Path>) -> Result<NpyArray> {
    let path = path.as_ref();
    if !path.exists() {
        return Err(DataError::Missing { what: ".npy file", path: path.to_path_buf() });
    }
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    parse_npy(&bytes).map_err(|d| npy_err(path, d))
}

fn parse_npy(bytes: &[u8]) -> std::result::Result<NpyArray, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not a .npy file (bad magic)".into());
    }
    let (header_len, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => {
            (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12)
        }
        v => return Err(format!("unsupported format version {v}")),
    };
    let header = bytes
        .get(start..start + header_len)
        .ok_or("truncated header")
        .and_then(|h| std::str::from_utf8(h).map_err(|_| "header is not text"))?;
    let descr = dict_value(header, "descr").ok_or("header has no 'descr'")?;
    let descr = descr
        .strip_prefix(['\'', '"'])
        .and_then(|d| d.split(['\'', '"']).next())
        .ok_or("malformed 'descr'")?;
    if dict_value(header, "fortran_order").is_some_and(|v| v.starts_with("True")) {
        return Err("Fortran-order arrays are not supported".into());
    }
    let shape_txt = dict_value(header, "shape").ok_or("header has no 'shape'")?;
    let inner = shape_txt.trim_start_matches('(');
    let inner = &inner[..inner.find(')').ok_or("malformed shape")?];
    let shape: Vec<usize> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| format!("malformed shape {shape_txt:?}")))
        .collect::<std::result::Result<_, _>>()?;
    let body = &bytes[start + header_len..];
    let (kind, size) = match descr.as_bytes() {
        [b'<' | b'|' | b'=', k, rest @ ..] => {
            (*k, std::str::from_utf8(rest).ok().and_then(|s| s.parse::<usize>().ok()).ok_or("bad dtype")?)
        }
        _ => return Err(format!("unsupported dtype {descr:?} (big-endian or structured)")),
    };
    if !matches!(size, 1 | 2 | 4 | 8) {
        return Err(format!("unsupported dtype {descr:?}"));
    }
    // The declared shape is checked against the data before anything is allocated: a header may
    // claim any shape (e.g. 10^12 x 10^12), whose element count would overflow.
    let count = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|n| n.checked_mul(size).is_some_and(|b| b <= body.len()))
        .ok_or_else(|| {
            format!("truncated data: {} bytes for shape {shape:?} of {size}-byte values", body.len())
        })?;
    let chunks = body.chunks_exact(size).take(count);
    let data: Vec<f64> = match (kind, size) {
        (b'f', 4) => chunks.map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]]))).collect(),
        (b'f', 8) => chunks.map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect(),
        (b'b', 1) | (b'u', 1) => chunks.map(|c| f64::from(c[0])).collect(),
        (b'i', 1) => chunks.map(|c| f64::from(c[0] as i8)).collect(),
        (b'i', 2) => chunks.map(|c| f64::from(i16::from_le_bytes([c[0], c[1]]))).collect(),
        (b'u', 2) => chunks.map(|c| f64::from(u16::from_le_bytes([c[0], c[1]]))).collect(),
        (b'i', 4) => chunks.map(|c| f64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]]))).collect(),
        (b'u', 4) => chunks.map(|c| f64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]]))).collect(),
        (b'i', 8) => chunks.map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f64).collect(),
        (b'u', 8) => chunks.map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f64).collect(),
        _ => return Err(format!("unsupported dtype {descr:?}")),
    };
    Ok(NpyArray { shape, data })
}

/// The text after `'key':` in a `.npy` header dict, up to the end of the header.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header.find(&format!("'{key}'")).or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = &header[at + key.len() + 2..];
    Some(rest[rest.find(':')? + 1..].trim_start())
}

/// Writes a C-order little-endian `f4` array (format version 1.0).
///
/// # Errors
/// [`DataError::InvalidConfig`] when `data.len()` is not the product of `shape`;
/// [`DataError::Io`].
pub fn write_npy_f32(path: impl AsRef<Path>, shape: &[usize], data: &[f32]) -> Result<()> {
    let path = path.as_ref();
    if shape.iter().product::<usize>() != data.len() {
        return Err(DataError::InvalidConfig(format!("{} values do not fill shape {shape:?}", data.len())));
    }
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_txt =
        if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_txt}, }}");
    // Pad with spaces so that magic + length + header + '\n' is a multiple of 64 bytes.
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes).map_err(io_err(path))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read() {
        let dir = std::env::temp_dir().join(format!("av-data-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.npy");
        write_npy_f32(&p, &[2, 3], &[0.0, 0.5, 1.0, 0.25, 0.75, 1.0]).unwrap();
        let a = read_npy(&p).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.row(1).unwrap(), &[0.25, 0.75, 1.0]);
        assert!(write_npy_f32(&p, &[2, 2], &[0.0]).is_err());
        std::fs::write(&p, b"garbage").unwrap();
        assert!(matches!(read_npy(&p), Err(DataError::Npy { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bool_arrays() {
        // numpy.save of np.array([[True, False]]) (format 1.0).
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        let mut header = "{'descr': '|b1', 'fortran_order': False, 'shape': (1, 2), }".to_string();
        while !(10 + header.len() + 1).is_multiple_of(64) {
            header.push(' ');
        }
        header.push('\n');
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(&[1, 0]);
        let a = parse_npy(&bytes).unwrap();
        assert_eq!((a.shape, a.data), (vec![1, 2], vec![1.0, 0.0]));
    }
}
