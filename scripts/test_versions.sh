#!/usr/bin/env bash
# Runs the test suite against the oldest and the newest supported
# Keras/TensorFlow pairs, each in its own fresh virtualenv.
#
#   scripts/test_versions.sh [oldest|newest|both] [pytest args...]
#
# The oldest pair is the floor setup.py declares; the newest is whatever pip
# resolves today. SETUP_ONLY=1 only builds the virtualenvs.
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=2

# TensorFlow 2.18 pins protobuf < 6; tensorflow-metadata >= 1.17 (which
# tensorflow-datasets pulls in) needs protobuf >= 6.31.
OLDEST=("keras==3.12.0" "tensorflow==2.18.1" "tensorflow-metadata<1.17")
NEWEST=("keras" "tensorflow")
WHICH="${1:-both}"
shift || true

suite() {  # suite NAME PACKAGES...
  local name="$1" venv=".venv-$1"
  shift
  if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet "$@" ".[test]"
  fi
  "$venv/bin/python" -c "import keras, tensorflow as tf; print('$name:', \
'keras', keras.__version__, 'tensorflow', tf.__version__)"
  [[ -n "${SETUP_ONLY:-}" ]] && return 0
  "$venv/bin/python" -m pytest -q "${PYTEST_ARGS[@]}"
}

PYTEST_ARGS=("$@")
case "$WHICH" in
  oldest) suite oldest "${OLDEST[@]}" ;;
  newest) suite newest "${NEWEST[@]}" ;;
  both) suite oldest "${OLDEST[@]}"; suite newest "${NEWEST[@]}" ;;
  *) echo "usage: $0 [oldest|newest|both] [pytest args...]" >&2; exit 2 ;;
esac
