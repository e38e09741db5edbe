# Sourced by scripts/test: the Debian packages some tests run, installed with apt-get when missing
# (as scripts/_uv.sh does for uv), in one apt-get call:
#   chromium        the browser tests (services/api/tests/test_langgraph_browser.py, the console)
#                   drive /usr/bin/chromium with playwright-core;
#   docker-compose  `docker-compose config` checks docker/compose.yaml with its profiles (no daemon);
#   prometheus      for promtool, which checks docker/prometheus/prometheus.yml and every dashboard
#                   query (the package's server is not started).
# Without root or apt-get it only warns: those tests then skip (and say why).
_debian_missing=()
[ -x /usr/bin/chromium ] || _debian_missing+=(chromium)
if ! command -v docker-compose >/dev/null 2>&1 && ! docker compose version >/dev/null 2>&1; then
  _debian_missing+=(docker-compose)
fi
command -v promtool >/dev/null 2>&1 || _debian_missing+=(prometheus)
if [ "${#_debian_missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's ${_debian_missing[*]} (one time)..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${_debian_missing[@]}" >/dev/null
  else
    echo "warning: ${_debian_missing[*]} missing and not installable here (needs root and apt-get):" \
      "the tests that use them will be skipped" >&2
  fi
fi
unset _debian_missing
