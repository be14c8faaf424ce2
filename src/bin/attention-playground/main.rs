//! The native command-line tool: parses the command line and runs one subcommand (apply, bench,
//! net, render), each in its own module over the library. It maps the outcome to an exit code: 0
//! on success, 2 with one line on stderr for any bad input.

#[cfg(not(target_arch = "wasm32"))]
mod apply;
#[cfg(not(target_arch = "wasm32"))]
mod bench;
#[cfg(not(target_arch = "wasm32"))]
mod io;
#[cfg(not(target_arch = "wasm32"))]
mod net;
#[cfg(not(target_arch = "wasm32"))]
mod render;

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use std::path::Path;
    use std::process::ExitCode;

    use clap::{Parser, Subcommand};

    /// Exit code for every refused input, as for clap's own usage errors.
    const EXIT_BAD_INPUT: u8 = 2;

    #[derive(Parser)]
    #[command(
        name = "attention-playground",
        version,
        about = "Run CNN attention blocks (SE, CBAM, Non-local, ECA, GC, MHSA) exactly as timm computes them",
        long_about = "Run CNN attention blocks (SE, CBAM, Non-local, ECA, GC, multi-head self-attention) \
    exactly as timm computes them, and save what they attend to.\n\n\
    Weights are a safetensors file with the block's timm state-dict names (e.g. fc1.weight for SE); \
    the input is a safetensors file holding one float32 tensor `x` of shape (N, C, H, W).\n\n\
    Example:\n  attention-playground apply --block cbam --weights cbam.safetensors \
    --input x.safetensors --output y.safetensors"
    )]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Subcommand)]
    enum Command {
        /// Run one block on x and write y (same shape as x) plus the block's maps
        Apply(crate::apply::ApplyArgs),
        /// Run the trained network (or, with --model, a whole network from its checkpoint) on a photo and write the figures of its blocks (SVG and PNG) and result.json
        Render(crate::render::RenderArgs),
        /// Time one block: N runs after a warm-up, in this process; the last line printed is JSON
        Bench(crate::bench::BenchArgs),
        /// Run a whole network from its checkpoint on x: the logits and every attention block's maps
        Net(crate::net::NetArgs),
    }

    pub fn main() -> ExitCode {
        ensure_runtime_dir();
        let cli = match Cli::try_parse() {
            Ok(cli) => cli,
            Err(e) if !e.use_stderr() => {
                // --help and --version.
                print!("{e}");
                return ExitCode::SUCCESS;
            }
            Err(e) => {
                // clap's message up to its usage block, on one line (a missing argument's name is on
                // the line after "not provided:").
                let rendered = e.to_string();
                let message: Vec<&str> =
                    rendered.lines().take_while(|l| !l.starts_with("Usage:")).map(str::trim).filter(|l| !l.is_empty()).collect();
                let first = if message.is_empty() { "invalid arguments".to_string() } else { message.join(" ") };
                eprintln!("{first} (see --help)");
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        };
        let outcome = match &cli.command {
            Command::Apply(args) => crate::apply::apply(args),
            Command::Render(args) => crate::render::render(args),
            Command::Bench(args) => crate::bench::bench(args),
            Command::Net(args) => crate::net::net(args),
        };
        match outcome {
            Ok(report) => {
                eprintln!("{report}");
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::from(EXIT_BAD_INPUT)
            }
        }
    }

    /// Mesa's Vulkan loader (probed for a GPU) prints "error: XDG_RUNTIME_DIR is invalid or not set"
    /// on a headless machine, which reads like a failure of the run: give it one of its own, private
    /// and reused by every run, as `build.sh` does for the tests.
    fn ensure_runtime_dir() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
            if std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| Path::new(&d).is_dir()) {
                return;
            }
            let dir = std::env::temp_dir().join("attention-playground-runtime");
            let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
            // Only a private folder (ours, made above or by an earlier run).
            if std::fs::metadata(&dir).is_ok_and(|m| m.is_dir() && m.permissions().mode() & 0o077 == 0) {
                // SAFETY: the first thing main does, before any thread exists.
                unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
            }
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
