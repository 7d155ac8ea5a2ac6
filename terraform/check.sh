#!/usr/bin/env bash
# Offline checks of the Terraform code: formatting and checkov static analysis.
# Runs from the repository root whatever the current directory.
#
#   terraform/check.sh
#
# Environment:
#   CHECKOV_VENV     virtualenv holding checkov (default .venv-checkov, created if absent;
#                    checkov pins an old `packaging`, so it gets an environment of its own)
#   CHECKOV_VERSION  checkov version installed into a new virtualenv (default 3.3.30;
#                    empty = latest)
#   PYTHON           interpreter used to create the virtualenv (default python3)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

CHECKOV_VENV="${CHECKOV_VENV:-.venv-checkov}"
CHECKOV_VERSION="${CHECKOV_VERSION-3.3.30}"
PYTHON="${PYTHON:-python3}"
status=0

echo "==> terraform fmt -check -recursive terraform"
if command -v terraform >/dev/null 2>&1; then
  if ! terraform fmt -check -recursive -diff terraform; then
    echo "terraform fmt: files above need 'terraform fmt -recursive terraform'" >&2
    status=1
  fi
else
  echo "terraform not found: skipping fmt"
fi

echo "==> checkov -d terraform"
if [[ ! -x "${CHECKOV_VENV}/bin/checkov" ]]; then
  echo "creating ${CHECKOV_VENV} and installing checkov${CHECKOV_VERSION:+==${CHECKOV_VERSION}}"
  "${PYTHON}" -m venv "${CHECKOV_VENV}"
  "${CHECKOV_VENV}/bin/pip" install --quiet --disable-pip-version-check \
    "checkov${CHECKOV_VERSION:+==${CHECKOV_VERSION}}"
fi
# --skip-download: no calls to the Prisma/Bridgecrew API (offline CI); skips with
# their reasons are written inline in the .tf files (# checkov:skip=...).
if ! "${CHECKOV_VENV}/bin/checkov" --directory terraform --skip-download --compact --quiet; then
  status=1
fi

if [[ ${status} -eq 0 ]]; then
  echo "==> terraform checks passed"
else
  echo "==> terraform checks FAILED" >&2
fi
exit "${status}"
