#!/usr/bin/env bash
# trimlab's Gradescope set-up: Gradescope runs this once, as root and with network access,
# when it builds the autograder image. It makes a virtual environment with trimlab in it, then
# grades the reference solution with the bundle's cases, so that a broken case fails the build
# rather than the first student's submission.
set -euo pipefail

ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"

if ! python3 -c 'import sys, venv; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  apt-get update -q && apt-get install -y -q python3 python3-venv python3-pip
fi
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "trimlab needs Python 3.10 or newer: choose an Ubuntu 22.04 (or newer) base image." >&2
  exit 1
fi
python3 -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install --quiet --upgrade pip
"$ROOT/venv/bin/python" -m pip install --quiet "$SOURCE/trimlab"

# Where Docker allows no namespaces, each submission runs as the unprivileged user nobody: the
# cases and trimlab's own packages (the reference solution among them) must be unreadable to
# it, while the interpreter and the other packages stay readable.
SITE="$("$ROOT/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
chmod -R go-rwx "$SOURCE"
for package in grader mock_api solution; do
  if [ -d "$SITE/$package" ]; then chmod -R go-rwx "$SITE/$package"; fi
done

if ! "$ROOT/venv/bin/grade" --cases "$SOURCE/cases" --jobs 1 >"$ROOT/setup-check.txt" 2>&1; then
  cat "$ROOT/setup-check.txt" >&2
  echo "The reference solution does not pass the bundle's cases (above): fix them and rebuild." >&2
  exit 1
fi
echo "trimlab is ready: the reference solution passes every case."
