//! The native command-line tool. All logic is in the library and `cli.rs`; this only maps the
//! outcome to an exit code: 0 on success, 2 with one line on stderr for any bad input.

#[cfg(not(target_arch = "wasm32"))]
mod cli;
#[cfg(not(target_arch = "wasm32"))]
mod net_cli;
#[cfg(not(target_arch = "wasm32"))]
mod render;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
