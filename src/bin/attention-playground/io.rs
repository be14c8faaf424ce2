//! Reading the command line's input files and writing its outputs, for every subcommand.

use std::fs;
use std::path::Path;

use attention_playground::Tensor;
use attention_playground::weights;

pub(crate) fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("cannot read {what} file {}: {e}", path.display()))
}

/// Reads the tensor `x` from the input file.
pub(crate) fn read_input(path: &Path) -> Result<Tensor, String> {
    weights::read_input(&read_file(path, "input")?).map_err(|e| e.to_string())
}

/// Writes to a sibling temporary file and renames it into place, so readers never see a partial
/// output and a failed write leaves nothing behind.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let file_name = path.file_name().ok_or_else(|| format!("output path {} names no file", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.{}.partial", file_name.to_string_lossy(), std::process::id()));
    let result = fs::write(&tmp, bytes).and_then(|()| fs::rename(&tmp, path));
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        format!("cannot write output file {}: {e}", path.display())
    })
}
