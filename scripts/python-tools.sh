#!/usr/bin/env bash
# Creates .venv with the pinned Python tools (moto, cfn-lint, checkov) the
# first time, and again whenever requirements-dev.txt changes.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=.venv/.requirements.sha256
wanted=$(sha256sum requirements-dev.txt | cut -d' ' -f1)
if [ -x .venv/bin/moto_server ] && [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ]; then
  exit 0
fi

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; assert sys.version_info >= (3, 9)' 2>/dev/null; then
  echo "python-tools: Python 3.9 or newer is needed as '$python'." >&2
  exit 1
fi
echo "python-tools: installing moto, cfn-lint and checkov into .venv (first run only)" >&2
"$python" -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
echo "$wanted" > "$stamp"
