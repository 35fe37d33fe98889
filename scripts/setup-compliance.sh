#!/usr/bin/env bash
# Installs terraform-compliance (pinned) into its own virtualenv, .venv-compliance, when it is
# missing or at another version. Re-running is cheap: an existing, working install is reused.
#
# terraform itself is not needed: run it as `terraform-compliance -f tests/compliance -p PLAN`
# on a plan that clawform wrote with `plan --json --compact`. 1.16.0 reads the -p file as JSON
# only when it is ONE line (a file of 2+ lines is judged by its second line alone, and
# rewritten in place with that line: see terraform_compliance/common/readable_plan.py), and it
# accepts only terraform_version values starting with 0.12.-0.15. or 1.0.-1.16.
# (extensions/terraform.py): clawform writes "1.10.0" there and its own version in
# clawform_version.
set -euo pipefail
cd "$(dirname "$0")/.."
COMPLIANCE_VERSION=1.16.0
if [[ -x .venv-compliance/bin/terraform-compliance ]] && [[ "$(.venv-compliance/bin/python -c 'import importlib.metadata as m; print(m.version("terraform-compliance"))' 2>/dev/null)" == "$COMPLIANCE_VERSION" ]]; then
  exit 0
fi
echo "==> installing terraform-compliance==$COMPLIANCE_VERSION into .venv-compliance" >&2
python3 -m venv .venv-compliance
.venv-compliance/bin/pip install --quiet --disable-pip-version-check "terraform-compliance==$COMPLIANCE_VERSION"
