#!/usr/bin/env bash
# Make sure a headless Chromium-family browser is present for the HTML report test.
# Found, in order: $CHROME_BIN, Debian's `chromium`, Ubuntu's `chromium-browser`, Google Chrome
# (what GitHub's hosted Ubuntu runners ship). Nothing found: install Debian's `chromium` with
# apt-get, as root directly or through passwordless sudo (hosted runners are not root).
set -euo pipefail
if [ -n "${CHROME_BIN:-}" ] && [ -x "$CHROME_BIN" ]; then
  exit 0
fi
for name in chromium chromium-browser google-chrome google-chrome-stable; do
  if command -v "$name" >/dev/null 2>&1; then
    exit 0
  fi
done
if ! command -v apt-get >/dev/null 2>&1; then
  echo "no chromium or google-chrome found, and no apt-get to install one" >&2
  exit 1
fi
if [ "$(id -u)" = 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "no chromium or google-chrome found; installing one needs root or passwordless sudo" >&2
  exit 1
fi
echo "installing chromium from the distribution's packages (for the HTML report test)..." >&2
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
