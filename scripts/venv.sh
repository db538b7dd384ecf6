# Sourced by scripts/serve and scripts/test: a project-local virtualenv on Python >= 3.11.
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
pip_install() {
    .venv/bin/python -m pip install --quiet --disable-pip-version-check "$@"
}
