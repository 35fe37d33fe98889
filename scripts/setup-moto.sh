#!/usr/bin/env bash
# Installs moto's server (pinned) into the project's own virtualenv, .venv, when it is missing.
# Re-running is cheap: an existing, working install is reused.
set -euo pipefail
cd "$(dirname "$0")/.."
MOTO_VERSION=5.2.5
if [[ -x .venv/bin/moto_server ]] && .venv/bin/python -c "import moto, sys; sys.exit(0 if moto.__version__ == '$MOTO_VERSION' else 1)" 2>/dev/null; then
  exit 0
fi
echo "==> installing moto[server]==$MOTO_VERSION into .venv" >&2
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
