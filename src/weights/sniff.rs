//! What a file is when it does not parse as safetensors: the files people pass as weights by
//! mistake (a PyTorch checkpoint, a git-LFS pointer, a web page saved instead of the download, a
//! file cut short, ...), recognised by their first bytes so that the message names the kind and
//! says what to do, instead of the parser's "header too large".
//!
//! Plain byte inspection: no files, no threads, so the CLI, `render` and the browser all say the
//! same words.

use std::fmt;

/// The kinds of file recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    /// Zero bytes.
    Empty,
    /// The text file git-LFS leaves in place of a file that was never fetched; the real file's
    /// size when the pointer says it.
    GitLfsPointer {
        size: Option<u64>,
    },
    /// `torch.save` (a zip holding `<name>/data.pkl`), or its legacy form, a raw pickle.
    PyTorch {
        legacy: bool,
    },
    /// `torch.jit.save`: a zip holding `constants.pkl` and `code/`.
    TorchScript,
    /// `numpy.savez`: a zip of `.npy` members.
    NumpyNpz,
    /// `numpy.save`: one array, no names.
    NumpyNpy,
    /// A Keras 3 `.keras` archive (a zip holding `model.weights.h5`).
    KerasArchive,
    /// HDF5, as Keras `.h5` weights are.
    Hdf5,
    /// llama.cpp's GGUF.
    Gguf,
    Gzip,
    /// Another zip archive.
    Zip,
    /// A web page saved instead of the file (a login or error page, a file's page instead of
    /// its raw content).
    Html,
    /// A JSON text (an error response saved instead of the file, a config).
    Json,
    /// A photo given where weights were expected.
    Image(&'static str),
    /// Some other text (notes, a list of class names, a config file).
    Text,
    /// A safetensors file cut short: `expected` bytes announced, `found` there.
    Truncated {
        expected: u64,
        found: u64,
    },
}

/// Whether `bytes` are a PyTorch checkpoint written by `torch.save` (zip or legacy pickle).
pub fn is_pytorch(bytes: &[u8]) -> bool {
    matches!(sniff(bytes), Some(FileKind::PyTorch { .. }))
}

/// Recognises `bytes` (which failed to parse as safetensors); `None` for anything else.
pub fn sniff(bytes: &[u8]) -> Option<FileKind> {
    if bytes.is_empty() {
        return Some(FileKind::Empty);
    }
    if bytes.starts_with(b"version https://git-lfs") {
        return Some(FileKind::GitLfsPointer { size: lfs_size(bytes) });
    }
    if let Some(kind) = truncated_safetensors(bytes) {
        return Some(kind);
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return Some(zip_kind(bytes));
    }
    // A pickle's PROTO opcode (0x80) and a protocol number, 2 to 5.
    if bytes.len() >= 2 && bytes[0] == 0x80 && (2..=5).contains(&bytes[1]) {
        return Some(FileKind::PyTorch { legacy: true });
    }
    let magic: [(&[u8], FileKind); 7] = [
        (b"\x93NUMPY", FileKind::NumpyNpy),
        (b"\x89HDF\r\n\x1a\n", FileKind::Hdf5),
        (b"GGUF", FileKind::Gguf),
        (b"\x1f\x8b", FileKind::Gzip),
        (b"\xff\xd8\xff", FileKind::Image("JPEG")),
        (b"\x89PNG\r\n\x1a\n", FileKind::Image("PNG")),
        (b"GIF8", FileKind::Image("GIF")),
    ];
    if let Some((_, kind)) = magic.into_iter().find(|(m, _)| bytes.starts_with(m)) {
        return Some(kind);
    }
    if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        return Some(FileKind::Image("WebP"));
    }
    let text = skip_text_start(bytes);
    let starts = |word: &[u8]| text.len() >= word.len() && text[..word.len()].eq_ignore_ascii_case(word);
    if starts(b"<!doctype html") || starts(b"<html") || starts(b"<head") || starts(b"<body") {
        return Some(FileKind::Html);
    }
    if starts(b"{\"") || (starts(b"[") && text.get(1).is_some_and(|b| b"{\"[ \n".contains(b))) {
        return Some(FileKind::Json);
    }
    // Text: the first bytes are UTF-8 with no control characters but whitespace.
    let head = &bytes[..bytes.len().min(512)];
    let text_like = match std::str::from_utf8(head) {
        Ok(t) => !t.chars().any(|c| c.is_control() && !c.is_whitespace()),
        // A multi-byte character cut at the 512th byte.
        Err(e) => e.valid_up_to() + 4 > head.len() && e.error_len().is_none(),
    };
    if text_like && !skip_text_start(bytes).is_empty() {
        return Some(FileKind::Text);
    }
    None
}

/// `bytes` past a UTF-8 byte-order mark and leading whitespace.
fn skip_text_start(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    &bytes[start..]
}

/// The `size N` line of a git-LFS pointer.
fn lfs_size(bytes: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(&bytes[..bytes.len().min(1024)]).ok()?;
    text.lines().find_map(|l| l.strip_prefix("size ")).and_then(|n| n.trim().parse().ok())
}

/// A safetensors file whose header or data ends early: an 8-byte header length, a header that
/// starts as JSON, and fewer bytes than the header (and the data offsets it lists) announce.
fn truncated_safetensors(bytes: &[u8]) -> Option<FileKind> {
    let found = bytes.len() as u64;
    let n = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    // safetensors' own limit on a header (100 MB); beyond it these bytes are no header length.
    if n > 100_000_000 || bytes.get(8) != Some(&b'{') {
        return None;
    }
    let header_end = 8 + n;
    if found < header_end {
        return Some(FileKind::Truncated { expected: header_end, found });
    }
    let header = std::str::from_utf8(&bytes[8..header_end as usize]).ok()?;
    let data_len = largest_data_offset(header)?;
    (found < header_end + data_len).then_some(FileKind::Truncated { expected: header_end + data_len, found })
}

/// The largest end offset among the header's `"data_offsets":[start,end]` entries.
fn largest_data_offset(header: &str) -> Option<u64> {
    let mut largest = None;
    let mut rest = header;
    while let Some(at) = rest.find("\"data_offsets\"") {
        rest = &rest[at + "\"data_offsets\"".len()..];
        let inside = rest.trim_start().strip_prefix(':')?.trim_start().strip_prefix('[')?;
        let list = &inside[..inside.find(']')?];
        let end: u64 = list.split(',').nth(1)?.trim().parse().ok()?;
        largest = Some(largest.map_or(end, |l: u64| l.max(end)));
    }
    largest
}

/// What a zip archive holds, by its members' names.
fn zip_kind(bytes: &[u8]) -> FileKind {
    let names = zip_names(bytes);
    let any = |f: &dyn Fn(&str) -> bool| names.iter().any(|n| f(n));
    if any(&|n| n.ends_with("constants.pkl") || n.contains("/code/")) {
        FileKind::TorchScript
    } else if any(&|n| n == "data.pkl" || n.ends_with("/data.pkl")) {
        FileKind::PyTorch { legacy: false }
    } else if any(&|n| n.ends_with(".h5")) {
        FileKind::KerasArchive
    } else if !names.is_empty() && names.iter().all(|n| n.ends_with(".npy")) {
        FileKind::NumpyNpz
    } else {
        FileKind::Zip
    }
}

/// The members' names: from the central directory when the archive is whole, else from the local
/// headers from the start (as far as their sizes are known).
fn zip_names(bytes: &[u8]) -> Vec<String> {
    let u16_at = |at: usize| bytes.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]) as usize);
    let u32_at = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let name_at = |at: usize, len: usize| bytes.get(at..at + len).map(|n| String::from_utf8_lossy(n).into_owned());
    let mut names = Vec::new();
    // The end-of-central-directory record sits in the last 22 + 65535 bytes.
    let tail_start = bytes.len().saturating_sub(22 + 0xffff);
    if let Some(eocd) = bytes[tail_start..].windows(4).rposition(|w| w == b"PK\x05\x06").map(|p| tail_start + p) {
        let (count, mut at) = (u16_at(eocd + 10).unwrap_or(0), u32_at(eocd + 16).unwrap_or(usize::MAX));
        for _ in 0..count {
            if bytes.get(at..at + 4) != Some(b"PK\x01\x02") {
                break;
            }
            let (Some(len), Some(extra), Some(comment)) = (u16_at(at + 28), u16_at(at + 30), u16_at(at + 32)) else { break };
            names.extend(name_at(at + 46, len));
            at += 46 + len + extra + comment;
        }
    }
    if names.is_empty() {
        let mut at = 0;
        while bytes.get(at..at + 4) == Some(b"PK\x03\x04") && names.len() < 64 {
            let (Some(size), Some(len), Some(extra)) = (u32_at(at + 18), u16_at(at + 26), u16_at(at + 28)) else { break };
            names.extend(name_at(at + 30, len));
            at += 30 + len + extra + size;
        }
    }
    names
}

/// The Python file names in a conversion line: the file's own name when it has one (the CLI
/// passes the path), placeholders otherwise (the browser passes "weights").
fn file_names(file: &str) -> (String, String) {
    if !file.contains(['.', '/', '\\']) {
        return ("model.pth".into(), "model.safetensors".into());
    }
    let name_start = file.rfind(['/', '\\']).map_or(0, |i| i + 1);
    let stem = match file[name_start..].rfind('.') {
        Some(dot) if dot > 0 => &file[..name_start + dot],
        _ => file,
    };
    let out = if file.ends_with(".safetensors") { format!("{stem}.converted.safetensors") } else { format!("{stem}.safetensors") };
    (file.to_string(), out)
}

/// [`FileKind`] in words for a person, with what to do; `file` names the file in the Python
/// lines.
pub struct Described<'a> {
    pub kind: &'a FileKind,
    pub file: &'a str,
}

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (src, out) = file_names(self.file);
        let torch_line =
            |load: &str| format!("python -c \"import torch; from safetensors.torch import save_file; save_file({load}, '{out}')\"");
        match self.kind {
            FileKind::Empty => f.write_str("the file is empty (0 bytes): the download or the save did not finish; get the file again"),
            FileKind::GitLfsPointer { size } => {
                let real = size.map(|s| format!(" of {s} bytes")).unwrap_or_default();
                write!(
                    f,
                    "a git-LFS pointer, not the weights: the real file{real} was never downloaded; run `git lfs pull` in its \
                     repository (or download the file itself)"
                )
            }
            FileKind::PyTorch { legacy } => write!(
                f,
                "a PyTorch checkpoint (torch.save{}), not safetensors: convert it once with {} (when the checkpoint nests the \
                 weights, e.g. {{'state_dict': ...}}, save that entry; for a saved module, its .state_dict())",
                if *legacy { ", legacy pickle format" } else { "" },
                torch_line(&format!("torch.load('{src}', map_location='cpu')"))
            ),
            FileKind::TorchScript => write!(
                f,
                "a TorchScript archive (torch.jit.save), not safetensors: convert it once with {}",
                torch_line(&format!("torch.jit.load('{src}', map_location='cpu').state_dict()"))
            ),
            FileKind::NumpyNpz => write!(
                f,
                "a NumPy .npz archive, not safetensors: convert it once with python -c \"import numpy as np; from \
                 safetensors.numpy import save_file; save_file({{k: v.astype(np.float32) for k, v in np.load('{src}').items()}}, \
                 '{out}')\" (the arrays must carry timm's names)"
            ),
            FileKind::NumpyNpy => f.write_str(
                "a single NumPy .npy array, not safetensors: the weights must be named tensors; save them with \
                 safetensors.numpy.save_file({'fc1.weight': ..., ...}, 'weights.safetensors')",
            ),
            FileKind::KerasArchive | FileKind::Hdf5 => write!(
                f,
                "{}, not safetensors: save the block's tensors under timm's names in PyTorch's layout (a Conv2D kernel \
                 (kh, kw, in, out) becomes (out, in, kh, kw)) with safetensors' save_file",
                if *self.kind == FileKind::Hdf5 { "an HDF5 file (Keras .h5 weights?)" } else { "a Keras .keras archive" }
            ),
            FileKind::Gguf => f.write_str("a GGUF file (llama.cpp's format), not safetensors"),
            FileKind::Gzip => {
                f.write_str("gzip-compressed, not safetensors itself: decompress it first (gunzip; a .tar.gz also needs tar -x)")
            }
            FileKind::Zip => f.write_str("a zip archive, not safetensors: unpack it and give the .safetensors file inside"),
            FileKind::Html => f.write_str(
                "an HTML page, not the weights: the download saved a web page (a login or error page, or a file's page \
                 instead of its content); download the raw file (GitHub's \"Raw\" link; on the Hugging Face Hub a /resolve/ \
                 URL, not /blob/)",
            ),
            FileKind::Json => f.write_str("a JSON text, not the weights (an error response saved instead of the download?)"),
            FileKind::Image(format) => write!(f, "a {format} image, not a weights file"),
            FileKind::Text => f.write_str("a text file, not weights: give the .safetensors file itself"),
            FileKind::Truncated { expected, found } => write!(
                f,
                "a safetensors file cut short: its header announces {expected} bytes, the file has {found}; download or copy \
                 it again"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn safetensors_bytes() -> Vec<u8> {
        let t = crate::tensor::Tensor::zeros(vec![4, 3]);
        crate::weights::write_safetensors([("a", &t), ("b", &t)])
    }

    /// A stored (uncompressed) zip of `members`, as Python's zipfile and torch.save write one.
    fn zip(members: &[(&str, &[u8])]) -> Vec<u8> {
        let (mut out, mut central) = (Vec::new(), Vec::new());
        for (name, data) in members {
            let offset = out.len() as u32;
            out.extend(b"PK\x03\x04");
            out.extend([20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            out.extend((data.len() as u32).to_le_bytes());
            out.extend((data.len() as u32).to_le_bytes());
            out.extend((name.len() as u16).to_le_bytes());
            out.extend(0u16.to_le_bytes());
            out.extend(name.as_bytes());
            out.extend(*data);
            central.extend(b"PK\x01\x02");
            central.extend([20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            central.extend((data.len() as u32).to_le_bytes());
            central.extend((data.len() as u32).to_le_bytes());
            central.extend((name.len() as u16).to_le_bytes());
            central.extend([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            central.extend(offset.to_le_bytes());
            central.extend(name.as_bytes());
        }
        let cd_offset = out.len() as u32;
        out.extend(&central);
        out.extend(b"PK\x05\x06\0\0\0\0");
        out.extend((members.len() as u16).to_le_bytes());
        out.extend((members.len() as u16).to_le_bytes());
        out.extend((central.len() as u32).to_le_bytes());
        out.extend(cd_offset.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out
    }

    #[test]
    fn recognises_the_files_people_pass_as_weights() {
        let pickle: &[u8] = b"\x80\x02}q\x00.";
        let cases: Vec<(Vec<u8>, FileKind)> = vec![
            (vec![], FileKind::Empty),
            (
                b"version https://git-lfs.github.com/spec/v1\noid sha256:2f6d\nsize 1408\n".to_vec(),
                FileKind::GitLfsPointer { size: Some(1408) },
            ),
            (
                zip(&[("archive/data.pkl", pickle), ("archive/version", b"3\n"), ("archive/data/0", &[0; 64])]),
                FileKind::PyTorch { legacy: false },
            ),
            (b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.".to_vec(), FileKind::PyTorch { legacy: true }),
            (b"\x80\x05\x95\x10\x00".to_vec(), FileKind::PyTorch { legacy: true }),
            (zip(&[("model/data.pkl", pickle), ("model/constants.pkl", pickle), ("model/code/__torch__.py", b"")]), FileKind::TorchScript),
            (zip(&[("fc1.weight.npy", b"\x93NUMPY"), ("fc2.weight.npy", b"\x93NUMPY")]), FileKind::NumpyNpz),
            (zip(&[("config.json", b"{}"), ("model.weights.h5", b"\x89HDF")]), FileKind::KerasArchive),
            (zip(&[("readme.txt", b"hi")]), FileKind::Zip),
            (b"\x93NUMPY\x01\x00v\x00{'descr': '<f4'".to_vec(), FileKind::NumpyNpy),
            (b"\x89HDF\r\n\x1a\n\0\0\0".to_vec(), FileKind::Hdf5),
            (b"GGUF\x03\0\0\0".to_vec(), FileKind::Gguf),
            (b"\x1f\x8b\x08\0\0\0".to_vec(), FileKind::Gzip),
            (b"\xef\xbb\xbf\n  <!DOCTYPE html><html><head>".to_vec(), FileKind::Html),
            (b"<html lang=en>".to_vec(), FileKind::Html),
            (b"{\"error\": \"Repository not found\"}".to_vec(), FileKind::Json),
            (b"my notes about the run\nlr 3e-4\n".to_vec(), FileKind::Text),
            (b"\xff\xd8\xff\xe0\0\x10JFIF".to_vec(), FileKind::Image("JPEG")),
            (b"RIFF\x10\0\0\0WEBPVP8 ".to_vec(), FileKind::Image("WebP")),
        ];
        for (bytes, kind) in cases {
            assert_eq!(sniff(&bytes), Some(kind.clone()), "{kind:?}");
        }
        // Not recognised: the parser's own message stays.
        assert_eq!(sniff(b"RIFF\x10\0\0\0AVI LIST"), None);
        assert_eq!(sniff(b"\x00\x01binary\x02"), None);
        // Plain text is named as such (it used to get the parser's "header too large").
        assert_eq!(sniff(b"just some text"), Some(FileKind::Text));
    }

    #[test]
    fn a_safetensors_file_cut_short_is_named_with_its_sizes() {
        let whole = safetensors_bytes();
        assert_eq!(sniff(&whole), None, "a whole file is no fault");
        let len = whole.len() as u64;
        assert_eq!(sniff(&whole[..whole.len() - 5]), Some(FileKind::Truncated { expected: len, found: len - 5 }));
        // Cut inside the header.
        let n = u64::from_le_bytes(whole[..8].try_into().unwrap());
        assert_eq!(sniff(&whole[..20]), Some(FileKind::Truncated { expected: 8 + n, found: 20 }));
        // Bytes after the data are not a truncation.
        let mut longer = whole.clone();
        longer.extend([0; 4]);
        assert_eq!(sniff(&longer), None);
    }

    #[test]
    fn the_conversion_line_uses_the_files_own_name() {
        let said = |kind: &FileKind, file: &str| Described { kind, file }.to_string();
        let pytorch = FileKind::PyTorch { legacy: false };
        let cli = said(&pytorch, "runs/se_weights.pth");
        assert!(cli.contains("torch.load('runs/se_weights.pth', map_location='cpu')"), "{cli}");
        assert!(cli.contains("save_file(") && cli.contains("'runs/se_weights.safetensors'") && cli.contains("state_dict"), "{cli}");
        // A .pth saved under a .safetensors name keeps the original.
        assert!(said(&pytorch, "se.safetensors").contains("'se.converted.safetensors'"));
        // The browser passes no file name.
        assert!(said(&pytorch, "weights").contains("torch.load('model.pth'"));
        assert!(said(&FileKind::GitLfsPointer { size: Some(9) }, "w").contains("git lfs pull"));
        for kind in [FileKind::Empty, FileKind::Html, pytorch, FileKind::Truncated { expected: 9, found: 3 }] {
            assert_eq!(said(&kind, "w.safetensors").lines().count(), 1, "one line: {kind:?}");
        }
    }
}
