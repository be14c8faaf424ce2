#!/usr/bin/env bash
# The project's one build entry point. It installs what is missing and skips what is there.
#
#   ./build.sh test    every test: cargo test (golden cases, CLI contract, properties, memory)
#                      and a check that the library builds for wasm32-unknown-unknown
#   ./build.sh bench   the CPU benchmarks (criterion); figures go into BENCHMARKS.md by hand
#   ./build.sh serve   builds and serves the browser playground (not built yet, see README)
set -euo pipefail
cd "$(dirname "$0")"

log() { printf '==> %s\n' "$*" >&2; }

ensure_wasm_target() {
    if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
        return
    fi
    log "installing the Rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
}

cmd_test() {
    ensure_wasm_target
    log "cargo test"
    cargo test --locked
    log "the library builds for wasm32-unknown-unknown"
    cargo build --locked --lib --target wasm32-unknown-unknown
    log "all tests passed"
}

cmd_bench() {
    log "cargo bench (CPU reference backend)"
    cargo bench --locked --bench blocks
}

cmd_serve() {
    echo "The browser playground is not built yet: the block engine, the CLI and their tests are." >&2
    echo "Try the CLI: cargo run --release -- apply --help" >&2
    exit 1
}

case "${1:-}" in
    test) cmd_test ;;
    bench) cmd_bench ;;
    serve) cmd_serve ;;
    *)
        echo "usage: ./build.sh test|bench|serve" >&2
        exit 2
        ;;
esac
