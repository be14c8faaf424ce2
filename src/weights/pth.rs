//! PyTorch checkpoints read from memory: the ZIP layout `torch.save` has written since PyTorch
//! 1.6 (`<archive>/data.pkl`, a pickle of the saved object, and `<archive>/data/<key>`, one raw
//! little-endian storage per key). The page holds a checkpoint as bytes, and the reader the CLI
//! uses (`pytorch-reader`, for every layout torch.save has had) reads tensors from a file path
//! only; this one reads the same ZIP from a slice (through the `zip` crate) and interprets the
//! pickle as data: a small stack machine that knows the opcodes of protocols 2 to 5 and builds
//! values, never calling anything. The few callables a state dict names are recognised by name
//! (`collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`, `_rebuild_parameter`,
//! `torch.Size`, the builtin containers); any other is kept as an opaque object and its contents
//! are dropped. `tests/weights_files.rs` holds it to pytorch-reader on the same files.
//!
//! The saved object is flattened into dotted names as pytorch-reader does (`state_dict.conv1.weight`
//! for `{"state_dict": {...}}`); float32, float16 and bfloat16 tensors come out as float32, integer
//! and boolean ones (BatchNorm's `num_batches_tracked`, an optimizer's step) are left out.
//! Every length, index and size is checked: a damaged or hostile file gives an error, never a
//! panic, and never runs code.

use std::collections::{BTreeMap, HashMap};
use std::io::{Cursor, Read};

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Deeper nesting than this is not a checkpoint (and would exhaust the stack when flattened).
const MAX_DEPTH: usize = 64;
/// A pickle's memo and stack are bounded by its own length; these keep a hostile one small.
const MAX_MEMO: usize = 1 << 22;

/// The element types of PyTorch's typed storages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dtype {
    F32,
    F16,
    Bf16,
    F64,
    /// Integer and boolean storages, with their element size: not weights, left out.
    Integer(usize),
}

impl Dtype {
    fn of_storage(name: &str) -> Option<Self> {
        Some(match name {
            "FloatStorage" => Dtype::F32,
            "HalfStorage" => Dtype::F16,
            "BFloat16Storage" => Dtype::Bf16,
            "DoubleStorage" => Dtype::F64,
            "LongStorage" => Dtype::Integer(8),
            "IntStorage" => Dtype::Integer(4),
            "ShortStorage" => Dtype::Integer(2),
            "CharStorage" | "ByteStorage" | "BoolStorage" => Dtype::Integer(1),
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F16 | Dtype::Bf16 => 2,
            Dtype::F64 => 8,
            Dtype::Integer(n) => n,
        }
    }
}

/// A tensor the pickle describes: a view into the storage saved under `key`.
#[derive(Debug, Clone)]
struct TensorRef {
    dtype: Dtype,
    key: String,
    offset: usize,
    shape: Vec<usize>,
    stride: Vec<usize>,
}

/// A pickle value: as much of Python as a checkpoint needs. The payloads of what a state dict
/// does not use (a flag, a float, bytes, an object's class) are kept for `Debug` only.
#[derive(Debug, Clone)]
#[allow(dead_code)]
enum Value {
    Mark,
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    /// A class or function named by the pickle (`module`, `name`), never looked up.
    Global(String, String),
    /// A storage from a persistent id.
    Storage(Dtype, String),
    Tensor(TensorRef),
    /// An instance of a class the reader does not interpret (its contents are dropped).
    Object(String),
}

fn bad(file: &str, reason: impl Into<String>) -> Error {
    Error::NotSafetensors {
        file: file.to_string(),
        what: format!(
            "a PyTorch checkpoint that cannot be read ({}): it is damaged or cut short; save it again with torch.save(model.state_dict(), ...)",
            reason.into()
        ),
    }
}

/// Reads the float tensors of a `torch.save` ZIP held in `bytes`; `file` names it in messages.
/// Errors: not a ZIP of torch.save's layout (the legacy pre-1.6 layout is named, with the CLI,
/// which reads it), a pickle this reader does not follow, a tensor outside its storage, a
/// float64 tensor (refused as safetensors' are: the engine does not round weights silently).
pub fn read_pth(bytes: &[u8], file: &str) -> Result<BTreeMap<String, Tensor>> {
    if !bytes.starts_with(b"PK") {
        return Err(Error::NotSafetensors {
            file: file.to_string(),
            what:
                "a PyTorch checkpoint in the legacy layout of torch before 1.6, which the page does not read: save it again with a current \
                torch.save(model.state_dict(), ...), or open it with the command line (attention-playground net), which reads it"
                    .into(),
        });
    }
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| bad(file, format!("not a ZIP archive: {e}")))?;
    let names: Vec<String> = zip.file_names().filter_map(|n| n.ok().map(|n| n.into_owned())).collect();
    let pickle_name =
        names.iter().find(|n| *n == "data.pkl" || n.ends_with("/data.pkl")).ok_or_else(|| bad(file, "no data.pkl inside"))?.clone();
    let prefix = pickle_name.trim_end_matches("data.pkl").to_string();
    if let Some(order) = names.iter().find(|n| **n == format!("{prefix}byteorder")) {
        let text = entry(&mut zip, order, file, 16)?;
        if text.trim_ascii() == b"big" {
            return Err(bad(file, "saved on a big-endian machine"));
        }
    }
    let pickle = entry(&mut zip, &pickle_name, file, bytes.len())?;
    let root = Machine::new(&pickle, file).run()?;
    let mut refs = Vec::new();
    flatten(root, String::new(), 0, &mut refs, file)?;
    // Each storage is read once, whatever number of views it backs.
    let mut storages: HashMap<String, Vec<u8>> = HashMap::new();
    let mut tensors = BTreeMap::new();
    for (name, t) in refs {
        match t.dtype {
            Dtype::Integer(_) => continue,
            Dtype::F64 => {
                return Err(Error::WrongDtype {
                    file: file.to_string(),
                    key: name,
                    found: "F64".into(),
                    remedy: "the engine computes in float32 and does not round weights silently: save them as float32 (`{k: v.float() for k, v in state_dict.items()}`)",
                });
            }
            _ => {}
        }
        if !storages.contains_key(&t.key) {
            let path = format!("{prefix}data/{}", t.key);
            if !names.contains(&path) {
                return Err(bad(file, format!("tensor `{name}`'s storage {} is missing", t.key)));
            }
            let data = entry(&mut zip, &path, file, bytes.len())?;
            storages.insert(t.key.clone(), data);
        }
        let tensor =
            gather(&t, &storages[&t.key], bytes.len()).ok_or_else(|| bad(file, format!("tensor `{name}` reaches outside its storage")))?;
        tensors.insert(name, tensor);
    }
    Ok(tensors)
}

/// The bytes of the entry `name`, at most `limit` of them.
fn entry(zip: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str, file: &str, limit: usize) -> Result<Vec<u8>> {
    let mut entry = zip.by_name(name).map_err(|e| bad(file, format!("entry {name}: {e}")))?;
    if entry.size() > limit as u64 {
        return Err(bad(file, format!("entry {name} says it holds {} bytes", entry.size())));
    }
    let mut out = Vec::with_capacity(entry.size() as usize);
    entry.by_ref().take(limit as u64 + 1).read_to_end(&mut out).map_err(|e| bad(file, format!("entry {name}: {e}")))?;
    Ok(out)
}

/// The view `t` of `storage` as a float32 tensor; None where an index leaves the storage or the
/// tensor would hold more values than the file has bytes.
fn gather(t: &TensorRef, storage: &[u8], file_bytes: usize) -> Option<Tensor> {
    let size = t.dtype.size();
    let elements = storage.len() / size;
    let numel = t.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))?;
    if numel > file_bytes || t.shape.len() != t.stride.len() {
        return None;
    }
    let value = |i: usize| -> Option<f32> {
        let b = storage.get(i * size..(i + 1) * size)?;
        Some(match t.dtype {
            Dtype::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            Dtype::F16 => half::f16::from_le_bytes([b[0], b[1]]).to_f32(),
            Dtype::Bf16 => half::bf16::from_le_bytes([b[0], b[1]]).to_f32(),
            _ => return None,
        })
    };
    let mut data = Vec::with_capacity(numel);
    if numel > 0 {
        // An odometer over the shape: the index into the storage of each element in order.
        let mut index = vec![0usize; t.shape.len()];
        for _ in 0..numel {
            let at = index.iter().zip(&t.stride).try_fold(t.offset, |a, (&i, &s)| a.checked_add(i.checked_mul(s)?))?;
            if at >= elements {
                return None;
            }
            data.push(value(at)?);
            for d in (0..index.len()).rev() {
                index[d] += 1;
                if index[d] < t.shape[d] {
                    break;
                }
                index[d] = 0;
            }
        }
    }
    Tensor::new(t.shape.clone(), data)
}

/// The tensors of `value` under dotted names: dict keys and list indices joined by `.`.
fn flatten(value: Value, name: String, depth: usize, out: &mut Vec<(String, TensorRef)>, file: &str) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(bad(file, "nested deeper than a checkpoint is"));
    }
    let join = |key: &str| if name.is_empty() { key.to_string() } else { format!("{name}.{key}") };
    match value {
        Value::Tensor(t) => out.push((name, t)),
        Value::Dict(items) => {
            for (k, v) in items {
                let key = match k {
                    Value::Str(s) => s,
                    Value::Int(i) => i.to_string(),
                    _ => continue,
                };
                flatten(v, join(&key), depth + 1, out, file)?;
            }
        }
        Value::List(items) | Value::Tuple(items) => {
            for (i, v) in items.into_iter().enumerate() {
                flatten(v, join(&i.to_string()), depth + 1, out, file)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The pickle stack machine.
struct Machine<'a> {
    data: &'a [u8],
    at: usize,
    stack: Vec<Value>,
    memo: HashMap<u64, Value>,
    file: &'a str,
}

impl<'a> Machine<'a> {
    fn new(data: &'a [u8], file: &'a str) -> Self {
        Self { data, at: 0, stack: Vec::new(), memo: HashMap::new(), file }
    }

    fn err(&self, reason: impl Into<String>) -> Error {
        bad(self.file, format!("{} at byte {} of its pickle", reason.into(), self.at))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.data.len()).ok_or_else(|| self.err("the pickle ends early"))?;
        let out = &self.data[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn le<const N: usize>(&mut self) -> Result<[u8; N]> {
        let b = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    fn line(&mut self) -> Result<String> {
        let rest = &self.data[self.at..];
        let end = rest.iter().position(|&b| b == b'\n').ok_or_else(|| self.err("a line without its end"))?;
        let text = String::from_utf8_lossy(&rest[..end]).into_owned();
        self.at += end + 1;
        Ok(text)
    }

    fn pop(&mut self) -> Result<Value> {
        self.stack.pop().ok_or_else(|| self.err("the stack is empty"))
    }

    fn top(&mut self) -> Result<&mut Value> {
        let at = self.at;
        self.stack.last_mut().ok_or_else(|| bad(self.file, format!("the stack is empty at byte {at} of its pickle")))
    }

    /// The values above the topmost mark, the mark removed.
    fn pop_mark(&mut self) -> Result<Vec<Value>> {
        let mark = self.stack.iter().rposition(|v| matches!(v, Value::Mark)).ok_or_else(|| self.err("no mark on the stack"))?;
        let items = self.stack.split_off(mark + 1);
        self.stack.pop();
        Ok(items)
    }

    fn text(&mut self, n: usize) -> Result<Value> {
        Ok(Value::Str(String::from_utf8_lossy(self.take(n)?).into_owned()))
    }

    fn memoize(&mut self, key: u64) -> Result<()> {
        if self.memo.len() >= MAX_MEMO {
            return Err(self.err("a memo larger than a checkpoint's"));
        }
        let value = self.top()?.clone();
        self.memo.insert(key, value);
        Ok(())
    }

    fn get(&mut self, key: u64) -> Result<()> {
        let value = self.memo.get(&key).cloned().ok_or_else(|| self.err(format!("memo {key} was never stored")))?;
        self.stack.push(value);
        Ok(())
    }

    fn length(&self, n: u64) -> Result<usize> {
        usize::try_from(n).ok().filter(|&n| n <= self.data.len()).ok_or_else(|| self.err(format!("a length of {n} bytes")))
    }

    fn run(mut self) -> Result<Value> {
        loop {
            let op = self.u8()?;
            match op {
                0x80 => {
                    self.u8()?; // PROTO
                }
                0x95 => {
                    self.take(8)?; // FRAME: a length hint
                }
                b'.' => return self.pop(), // STOP
                b'(' => self.stack.push(Value::Mark),
                b')' => self.stack.push(Value::Tuple(Vec::new())),
                b']' => self.stack.push(Value::List(Vec::new())),
                b'}' => self.stack.push(Value::Dict(Vec::new())),
                0x8f => self.stack.push(Value::List(Vec::new())), // EMPTY_SET
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'K' => {
                    let v = self.u8()?;
                    self.stack.push(Value::Int(v.into()));
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.le()?);
                    self.stack.push(Value::Int(v.into()));
                }
                b'J' => {
                    let v = i32::from_le_bytes(self.le()?);
                    self.stack.push(Value::Int(v.into()));
                }
                0x8a => {
                    // LONG1: a little-endian two's-complement integer of n bytes.
                    let n = self.u8()? as usize;
                    let b = self.take(n)?;
                    if n > 8 {
                        self.stack.push(Value::Object("int".into())); // too large for a shape
                    } else {
                        let mut v: i64 = if b.last().is_some_and(|&x| x & 0x80 != 0) { -1 } else { 0 };
                        for &byte in b.iter().rev() {
                            v = (v << 8) | i64::from(byte);
                        }
                        self.stack.push(Value::Int(v));
                    }
                }
                0x8b => {
                    let raw = u32::from_le_bytes(self.le()?);
                    let n = self.length(raw.into())?; // LONG4
                    self.take(n)?;
                    self.stack.push(Value::Object("int".into()));
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.le()?);
                    self.stack.push(Value::Float(v));
                }
                b'X' => {
                    let raw = u32::from_le_bytes(self.le()?);
                    let n = self.length(raw.into())?;
                    let v = self.text(n)?;
                    self.stack.push(v);
                }
                0x8c | b'U' => {
                    let n = self.u8()? as usize;
                    let v = self.text(n)?;
                    self.stack.push(v);
                }
                0x8d => {
                    let raw = u64::from_le_bytes(self.le()?);
                    let n = self.length(raw)?;
                    let v = self.text(n)?;
                    self.stack.push(v);
                }
                b'T' => {
                    let raw = u32::from_le_bytes(self.le()?);
                    let n = self.length(raw.into())?;
                    let v = self.text(n)?;
                    self.stack.push(v);
                }
                b'B' => {
                    let raw = u32::from_le_bytes(self.le()?);
                    let n = self.length(raw.into())?;
                    let v = self.take(n)?.to_vec();
                    self.stack.push(Value::Bytes(v));
                }
                b'C' => {
                    let n = self.u8()? as usize;
                    let v = self.take(n)?.to_vec();
                    self.stack.push(Value::Bytes(v));
                }
                0x8e => {
                    let raw = u64::from_le_bytes(self.le()?);
                    let n = self.length(raw)?;
                    let v = self.take(n)?.to_vec();
                    self.stack.push(Value::Bytes(v));
                }
                b'q' => {
                    let k = self.u8()?;
                    self.memoize(k.into())?;
                }
                b'r' => {
                    let k = u32::from_le_bytes(self.le()?);
                    self.memoize(k.into())?;
                }
                0x94 => {
                    let k = self.memo.len() as u64; // MEMOIZE
                    self.memoize(k)?;
                }
                b'h' => {
                    let k = self.u8()?;
                    self.get(k.into())?;
                }
                b'j' => {
                    let k = u32::from_le_bytes(self.le()?);
                    self.get(k.into())?;
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.stack.push(Value::Global(module, name));
                }
                0x93 => {
                    // STACK_GLOBAL
                    let (name, module) = (self.pop()?, self.pop()?);
                    match (module, name) {
                        (Value::Str(m), Value::Str(n)) => self.stack.push(Value::Global(m, n)),
                        _ => return Err(self.err("a global whose name is not text")),
                    }
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Tuple(items));
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    if self.stack.len() < n {
                        return Err(self.err("the stack is empty"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.stack.push(Value::Tuple(items));
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::List(items));
                }
                b'a' => {
                    let v = self.pop()?;
                    if let Value::List(items) = self.top()? {
                        items.push(v);
                    }
                }
                b'e' | 0x90 => {
                    // APPENDS, ADDITEMS
                    let v = self.pop_mark()?;
                    if let Value::List(items) = self.top()? {
                        items.extend(v);
                    }
                }
                0x91 => {
                    let items = self.pop_mark()?; // FROZENSET
                    self.stack.push(Value::List(items));
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let pairs = pairs(items).ok_or_else(|| self.err("a dict of an odd number of values"))?;
                    self.stack.push(Value::Dict(pairs));
                }
                b's' => {
                    let (v, k) = (self.pop()?, self.pop()?);
                    if let Value::Dict(items) = self.top()? {
                        items.push((k, v));
                    }
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let new = pairs(items).ok_or_else(|| self.err("SETITEMS of an odd number of values"))?;
                    if let Value::Dict(items) = self.top()? {
                        items.extend(new);
                    }
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let storage = persistent_load(pid).ok_or_else(|| self.err("a persistent id that is not a torch storage"))?;
                    self.stack.push(storage);
                }
                b'R' => {
                    let (args, callable) = (self.pop()?, self.pop()?);
                    let value = reduce(callable, args).ok_or_else(|| self.err("a tensor whose shape, stride or storage cannot be read"))?;
                    self.stack.push(value);
                }
                0x81 | 0x92 => {
                    // NEWOBJ, NEWOBJ_EX: an instance of a class, never constructed.
                    if op == 0x92 {
                        self.pop()?;
                    }
                    let (_args, class) = (self.pop()?, self.pop()?);
                    let name = match class {
                        Value::Global(m, n) => format!("{m}.{n}"),
                        _ => "object".into(),
                    };
                    self.stack.push(Value::Object(name));
                }
                b'b' => {
                    // BUILD: an object's state. A dict's attributes (a state dict's _metadata)
                    // are not its items; an object's contents are dropped.
                    self.pop()?;
                    self.top()?;
                }
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.top()?.clone();
                    self.stack.push(v);
                }
                other => {
                    return Err(self.err(format!(
                        "pickle opcode 0x{other:02x}, which a saved state dict does not use (it may hold a whole pickled program, not weights)"
                    )));
                }
            }
        }
    }
}

fn pairs(items: Vec<Value>) -> Option<Vec<(Value, Value)>> {
    if !items.len().is_multiple_of(2) {
        return None;
    }
    let mut it = items.into_iter();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Some(out)
}

/// torch.save's persistent id of a storage: `("storage", <class torch.FloatStorage>, key, location, numel)`.
fn persistent_load(pid: Value) -> Option<Value> {
    let Value::Tuple(items) = pid else { return None };
    match items.as_slice() {
        [Value::Str(kind), Value::Global(_, class), key, ..] if kind == "storage" => {
            let key = match key {
                Value::Str(s) => s.clone(),
                Value::Int(i) => i.to_string(),
                _ => return None,
            };
            if key.contains('/') || key.contains("..") {
                return None;
            }
            // An unknown storage type (a complex or quantised one) keeps its place as an integer
            // storage: left out like num_batches_tracked.
            Some(Value::Storage(Dtype::of_storage(class).unwrap_or(Dtype::Integer(1)), key))
        }
        _ => None,
    }
}

fn usizes(v: &Value) -> Option<Vec<usize>> {
    match v {
        Value::Tuple(items) | Value::List(items) => items
            .iter()
            .map(|i| match i {
                Value::Int(n) => usize::try_from(*n).ok(),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// The value of `callable(*args)` for the callables a state dict uses, recognised by name and
/// never called; any other gives an opaque object. None where a tensor's arguments are wrong.
fn reduce(callable: Value, args: Value) -> Option<Value> {
    let Value::Global(module, name) = callable else { return Some(Value::Object("object".into())) };
    let args = match args {
        Value::Tuple(items) => items,
        _ => return Some(Value::Object(format!("{module}.{name}"))),
    };
    Some(match (module.as_str(), name.as_str()) {
        ("torch._utils", "_rebuild_tensor" | "_rebuild_tensor_v2" | "_rebuild_tensor_v3") => {
            let [Value::Storage(dtype, key), Value::Int(offset), size, stride, ..] = args.as_slice() else { return None };
            Value::Tensor(TensorRef {
                dtype: *dtype,
                key: key.clone(),
                offset: usize::try_from(*offset).ok()?,
                shape: usizes(size)?,
                stride: usizes(stride)?,
            })
        }
        ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state") => args.into_iter().next()?,
        ("collections", "OrderedDict") | ("builtins" | "__builtin__", "dict") => match args.into_iter().next() {
            Some(Value::List(items)) => Value::Dict(
                items
                    .into_iter()
                    .filter_map(|p| match p {
                        Value::Tuple(kv) | Value::List(kv) if kv.len() == 2 => {
                            let mut kv = kv.into_iter();
                            Some((kv.next()?, kv.next()?))
                        }
                        _ => None,
                    })
                    .collect(),
            ),
            Some(d @ Value::Dict(_)) => d,
            _ => Value::Dict(Vec::new()),
        },
        ("torch", "Size") | ("builtins" | "__builtin__", "tuple" | "list" | "set" | "frozenset") => {
            args.into_iter().next().unwrap_or(Value::Tuple(Vec::new()))
        }
        _ => Value::Object(format!("{module}.{name}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A protocol-2 pickle of `{"w": _rebuild_tensor_v2(storage "0", 0, (2, 2), (1, 2), False, OrderedDict())}`
    /// in a ZIP as torch.save lays it out; the view is the storage transposed.
    fn transposed_checkpoint() -> Vec<u8> {
        let mut p = vec![0x80, 2, b'}', b'q', 0, b'X'];
        p.extend(1u32.to_le_bytes());
        p.push(b'w');
        p.extend(b"ctorch._utils\n_rebuild_tensor_v2\n(");
        p.extend(b"(X");
        p.extend(7u32.to_le_bytes());
        p.extend(b"storage");
        p.extend(b"ctorch\nFloatStorage\nX");
        p.extend(1u32.to_le_bytes());
        p.push(b'0');
        p.extend(b"X");
        p.extend(3u32.to_le_bytes());
        p.extend(b"cpu");
        p.extend([b'K', 4, b't', b'Q']);
        p.extend([b'K', 0, b'K', 2, b'K', 2, 0x86, b'K', 1, b'K', 2, 0x86, 0x89]);
        p.extend(b"ccollections\nOrderedDict\n)R");
        p.extend([b't', b'R', b's', b'.']);
        let mut out = Vec::new();
        {
            let mut w = zip::ZipWriter::new(Cursor::new(&mut out));
            let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
            w.start_file("archive/data.pkl", opts).unwrap();
            std::io::Write::write_all(&mut w, &p).unwrap();
            w.start_file("archive/data/0", opts).unwrap();
            for v in [1.0f32, 2.0, 3.0, 4.0] {
                std::io::Write::write_all(&mut w, &v.to_le_bytes()).unwrap();
            }
            w.finish().unwrap();
        }
        out
    }

    #[test]
    fn a_strided_view_is_read_in_its_own_order() {
        let tensors = read_pth(&transposed_checkpoint(), "t.pth").unwrap();
        let w = &tensors["w"];
        assert_eq!(w.shape(), &[2, 2]);
        assert_eq!(w.data(), &[1.0, 3.0, 2.0, 4.0]);
    }

    #[test]
    fn a_cut_or_damaged_checkpoint_is_an_error_never_a_panic() {
        let good = transposed_checkpoint();
        for cut in 0..good.len() {
            let _ = read_pth(&good[..cut], "cut.pth");
        }
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0xff;
            let _ = read_pth(&bad, "flipped.pth");
        }
        let err = read_pth(b"\x80\x02}q\x00.", "legacy.pth").unwrap_err().to_string();
        assert!(err.contains("legacy layout"), "{err}");
    }
}
