//! Reading GGUF files (versions 2 and 3): the header, metadata of every value type, tensor
//! infos, alignment and the data section. Every read is bounds-checked and every count is
//! checked against the bytes left before anything is allocated, so a malformed or truncated
//! file is an error, never a panic or a huge allocation.

use super::llama::QTensor;
use super::quant::Format;
use crate::error::{LanternError, Result};
use std::collections::BTreeMap;

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    F32(f32),
    F64(f64),
    Bool(bool),
    String(String),
    Array(Vec<Value>),
}

impl Value {
    /// Any integer type, as u64 (negative numbers are None).
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U8(v) => Some(v as u64),
            Value::U16(v) => Some(v as u64),
            Value::U32(v) => Some(v as u64),
            Value::U64(v) => Some(v),
            Value::I8(v) => u64::try_from(v).ok(),
            Value::I16(v) => u64::try_from(v).ok(),
            Value::I32(v) => u64::try_from(v).ok(),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::F32(v) => Some(v as f64),
            Value::F64(v) => Some(v),
            _ => self.as_u64().map(|v| v as f64),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// Where one tensor lies in the file.
#[derive(Debug, Clone)]
pub struct TensorInfo {
    pub name: String,
    /// GGUF order: dims[0] is the fastest-varying (the row length), as ggml writes it.
    pub dims: Vec<u64>,
    pub format: Format,
    /// Absolute byte range in the file.
    pub start: usize,
    pub len: usize,
}

impl TensorInfo {
    pub fn n_elements(&self) -> u64 {
        self.dims.iter().product()
    }
}

pub struct Gguf<'a> {
    pub version: u32,
    pub metadata: BTreeMap<String, Value>,
    pub tensors: Vec<TensorInfo>,
    bytes: &'a [u8],
    file: String,
}

const MAGIC: &[u8; 4] = b"GGUF";

impl<'a> Gguf<'a> {
    /// Parses the header and tensor infos of `bytes`; `file` names it in errors.
    pub fn parse(bytes: &'a [u8], file: &str) -> Result<Self> {
        let mut r = Cursor {
            bytes,
            pos: 0,
            file,
        };
        let magic: [u8; 4] = r.array("the magic number")?;
        if &magic != MAGIC {
            return Err(r.error(format!(
                "not a GGUF file (it starts with {magic:?}, not \"GGUF\")"
            )));
        }
        let version = r.u32("the version")?;
        if !(2..=3).contains(&version) {
            return Err(r.error(format!(
                "GGUF version {version} is not supported (Lantern reads versions 2 and 3)"
            )));
        }
        let n_tensors = r.u64("the tensor count")?;
        let n_kv = r.u64("the metadata count")?;
        // Each metadata entry takes at least 12 bytes, each tensor info at least 24.
        r.check_count(n_kv, 12, "metadata entries")?;
        r.check_count(n_tensors, 24, "tensor infos")?;

        let mut metadata = BTreeMap::new();
        for _ in 0..n_kv {
            let key = r.string("a metadata key")?;
            let ty = r.u32(&format!("the type of `{key}`"))?;
            let value = r.value(ty, &key, 0)?;
            if metadata.contains_key(&key) {
                return Err(r.error(format!("metadata key `{key}` appears twice")));
            }
            metadata.insert(key, value);
        }

        let mut raw = Vec::with_capacity(n_tensors as usize);
        let mut names = std::collections::HashSet::new();
        for _ in 0..n_tensors {
            let name = r.string("a tensor name")?;
            let n_dims = r.u32(&format!("the rank of tensor `{name}`"))?;
            if n_dims == 0 || n_dims > 4 {
                return Err(r.error(format!(
                    "tensor `{name}` has {n_dims} dimensions (1 to 4 expected)"
                )));
            }
            let dims = (0..n_dims)
                .map(|_| r.u64(&format!("a dimension of `{name}`")))
                .collect::<Result<Vec<_>>>()?;
            let ty = r.u32(&format!("the type of tensor `{name}`"))?;
            let offset = r.u64(&format!("the offset of tensor `{name}`"))?;
            if !names.insert(name.clone()) {
                return Err(r.error(format!("tensor `{name}` appears twice")));
            }
            raw.push((name, dims, ty, offset));
        }

        let alignment = match metadata.get("general.alignment") {
            None => 32,
            Some(v) => v
                .as_u64()
                .filter(|a| a.is_power_of_two() && *a <= 1 << 16)
                .ok_or_else(|| {
                    r.error(format!(
                        "general.alignment is {v:?}; it must be a power of two"
                    ))
                })?,
        } as usize;
        let data_start = r.pos.next_multiple_of(alignment);

        let mut tensors = Vec::with_capacity(raw.len());
        for (name, dims, ty, offset) in raw {
            let format = Format::from_ggml_type(ty).map_err(|kind| {
                r.error(format!(
                    "unsupported tensor type {kind} in tensor `{name}`; Lantern reads {}",
                    Format::all_names()
                ))
            })?;
            let n: u64 = dims
                .iter()
                .try_fold(1u64, |acc, &d| acc.checked_mul(d))
                .filter(|&n| n > 0)
                .ok_or_else(|| {
                    r.error(format!("tensor `{name}` has an impossible shape {dims:?}"))
                })?;
            if dims[0] % format.block_len() as u64 != 0 {
                return Err(r.error(format!("tensor `{name}` has rows of {} values, not a whole number of {:?} blocks of {}", dims[0], format, format.block_len())));
            }
            // Found by fuzzing: n blocks' bytes can pass 2^64 where n itself does not.
            let len = (n / format.block_len() as u64)
                .checked_mul(format.block_bytes() as u64)
                .ok_or_else(|| {
                    r.error(format!(
                        "tensor `{name}` ({format:?}, shape {dims:?}) would take more than 2^64 bytes"
                    ))
                })?;
            let start = (data_start as u64)
                .checked_add(offset)
                .filter(|s| s % alignment as u64 == 0);
            let end = start.and_then(|s| s.checked_add(len));
            match (start, end) {
                (Some(s), Some(e)) if e <= bytes.len() as u64 => tensors.push(TensorInfo {
                    name,
                    dims,
                    format,
                    start: s as usize,
                    len: len as usize,
                }),
                _ => {
                    return Err(r.error(format!(
                        "tensor `{name}` ({format:?}, shape {dims:?}) needs {len} bytes at offset {offset}, past the end of the {}-byte file (truncated?) or misaligned",
                        bytes.len()
                    )));
                }
            }
        }
        // Tensors must not overlap: a size that disagrees with the shape shows up here.
        let mut by_start: Vec<&TensorInfo> = tensors.iter().collect();
        by_start.sort_by_key(|t| t.start);
        for pair in by_start.windows(2) {
            if pair[0].start + pair[0].len > pair[1].start {
                return Err(r.error(format!(
                    "tensor `{}` ({} bytes from its shape) overlaps tensor `{}`",
                    pair[0].name, pair[0].len, pair[1].name
                )));
            }
        }
        Ok(Self {
            version,
            metadata,
            tensors,
            bytes,
            file: file.to_string(),
        })
    }

    pub fn file(&self) -> &str {
        &self.file
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.get(key)
    }

    fn missing(&self, key: &str) -> LanternError {
        LanternError::Checkpoint {
            file: self.file.clone(),
            reason: format!("missing metadata key `{key}`"),
        }
    }

    fn bad(&self, key: &str, want: &str, v: &Value) -> LanternError {
        LanternError::Checkpoint {
            file: self.file.clone(),
            reason: format!("metadata key `{key}` should be {want}, found {v:?}"),
        }
    }

    pub fn u64(&self, key: &str) -> Result<u64> {
        let v = self.get(key).ok_or_else(|| self.missing(key))?;
        v.as_u64().ok_or_else(|| self.bad(key, "an integer", v))
    }

    pub fn f64(&self, key: &str) -> Result<f64> {
        let v = self.get(key).ok_or_else(|| self.missing(key))?;
        v.as_f64().ok_or_else(|| self.bad(key, "a number", v))
    }

    /// The flag `key`, `default` when the file leaves it out.
    pub fn flag_or(&self, key: &str, default: bool) -> bool {
        self.get(key).map_or(default, |v| *v == Value::Bool(true))
    }

    pub fn str(&self, key: &str) -> Result<&str> {
        let v = self.get(key).ok_or_else(|| self.missing(key))?;
        v.as_str().ok_or_else(|| self.bad(key, "a string", v))
    }

    /// An array of strings.
    pub fn strings(&self, key: &str) -> Result<Vec<&str>> {
        let v = self.get(key).ok_or_else(|| self.missing(key))?;
        let a = v.as_array().ok_or_else(|| self.bad(key, "an array", v))?;
        a.iter()
            .map(|x| {
                x.as_str()
                    .ok_or_else(|| self.bad(key, "an array of strings", x))
            })
            .collect()
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The bytes of a tensor, in its stored format.
    pub fn data(&self, t: &TensorInfo) -> &'a [u8] {
        &self.bytes[t.start..t.start + t.len]
    }

    /// The matrix `name` of `rows` × `cols` (a linear layer's [out, in]), kept in its stored
    /// format; an error names a missing tensor or a shape that differs.
    pub fn matrix(&self, name: &str, rows: usize, cols: usize) -> Result<QTensor> {
        let t = self
            .tensor(name)
            .ok_or_else(|| LanternError::MissingTensor {
                file: self.file().to_string(),
                tensor: name.to_string(),
            })?;
        // GGUF lists dimensions fastest first: [cols, rows], or [cols] for a vector.
        let expected: Vec<u64> = if rows == 1 {
            vec![cols as u64]
        } else {
            vec![cols as u64, rows as u64]
        };
        if t.dims != expected {
            return Err(LanternError::ShapeMismatch {
                file: self.file().to_string(),
                tensor: name.to_string(),
                got: t.dims.iter().map(|&d| d as usize).collect(),
                expected: expected.iter().map(|&d| d as usize).collect(),
            });
        }
        let bytes = self.data(t);
        if let Some(i) = super::quant::first_non_finite(t.format, bytes) {
            return Err(LanternError::Checkpoint {
                file: self.file().to_string(),
                reason: format!(
                    "tensor `{name}` ({:?}) holds NaN or infinity at weight {i}: the file is corrupt",
                    t.format
                ),
            });
        }
        Ok(QTensor {
            format: t.format,
            rows,
            cols,
            bytes: bytes.to_vec(),
        })
    }

    /// The vector `name` of `len` values, as f32.
    pub fn vector(&self, name: &str, len: usize) -> Result<Vec<f32>> {
        Ok(self.matrix(name, 1, len)?.to_f32())
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    file: &'a str,
}

impl Cursor<'_> {
    fn error(&self, reason: String) -> LanternError {
        LanternError::Checkpoint {
            file: self.file.to_string(),
            reason,
        }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&[u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        match end {
            Some(e) => {
                let s = &self.bytes[self.pos..e];
                self.pos = e;
                Ok(s)
            }
            None => Err(self.error(format!(
                "the file ends at byte {} while reading {what} (truncated?)",
                self.bytes.len()
            ))),
        }
    }

    /// A count of items of at least `min_size` bytes each must fit in what is left.
    fn check_count(&self, n: u64, min_size: u64, what: &str) -> Result<()> {
        let left = (self.bytes.len() - self.pos) as u64;
        if n.saturating_mul(min_size) > left {
            return Err(self.error(format!("the header promises {n} {what}, more than the {left} bytes left could hold (truncated or corrupt)")));
        }
        Ok(())
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        Ok(self.take(N, what)?.try_into().expect("N bytes"))
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn string(&mut self, what: &str) -> Result<String> {
        let len = self.u64(what)?;
        self.check_count(len, 1, &format!("bytes of {what}"))?;
        let bytes = self.take(len as usize, what)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| self.error(format!("{what} is not valid UTF-8")))
    }

    fn value(&mut self, ty: u32, key: &str, depth: u32) -> Result<Value> {
        let what = &format!("the value of `{key}`");
        Ok(match ty {
            0 => Value::U8(self.array::<1>(what)?[0]),
            1 => Value::I8(self.array::<1>(what)?[0] as i8),
            2 => Value::U16(u16::from_le_bytes(self.array(what)?)),
            3 => Value::I16(i16::from_le_bytes(self.array(what)?)),
            4 => Value::U32(u32::from_le_bytes(self.array(what)?)),
            5 => Value::I32(i32::from_le_bytes(self.array(what)?)),
            6 => Value::F32(f32::from_le_bytes(self.array(what)?)),
            7 => Value::Bool(self.array::<1>(what)?[0] != 0),
            8 => Value::String(self.string(what)?),
            9 => {
                if depth > 2 {
                    return Err(self.error(format!("`{key}` nests arrays too deeply")));
                }
                let elem = self.u32(what)?;
                let n = self.u64(what)?;
                let min = match elem {
                    0 | 1 | 7 => 1,
                    2 | 3 => 2,
                    4..=6 => 4,
                    8 | 10..=12 => 8,
                    9 => 12,
                    other => {
                        return Err(
                            self.error(format!("`{key}` is an array of unknown type {other}"))
                        );
                    }
                };
                self.check_count(n, min, &format!("elements of `{key}`"))?;
                let items = (0..n)
                    .map(|_| self.value(elem, key, depth + 1))
                    .collect::<Result<Vec<_>>>()?;
                Value::Array(items)
            }
            10 => Value::U64(u64::from_le_bytes(self.array(what)?)),
            11 => Value::I64(i64::from_le_bytes(self.array(what)?)),
            12 => Value::F64(f64::from_le_bytes(self.array(what)?)),
            other => return Err(self.error(format!("`{key}` has unknown value type {other}"))),
        })
    }
}

/// One tensor for [`write`]: its name, GGUF dimensions (fastest first), format and bytes.
pub struct TensorData {
    pub name: String,
    pub dims: Vec<u64>,
    pub format: Format,
    pub bytes: Vec<u8>,
}

/// Writes a GGUF v3 file: `metadata` (in key order), then the tensor infos, then each
/// tensor's bytes at the next multiple of the alignment (`general.alignment`, else 32).
/// What [`Gguf::parse`] reads back equal (the fuzz target `gguf_roundtrip` checks it).
pub fn write(metadata: &BTreeMap<String, Value>, tensors: &[TensorData]) -> Vec<u8> {
    let alignment = metadata
        .get("general.alignment")
        .and_then(Value::as_u64)
        .unwrap_or(32) as usize;
    let mut out = MAGIC.to_vec();
    out.extend(3u32.to_le_bytes());
    out.extend((tensors.len() as u64).to_le_bytes());
    out.extend((metadata.len() as u64).to_le_bytes());
    for (key, value) in metadata {
        write_string(&mut out, key);
        out.extend(value_type(value).to_le_bytes());
        write_value(&mut out, value);
    }
    let mut offset = 0usize;
    for t in tensors {
        write_string(&mut out, &t.name);
        out.extend((t.dims.len() as u32).to_le_bytes());
        for d in &t.dims {
            out.extend(d.to_le_bytes());
        }
        out.extend(t.format.spec().ggml_type.to_le_bytes());
        out.extend((offset as u64).to_le_bytes());
        offset = (offset + t.bytes.len()).next_multiple_of(alignment);
    }
    for t in tensors {
        out.resize(out.len().next_multiple_of(alignment), 0);
        out.extend(&t.bytes);
    }
    out
}

fn write_string(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s.as_bytes());
}

/// GGUF's type id of a value (an array's elements take the first one's type; U8 if empty).
fn value_type(v: &Value) -> u32 {
    match v {
        Value::U8(_) => 0,
        Value::I8(_) => 1,
        Value::U16(_) => 2,
        Value::I16(_) => 3,
        Value::U32(_) => 4,
        Value::I32(_) => 5,
        Value::F32(_) => 6,
        Value::Bool(_) => 7,
        Value::String(_) => 8,
        Value::Array(_) => 9,
        Value::U64(_) => 10,
        Value::I64(_) => 11,
        Value::F64(_) => 12,
    }
}

fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::U8(x) => out.push(*x),
        Value::I8(x) => out.extend(x.to_le_bytes()),
        Value::U16(x) => out.extend(x.to_le_bytes()),
        Value::I16(x) => out.extend(x.to_le_bytes()),
        Value::U32(x) => out.extend(x.to_le_bytes()),
        Value::I32(x) => out.extend(x.to_le_bytes()),
        Value::F32(x) => out.extend(x.to_le_bytes()),
        Value::Bool(x) => out.push(*x as u8),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.extend(items.first().map_or(0, value_type).to_le_bytes());
            out.extend((items.len() as u64).to_le_bytes());
            for item in items {
                write_value(out, item);
            }
        }
        Value::U64(x) => out.extend(x.to_le_bytes()),
        Value::I64(x) => out.extend(x.to_le_bytes()),
        Value::F64(x) => out.extend(x.to_le_bytes()),
    }
}
