# Sourced by scripts/test: Debian's Chromium for the browser test (services/api/tests/
# test_langgraph_browser.py drives /usr/bin/chromium with playwright-core), installed with apt-get
# if missing, like scripts/_uv.sh does for uv. Without root or apt-get it only warns: the test then
# skips (fails under CI).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "chromium not found; installing Debian's chromium (one time)..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq chromium >/dev/null
  else
    echo "warning: /usr/bin/chromium not found and cannot be installed here (needs root and apt-get):" \
      "the browser test will be skipped; install Debian's chromium" >&2
  fi
fi
