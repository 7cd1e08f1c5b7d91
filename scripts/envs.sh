#!/usr/bin/env bash
# Create (or reuse) the environments d2lc needs. Idempotent: an environment is rebuilt only when
# its requirements or lock file changed. Usage: scripts/envs.sh [main] [mxnet] [paddle] [NAME...]
# With no arguments: every environment with a requirements file, envs/NAME.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
PIP_FLAGS=(--disable-pip-version-check --no-input -q)

stamp_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

quiet_pip() {  # pip, without the noise of unreachable extra indexes
  "$@" 2>&1 | grep -v -e "^WARNING: Location" -e "^$" || true
  return "${PIPESTATUS[0]}"
}

make_env() {  # make_env DIR REQUIREMENTS LOCK [editable]
  local dir=$1 req=$2 lock=$3 editable=${4:-}
  local want; want=$(stamp_of "$req" "$lock" ${editable:+pyproject.toml setup.py})
  if [ -f "$dir/.d2lc-stamp" ] && [ "$(cat "$dir/.d2lc-stamp")" = "$want" ] && [ -x "$dir/bin/python" ]; then
    echo "env $dir: up to date"
    return 0
  fi
  echo "env $dir: installing from $req (pinned by $lock)"
  [ -x "$dir/bin/python" ] || "$PY" -m venv "$dir"
  quiet_pip "$dir/bin/python" -m pip install "${PIP_FLAGS[@]}" -r "$req" -c "$lock"
  if [ -n "$editable" ]; then
    quiet_pip "$dir/bin/python" -m pip install "${PIP_FLAGS[@]}" --no-deps -e .
  fi
  echo "$want" > "$dir/.d2lc-stamp"
}

need_system_libs() {  # MXNet's wheel links against libgomp and libquadmath
  local missing=()
  for lib in libgomp.so.1 libquadmath.so.0; do
    ldconfig -p 2>/dev/null | grep -q "$lib" || missing+=("$lib")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "installing system libraries for MXNet: libgomp1 libquadmath0"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgomp1 libquadmath0 >/dev/null
    else
      echo "warning: MXNet needs ${missing[*]} (Debian: apt-get install libgomp1 libquadmath0)" >&2
    fi
  fi
}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for req in envs/*.txt; do targets+=("$(basename "$req" .txt)"); done
fi
for t in "${targets[@]}"; do
  case "$t" in
    main) make_env .venv envs/main.txt envs/main.lock editable ;;
    mxnet) need_system_libs; make_env .venv-mxnet envs/mxnet.txt envs/mxnet.lock ;;
    paddle) make_env .venv-paddle envs/paddle.txt envs/paddle.lock ;;
    *)  # any other backend environment: envs/NAME.txt pinned by envs/NAME.lock, in .venv-NAME
      if [ -f "envs/$t.txt" ]; then
        lock="envs/$t.lock"
        if [ ! -f "$lock" ]; then
          echo "warning: env $t has no lock file; installing unpinned (write $lock with: .venv-$t/bin/pip freeze)" >&2
          lock=/dev/null
        fi
        make_env ".venv-$t" "envs/$t.txt" "$lock"
      else
        echo "unknown environment: $t (known: $(ls envs/*.txt | xargs -n1 basename | sed 's/\.txt$//' | tr '\n' ' '))" >&2; exit 2
      fi ;;
  esac
done
