# Sourced by scripts/dev and scripts/test: make `uv` available, installing it from PyPI if needed.
# uv goes into a private virtualenv (works with Debian's "externally managed" system Python too).
if ! command -v uv >/dev/null 2>&1; then
  UV_HOME="${XDG_CACHE_HOME:-$HOME/.cache}/agent-runtime/uv-venv"
  if [ ! -x "$UV_HOME/bin/uv" ]; then
    echo "uv not found; installing it into $UV_HOME (one time)..." >&2
    PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
    "$PYTHON" -m venv "$UV_HOME"
    "$UV_HOME/bin/python" -m pip install --quiet --disable-pip-version-check uv
  fi
  export PATH="$UV_HOME/bin:$PATH"
fi
