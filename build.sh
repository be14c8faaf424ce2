#!/usr/bin/env bash
# The project's one build entry point. It installs what is missing and skips what is there.
#
#   ./build.sh test    every test: cargo test (golden cases on the CPU and on the GPU through
#                      Mesa's software Vulkan, the CLI contract, properties, memory, shader
#                      validation), then the GPU checks compiled to wasm in headless Chromium
#                      on WebGPU (wasm-pack test)
#   ./build.sh bench   the CPU and GPU benchmarks (criterion); figures go into BENCHMARKS.md
#   ./build.sh serve   builds and serves the browser playground (not built yet, see README)
set -euo pipefail
cd "$(dirname "$0")"

log() { printf '==> %s\n' "$*" >&2; }

# Debian packages: Mesa's lavapipe (a software Vulkan GPU) and Chromium with its driver.
APT_PACKAGES=(mesa-vulkan-drivers chromium chromium-driver)

ensure_apt_packages() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return
    log "installing Debian packages: ${missing[*]}"
    local sudo=()
    [ "$(id -u)" -ne 0 ] && sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_wasm_target() {
    if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
        return
    fi
    log "installing the Rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
}

# `cargo install --locked`, or unlocked where the registry lacks a locked version of a dependency.
cargo_install() {
    cargo install --locked "$@" || cargo install "$@"
}

# The wasm-bindgen CLI must be exactly the wasm-bindgen version in Cargo.lock.
ensure_wasm_bindgen_cli() {
    local want
    want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
    if command -v wasm-bindgen >/dev/null && [ "$(wasm-bindgen --version | awk '{print $2}')" = "$want" ]; then
        return
    fi
    log "installing wasm-bindgen-cli $want (a few minutes)"
    # --force: cargo's own record may say installed while the binary is gone or another version.
    cargo_install wasm-bindgen-cli --version "$want" --force
}

ensure_wasm_pack() {
    command -v wasm-pack >/dev/null && return
    log "installing wasm-pack"
    cargo_install wasm-pack --version 0.15.1 --force
}

# Mesa's Vulkan driver complains on every start without a runtime dir.
ensure_runtime_dir() {
    if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -d "$XDG_RUNTIME_DIR" ]; then
        export XDG_RUNTIME_DIR="${TMPDIR:-/tmp}/attention-playground-runtime-$(id -u)"
        mkdir -p -m 700 "$XDG_RUNTIME_DIR"
    fi
}

cmd_test() {
    ensure_apt_packages "${APT_PACKAGES[@]}"
    ensure_wasm_target
    ensure_wasm_bindgen_cli
    ensure_wasm_pack
    ensure_runtime_dir

    log "cargo test (native; the GPU tests run on Mesa's software Vulkan)"
    cargo test --locked

    log "the GPU checks in headless Chromium on WebGPU (SwiftShader; flags in webdriver.json)"
    # The runner's default timeout (20 s) is for the whole file; the golden cases take longer.
    WASM_BINDGEN_TEST_TIMEOUT=900 wasm-pack test --headless --chrome --chromedriver "$(command -v chromedriver)" \
        -- --locked --test web_gpu
    log "all tests passed"
}

cmd_bench() {
    ensure_apt_packages mesa-vulkan-drivers
    ensure_runtime_dir
    log "cargo bench (CPU reference and GPU backends)"
    cargo bench --locked --bench blocks
}

cmd_serve() {
    echo "The browser playground is not built yet: the block engine, its CPU and GPU backends, the CLI and their tests are." >&2
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
