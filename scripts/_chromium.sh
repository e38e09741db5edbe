#!/usr/bin/env bash
# Make Debian's Chromium available at /usr/bin/chromium for the browser tests (the console and
# the API docs, driven by npm playwright-core; Playwright's own browser download is not used).
# Installs it with apt-get when missing and we may (root with apt-get), as on CI.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium (apt-get)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
else
  echo "chromium is not installed (apt-get install chromium)" >&2
  exit 1
fi
