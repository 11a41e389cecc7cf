#!/usr/bin/env bash
# Smoke test of the packed desktop bundle (after packaging/build.sh):
#   1. unpack dist/retouchdesk-<version>-linux-<arch>.tar.gz and run its install.sh into a
#      scratch HOME (launcher, desktop entry, icons, metainfo must land under ~/.local);
#   2. the installed launcher: --version, ops, doctor --offline;
#   3. one offline object removal (OpenCV xphoto FSR) and one AI upscale (ncnn + the model)
#      through the bundled engine's worker processes;
#   4. the window, offscreen, for 5 s with a photo: it must still be running and quiet.
# Needs nothing but bash, tar and awk: the test images are written here, the photo is the
# astronaut from tests/data.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tarball=${1:-$(ls -t dist/retouchdesk-*-linux-*.tar.gz 2>/dev/null | head -1)}
[ -n "$tarball" ] && [ -f "$tarball" ] || { echo "no bundle: run packaging/build.sh first" >&2; exit 1; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
fail() { echo "SMOKE FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

step "unpack and install $(basename "$tarball") into a scratch HOME"
tar -C "$scratch" -xzf "$tarball"
export HOME="$scratch/home" RETOUCHDESK_HOME="$scratch/apphome" QT_QPA_PLATFORM=offscreen
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV
mkdir -p "$HOME"
bash "$scratch"/retouchdesk-*/install.sh
exe="$HOME/.local/bin/retouchdesk"
[ -x "$exe" ] || fail "no launcher at $exe"
for f in share/applications/retouchdesk.desktop \
         share/metainfo/io.github.retouchdesk.RetouchDesk.metainfo.xml \
         share/icons/hicolor/256x256/apps/retouchdesk.png \
         share/icons/hicolor/scalable/apps/retouchdesk.svg; do
  [ -f "$HOME/.local/$f" ] || fail "install.sh did not install ~/.local/$f"
done
grep -q "^Exec=$exe %F$" "$HOME/.local/share/applications/retouchdesk.desktop" \
  || fail "the installed desktop entry does not start $exe with %F"
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate "$HOME/.local/share/applications/retouchdesk.desktop"
fi

work="$scratch/work"
mkdir -p "$work"
cd "$work"

step "--version"
"$exe" --version | tee version.txt
grep -q "Retouch Desk [0-9]" version.txt || fail "--version"

step "ops"
"$exe" ops > ops.txt
for op in object_removal upscale realistic_skin; do grep -q "$op" ops.txt || fail "ops lacks $op"; done
echo "$(grep -c . ops.txt) lines"

step "doctor --offline"
"$exe" doctor --offline || fail "doctor reports a failure"

step "offline object removal"
cp "$root/tests/data/astronaut.png" photo.png
# A 512x512 mask (PGM) over a 48x48 square of the photo.
awk 'BEGIN{print "P2"; print "512 512"; print "255"; for(y=0;y<512;y++){l="";
  for(x=0;x<512;x++){l=l ((x>=376&&x<424&&y>=296&&y<344)?255:0) " "}; print l}}' > mask.pgm
"$exe" run --provider local --op object_removal --set mask=mask.pgm photo.png -o out
[ -s out/photo_object_removal_local.png ] || fail "no object removal result"

step "offline AI upscale (ncnn, Real-ESRGAN x4plus)"
# A 64x48 24-bit BMP gradient, written byte by byte.
{
  printf 'BM\x36\x24\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00\x40\x00\x00\x00'
  printf '\x30\x00\x00\x00\x01\x00\x18\x00\x00\x00\x00\x00\x00\x24\x00\x00\x13\x0b\x00\x00'
  printf '\x13\x0b\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'
  LC_ALL=C awk 'BEGIN{for(y=0;y<48;y++) for(x=0;x<64;x++)
    printf "%c%c%c", 1+(x*3)%254, 1+(y*5)%254, 1+((x+y)*2)%254}'
} > small.bmp
[ "$(wc -c < small.bmp)" -eq 9270 ] || fail "test BMP has the wrong size"
"$exe" run --provider local --op upscale --set engine=ai --set scale=4 small.bmp -o out
ls out | grep -q '^small_upscale_local' || fail "no AI upscale result"
if command -v file >/dev/null; then  # 64x48 at 4x
  file out/small_upscale_local.* | grep -q "256x192" || fail "the upscale is not 256x192"
fi

step "the window, offscreen, 5 s with a photo"
set +e
timeout -s TERM 5 "$exe" photo.png > window.out 2> window.err
rc=$?
set -e
cat window.err
[ "$rc" -eq 124 ] || fail "the window exited with $rc before 5 s"
if grep -E "Traceback|Error|error:" window.err; then fail "the window printed errors"; fi
[ -z "$(pgrep -f "$HOME/.local/lib/retouchdesk" || true)" ] || {
  sleep 2; pgrep -af "$HOME/.local/lib/retouchdesk" && fail "processes left behind"; }

step "uninstall"
bash "$scratch"/retouchdesk-*/install.sh --uninstall
[ ! -e "$exe" ] || fail "uninstall left the launcher"
echo "SMOKE OK"
