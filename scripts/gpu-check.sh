#!/usr/bin/env bash
# The equivalence suite on a GPU machine, for the targets it has (PyTorch and JAX): outputs and gradients
# computed on the GPU are compared with the same reference rule as on CPU, with TF32 off, and the matrix is
# written under reports/. No network is needed: d2lc is installed from this checkout without dependencies,
# and its own pure-Python dependencies (lark, libcst, black, jinja2, nbformat), where missing, come from
# wheels carried in .whl/ (fill it on a machine with network: `pip download -d .whl lark libcst black jinja2
# nbformat`). Usage: scripts/gpu-check.sh [--device=gpu|cpu] [--examples=N] [--budget=SECONDS]
# `--device=cpu` is the dry run (tests/test_gpu_check.py runs it on a tiny chapter).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEVICE=gpu
EXAMPLES=5
BUDGET=420  # seconds for the suite itself: with setup, well under 8 minutes
PATHS=()
for arg in "$@"; do
  case "$arg" in
    --device=*) DEVICE="${arg#--device=}" ;;
    --examples=*) EXAMPLES="${arg#--examples=}" ;;
    --budget=*) BUDGET="${arg#--budget=}" ;;
    -*) echo "gpu-check: unknown option $arg" >&2; exit 2 ;;
    *) PATHS+=("$arg") ;;
  esac
done
[ ${#PATHS[@]} -gt 0 ] || PATHS=("$ROOT/sources" "$ROOT/tests/corpus")
PY="${PYTHON:-python3}"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
REPORTS="${GPU_CHECK_REPORTS:-$ROOT/reports/gpu-check-$DEVICE-$STAMP}"
mkdir -p "$REPORTS/failing"

# TF32 off everywhere: cuBLAS/cuDNN (NVIDIA_TF32_OVERRIDE), JAX's matmuls (full float32 precision);
# the PyTorch worker also turns off torch.backends.*.allow_tf32 itself (targets/pytorch/__init__.py).
export NVIDIA_TF32_OVERRIDE=0 JAX_DEFAULT_MATMUL_PRECISION=highest XLA_PYTHON_CLIENT_PREALLOCATE=false

missing="$("$PY" - <<'EOF'
import importlib.util
need = {"lark": "lark", "libcst": "libcst", "black": "black", "jinja2": "jinja2", "nbformat": "nbformat",
        "hypothesis": "hypothesis", "numpy": "numpy"}
print(" ".join(pkg for mod, pkg in need.items() if importlib.util.find_spec(mod) is None))
EOF
)"
if [ -n "$missing" ]; then
  if [ -d "$ROOT/.whl" ]; then
    echo "gpu-check: installing $missing from $ROOT/.whl (no index)"
    "$PY" -m pip install --quiet --no-index --find-links "$ROOT/.whl" $missing
  else
    echo "gpu-check: missing Python packages: $missing; carry their wheels in $ROOT/.whl" >&2
    exit 2
  fi
fi
if ! "$PY" -c "import d2lc, d2lc_targets" 2>/dev/null; then
  echo "gpu-check: installing d2lc from $ROOT (editable, no dependencies, no build isolation)"
  "$PY" -m pip install --quiet --no-deps --no-build-isolation -e "$ROOT"
fi

targets="$("$PY" - <<'EOF'
import importlib.util
print(",".join(t for t, mod in (("pytorch", "torch"), ("jax", "jax")) if importlib.util.find_spec(mod) is not None))
EOF
)"
[ -n "$targets" ] || { echo "gpu-check: neither torch nor jax is installed" >&2; exit 2; }
reference=pytorch
case ",$targets," in *,pytorch,*) ;; *) reference="${targets%%,*}" ;; esac

echo "gpu-check: device=$DEVICE targets=$targets reference=$reference examples=$EXAMPLES -> $REPORTS"
set +e
timeout "$BUDGET" "$PY" -m d2lc.cli.main test "${PATHS[@]}" --targets="$targets" --reference="$reference" \
  --device="$DEVICE" --examples="$EXAMPLES" --seed=0 --no-goldens \
  --cache-dir="$ROOT/.d2lc-cache" --reports-dir="$REPORTS/failing" --report "$REPORTS/matrix" \
  2>&1 | tee "$REPORTS/output.txt"
status=${PIPESTATUS[0]}
set -e
if [ "$status" = 124 ]; then
  echo "gpu-check: the suite ran past ${BUDGET}s" | tee -a "$REPORTS/output.txt"
fi
echo "gpu-check: exit $status; report in $REPORTS (matrix.md, matrix.json, output.txt)"
exit "$status"
