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

# The floor setup.py declares: the oldest pair the whole suite has passed
# with. To try a lower floor, edit it here, run `scripts/test_versions.sh
# oldest`, and widen setup.py only after a pass. (Keras 3.12 + TF 2.18.1 was
# tried on 2026-11-26 with "tensorflow-metadata<1.17" for its protobuf 5:
# two export tests failed and TF 2.18.1 segfaulted; see the README.)
OLDEST=("keras==3.15.1" "tensorflow==2.21.0")
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
