#!/usr/bin/env bash
# Installs terraform-compliance (pinned) into its own virtualenv, .venv-compliance, when it is
# missing or at another version. Re-running is cheap: an existing, working install is reused.
#
# terraform itself is not needed: terraform-compliance is run with `-p plan.json` on a plan
# that clawform wrote with `plan --json`. It treats the -p file as JSON only when the file's
# first line parses as JSON (so the plan must be on ONE line), and it refuses plans whose
# terraform_version is below 0.12 (see tests/compliance/README or the project docs).
set -euo pipefail
cd "$(dirname "$0")/.."
COMPLIANCE_VERSION=1.16.0
if [[ -x .venv-compliance/bin/terraform-compliance ]] && [[ "$(.venv-compliance/bin/python -c 'import importlib.metadata as m; print(m.version("terraform-compliance"))' 2>/dev/null)" == "$COMPLIANCE_VERSION" ]]; then
  exit 0
fi
echo "==> installing terraform-compliance==$COMPLIANCE_VERSION into .venv-compliance" >&2
python3 -m venv .venv-compliance
.venv-compliance/bin/pip install --quiet --disable-pip-version-check "terraform-compliance==$COMPLIANCE_VERSION"
