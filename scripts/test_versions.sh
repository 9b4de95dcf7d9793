#!/usr/bin/env bash
# Runs the test suite against the oldest and the newest Keras/TensorFlow
# pairs setup.py declares, and Colab's, each in its own fresh virtualenv.
#
#   scripts/test_versions.sh [oldest|colab|newest|all] [pytest args...]
#
# SETUP_ONLY=1 only builds the virtualenvs; PYTHON=python3.X picks the
# interpreter (default python3). The README's "Versions" section records the
# results.
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=2

# The floor setup.py declares (keras>=3.13, tensorflow>=2.19).
OLDEST=("keras==3.13.0" "tensorflow==2.19.0")
# Colab's runtime (its published package list, August 2026).
COLAB=("keras==3.13.2" "tensorflow==2.20.0")
# The newest pip resolves within setup.py's ranges.
NEWEST=("keras" "tensorflow")
WHICH="${1:-all}"
shift || true
PYTHON="${PYTHON:-python3}"

suite() {  # suite NAME PACKAGES...
  local name="$1" venv=".venv-$1-$("$PYTHON" -c 'import sys; print("py%d%d" % sys.version_info[:2])')"
  shift
  if [[ ! -x "$venv/bin/python" ]]; then
    "$PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet "$@" ".[test]"
  else  # the package as it is now; the pinned pair stays
    "$venv/bin/python" -m pip install --quiet --no-deps --force-reinstall .
  fi
  "$venv/bin/python" -c "import keras, tensorflow as tf; print('$name:', \
'keras', keras.__version__, 'tensorflow', tf.__version__)"
  [[ -n "${SETUP_ONLY:-}" ]] && return 0
  "$venv/bin/python" -m pytest -q "${PYTEST_ARGS[@]}"
}

PYTEST_ARGS=("$@")
case "$WHICH" in
  oldest) suite oldest "${OLDEST[@]}" ;;
  colab) suite colab "${COLAB[@]}" ;;
  newest) suite newest "${NEWEST[@]}" ;;
  all) suite oldest "${OLDEST[@]}"; suite colab "${COLAB[@]}"
       suite newest "${NEWEST[@]}" ;;
  *) echo "usage: $0 [oldest|colab|newest|all] [pytest args...]" >&2
     exit 2 ;;
esac
