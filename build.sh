#!/usr/bin/env bash
# The project's one build entry point. It installs what is missing and skips what is there.
#
#   ./build.sh test    every test: cargo test (golden cases on the CPU and on the GPU through
#                      Mesa's software Vulkan, the CLI contract, properties, memory, shader
#                      validation), the GPU checks compiled to wasm in headless Chromium on
#                      WebGPU (wasm-pack test), then the built playground in Chromium (Playwright)
#   ./build.sh bench   our CPU kernels against ONNX Runtime (one thread each, same weights and
#                      inputs), then the criterion benchmarks and the page in Chromium; figures go
#                      into BENCHMARKS.md
#   ./build.sh         builds the browser playground into dist/ (wasm-pack --target web, release,
#                      wasm-opt; the front end from www/ and index.html)
#   ./build.sh serve   builds it and serves dist/ at http://127.0.0.1:8080 (--cors: with
#                      Access-Control-Allow-Origin: *, as a CDN, for an embed on another origin)
#   ./build.sh train   trains the default network and its ablation variants (tools/train), writes
#                      src/model/trained.safetensors and prints the README's tables (~32 min)
set -euo pipefail
cd "$(dirname "$0")"

log() { printf '==> %s\n' "$*" >&2; }

# Debian packages: Mesa's lavapipe (a software Vulkan GPU), Chromium with its driver, and a CJK
# font so that the Chinese screenshots of the browser tests can be read.
APT_PACKAGES=(mesa-vulkan-drivers chromium chromium-driver fonts-wqy-microhei)

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

    log "the training tool's tests (its candle network computes what the engine computes)"
    cargo test --locked -p attention-train

    log "the GPU checks in headless Chromium on WebGPU (SwiftShader; flags in webdriver.json)"
    # The runner's default timeout (20 s) is for the whole file; the golden cases take longer.
    WASM_BINDGEN_TEST_TIMEOUT=900 wasm-pack test --headless --chrome --chromedriver "$(command -v chromedriver)" \
        -- --locked --test web_gpu

    cmd_build
    log "the playground in headless Chromium (Playwright; screenshots in test-output/browser/)"
    node --test --test-concurrency=1 tests/browser/
    log "all tests passed"
}

# Python packages of the ONNX Runtime comparison, in their own virtual environment; reinstalled
# when tools/bench/requirements.txt changes.
ensure_bench_venv() {
    local stamp=.venv-bench/requirements.txt
    if [ -x .venv-bench/bin/python ] && cmp -s tools/bench/requirements.txt "$stamp"; then
        return
    fi
    log "installing numpy, onnx, onnxruntime, torch and timm into .venv-bench"
    python3 -m venv .venv-bench
    .venv-bench/bin/pip install --quiet --disable-pip-version-check -r tools/bench/requirements.txt
    cp tools/bench/requirements.txt "$stamp"
}

cmd_bench() {
    ensure_apt_packages mesa-vulkan-drivers
    ensure_runtime_dir
    ensure_bench_venv
    log "our blocks against ONNX Runtime on the CPU, one thread each (the table of BENCHMARKS.md)"
    cargo build --locked --release
    .venv-bench/bin/python tools/bench/side_by_side.py --binary target/release/attention-playground --out target/bench-cases
    log "whole networks against ONNX Runtime on the CPU, one thread each, and their peak memory"
    .venv-bench/bin/python tools/bench/nets.py --binary target/release/attention-playground --out target/bench-nets
    log "cargo bench (criterion: the fast CPU kernels and the GPU backend; the network)"
    cargo bench --locked --bench blocks --bench model
    cmd_build
    ensure_apt_packages chromium
    ensure_bench_node_modules
    log "our wasm SIMD build against onnxruntime-web (wasm, SIMD), one thread each, in headless Chromium"
    node tools/bench/side_by_side_web.mjs --out target/bench-cases
    log "whole networks: our wasm SIMD build against onnxruntime-web, one thread each, in headless Chromium"
    node tools/bench/nets_web.mjs --out target/bench-nets
    log "real-sized networks with random weights for the page's benchmark (target/bench-random/)"
    for arch in seresnet50 mobilenetv3_large_100; do
        [ -f "target/bench-random/$arch.safetensors" ] || cargo run --locked --release --example random_checkpoint -- "$arch" "target/bench-random/$arch.safetensors"
    done
    log "the playground's stages in headless Chromium (wasm CPU path and WebGPU on SwiftShader)"
    node tools/bench-browser.mjs
}

# onnxruntime-web, pinned in tools/bench/package-lock.json: only the benchmark needs it, so the
# build and the tests never download it.
ensure_bench_node_modules() {
    if [ -d tools/bench/node_modules/onnxruntime-web ]; then
        return
    fi
    log "installing onnxruntime-web from npm (tools/bench)"
    npm ci --prefix tools/bench --no-audit --no-fund --loglevel=error
}

# npm tools pinned in package-lock.json: binaryen's wasm-opt (Debian's 108 breaks wasm-bindgen's
# externref table) and playwright-core (it drives Debian's chromium; no browser download).
ensure_node_modules() {
    if [ -x node_modules/.bin/wasm-opt ] && [ -d node_modules/playwright-core ] && [ -f node_modules/svgcanvas/dist/svgcanvas.esm.js ]; then
        return
    fi
    log "installing binaryen, playwright-core and svgcanvas from npm"
    npm ci --no-audit --no-fund --loglevel=error
}

# The playground: the wasm engine (wasm-pack runs the wasm-opt it finds first on PATH) and the
# front end, assembled in dist/.
cmd_build() {
    ensure_node_modules
    ensure_wasm_target
    ensure_wasm_bindgen_cli
    ensure_wasm_pack
    log "building the wasm engine (release, --target web, with WebAssembly SIMD)"
    PATH="$PWD/node_modules/.bin:$PATH" wasm-pack --quiet build --release --target web --out-dir target/web-pkg --no-typescript --no-pack -- --locked
    # The same engine without simd128, for browsers that lack it; the worker picks one at load
    # time. Its own target dir keeps the two builds from invalidating each other.
    log "building the scalar wasm engine (for browsers without WebAssembly SIMD)"
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=-simd128" CARGO_TARGET_DIR=target/wasm-scalar \
        PATH="$PWD/node_modules/.bin:$PATH" wasm-pack --quiet build --release --target web --out-dir target/web-pkg-scalar --no-typescript --no-pack -- --locked
    rm -rf dist
    mkdir -p dist/pkg dist/pkg-scalar
    cp index.html www/*.js www/*.html dist/
    cp -r www/views dist/
    cp -r www/samples dist/
    # The SVG export's library (svgcanvas, MIT), loaded by the page only when asked for.
    mkdir -p dist/vendor
    cp node_modules/svgcanvas/dist/svgcanvas.esm.js dist/vendor/svgcanvas.js
    cp node_modules/svgcanvas/LICENSE dist/vendor/svgcanvas.LICENSE
    cp target/web-pkg/attention_playground.js target/web-pkg/attention_playground_bg.wasm dist/pkg/
    cp target/web-pkg-scalar/attention_playground.js target/web-pkg-scalar/attention_playground_bg.wasm dist/pkg-scalar/
    # Guards the flags above: a SIMD instruction in the scalar build would fail to load exactly
    # where that build is needed.
    if node_modules/.bin/wasm-dis dist/pkg-scalar/attention_playground_bg.wasm | grep -q "v128"; then
        echo "the scalar wasm build contains SIMD instructions" >&2
        exit 1
    fi
    report_size
}

# What a visitor downloads, compressed (the README quotes these figures).
report_size() {
    local wasm js
    wasm=$(gzip -9c dist/pkg/attention_playground_bg.wasm | wc -c)
    js=$(cat dist/*.js dist/pkg/*.js | gzip -9c | wc -c)
    log "dist/ built: wasm $((wasm / 1024)) KiB + JS $((js / 1024)) KiB gzipped, the trained weights inside the wasm"
}


cmd_serve() {
    cmd_build
    # `./build.sh serve --cors`: as a CDN serves it, for an embed on another origin.
    exec node tools/serve.mjs "$@" dist "${PORT:-8080}"
}

cmd_train() {
    log "training the default network (tools/train; fixed seeds, 2 threads)"
    cargo run --locked --release -p attention-train -- --out src/model/trained.safetensors
}

case "${1:-build}" in
    build) cmd_build ;;
    test) cmd_test ;;
    bench) cmd_bench ;;
    serve) shift; cmd_serve "$@" ;;
    train) cmd_train ;;
    *)
        echo "usage: ./build.sh [build|serve|test|bench|train]" >&2
        exit 2
        ;;
esac
