#!/usr/bin/env bash
# What the site's browser test needs from Debian: headless Chromium and its driver (selenium drives
# them; nothing is downloaded at run time), and MathJax through scripts/mathjax.sh.
# Installs them when run as root with apt-get; otherwise says what is missing (tests/test_site.py skips).
set -euo pipefail
"$(dirname "$0")/mathjax.sh"
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
[ ${#missing[@]} -eq 0 ] && { echo "browser: chromium, chromium-driver present"; exit 0; }
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing for the site's browser test: ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "warning: the site's browser test needs ${missing[*]} (Debian: apt-get install ${missing[*]})" >&2
fi
