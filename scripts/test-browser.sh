#!/usr/bin/env bash
# What the console's browser test needs (tests/e2e/console.rs): Debian's headless `chromium`,
# its `chromedriver` (package chromium-driver) and CJK fonts (fonts-noto-cjk) so the Chinese
# pages render in the screenshots. Installs only what is missing; does nothing the second time.
#   ./scripts/test-browser.sh
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if ! fc-list 2>/dev/null | grep -qi 'Noto Sans CJK'; then
  missing+=(fonts-noto-cjk)
fi
if [ ${#missing[@]} -eq 0 ]; then
  echo "chromium, chromedriver and CJK fonts are installed"
  exit 0
fi
echo "installing ${missing[*]} (Debian packages) for the console's browser test"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" fontconfig >/dev/null
command -v chromium >/dev/null && command -v chromedriver >/dev/null || {
  echo "chromium or chromedriver is still missing after the install" >&2
  exit 1
}
