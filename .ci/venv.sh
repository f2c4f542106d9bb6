# Sourced by the CI checks that run Python: `ensure_venv DIR "import a, b" pkg...` makes
# the virtual environment DIR if it is missing and installs the packages unless the
# imports already succeed (a fresh machine has only python3 with venv and pip).
ensure_venv() {
  local dir="$1" imports="$2"
  shift 2
  if [ ! -x "$dir/bin/python" ]; then
    python3 -m venv "$dir"
  fi
  if ! "$dir/bin/python" -c "import $imports" 2>/dev/null; then
    "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
  fi
}
