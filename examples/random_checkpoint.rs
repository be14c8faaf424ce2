//! Writes a real-sized network with seeded random weights as float16 safetensors, under timm's
//! names (`src/net/random.rs`): what the benchmarks open when no download is possible.
//!   cargo run --release --example random_checkpoint -- seresnet50 target/bench-random/seresnet50.safetensors

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [arch, out] = args.as_slice() else {
        eprintln!("usage: random_checkpoint ARCH OUT.safetensors (ARCH: {})", attention_playground::net::random::ARCHS.join(", "));
        std::process::exit(2);
    };
    match attention_playground::net::random::safetensors_f16(arch, 7) {
        Ok(bytes) => {
            if let Some(dir) = std::path::Path::new(out).parent() {
                std::fs::create_dir_all(dir).expect("the output folder");
            }
            std::fs::write(out, bytes).expect("the output file");
        }
        Err(e) => {
            eprintln!("random_checkpoint: {e}");
            std::process::exit(1);
        }
    }
}
