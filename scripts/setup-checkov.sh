#!/usr/bin/env bash
# Installs checkov (pinned) into its own virtualenv, .venv-checkov, when it is missing.
# Re-running is cheap: an existing, working install is reused.
#
# Not in .venv beside moto: checkov 3.3.30 pins boto3/botocore 1.35.x, moto 5.2.5 runs with
# the current 1.4x; one environment for both would downgrade moto's. The first install takes a
# few minutes (about a hundred packages).
set -euo pipefail
cd "$(dirname "$0")/.."
CHECKOV_VERSION=3.3.30
if [[ -x .venv-checkov/bin/checkov ]] && [[ "$(.venv-checkov/bin/python -c 'import checkov.version as v; print(v.version)' 2>/dev/null)" == "$CHECKOV_VERSION" ]]; then
  exit 0
fi
echo "==> installing checkov==$CHECKOV_VERSION into .venv-checkov" >&2
python3 -m venv .venv-checkov
.venv-checkov/bin/pip install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
