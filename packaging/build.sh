#!/usr/bin/env bash
# Builds the desktop bundle: a PyInstaller one-folder app, packed with its desktop entry,
# icons, AppStream metainfo and install.sh as dist/retouchdesk-<version>-linux-x86_64.tar.gz.
#
#   bash packaging/build.sh            # build venv in build/bundle/venv (kept between builds)
#
# The bundle is built from a clean virtual environment that holds only the wheel's own
# dependencies and PyInstaller, so nothing from a development venv (tests, linters) ends up
# inside it. Prints the bundle's size and the build time at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
started=$(date +%s)
work=${BUILD_DIR:-$root/build/bundle}
venv=$work/venv
python=${PYTHON:-python3}
arch=$(uname -m)

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
# The project as a user gets it (a wheel, not editable), plus the freezer.
"$venv/bin/python" -m pip install -q --disable-pip-version-check . "pyinstaller>=6.5,<7"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps .
version=$("$venv/bin/python" -c "import retouchdesk; print(retouchdesk.__version__)")
name="retouchdesk-$version-linux-$arch"

rm -rf "$work/dist" "$work/pyi" "$work/$name"
"$venv/bin/pyinstaller" --noconfirm --clean --log-level WARN \
  --distpath "$work/dist" --workpath "$work/pyi" packaging/retouchdesk.spec

# The interpreter comes from the build machine's Python with its debug symbols (libpython alone
# is 23 MB of them); strip it and its extension modules. Wheels' own libraries are left as
# they are: auditwheel patched them, and strip can break patched ELF files.
if command -v strip >/dev/null; then
  strip --strip-debug "$work"/dist/retouchdesk/_internal/libpython3*.so* \
    "$work"/dist/retouchdesk/_internal/python3*/lib-dynload/*.so 2>/dev/null || true
fi

stage="$work/$name"
mkdir -p "$stage/share/applications" "$stage/share/metainfo" "$stage/share/icons"
mv "$work/dist/retouchdesk" "$stage/retouchdesk"
cp packaging/retouchdesk.desktop "$stage/share/applications/retouchdesk.desktop"
cp packaging/io.github.retouchdesk.RetouchDesk.metainfo.xml "$stage/share/metainfo/"
QT_QPA_PLATFORM=offscreen "$venv/bin/python" packaging/render_icons.py "$stage/share/icons"
cp packaging/install.sh "$stage/install.sh"
chmod +x "$stage/install.sh"
cp README.md "$stage/README.md"

mkdir -p dist
tarball="dist/$name.tar.gz"
tar -C "$work" -czf "$tarball" "$name"
elapsed=$(( $(date +%s) - started ))
echo "bundle:  $stage ($(du -sh "$stage/retouchdesk" | cut -f1) unpacked)"
echo "tarball: $tarball ($(du -h "$tarball" | cut -f1))"
echo "build time: ${elapsed} s"
