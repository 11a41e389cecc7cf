#!/usr/bin/env bash
# Installs Retouch Desk for the current user from this unpacked folder (no root needed):
#   ~/.local/lib/retouchdesk/         the application (a self-contained folder)
#   ~/.local/bin/retouchdesk          the launcher (a symbolic link)
#   ~/.local/share/applications/      the desktop entry (opens photos: JPEG, PNG, TIFF, WebP, HEIC)
#   ~/.local/share/icons/hicolor/     the icon in every size
#   ~/.local/share/metainfo/          the AppStream description (software centres)
#
#   ./install.sh               install or update (PREFIX=/some/where ./install.sh elsewhere)
#   ./install.sh --uninstall   remove all of the above (settings, jobs and results stay)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prefix=${PREFIX:-$HOME/.local}
app="$prefix/lib/retouchdesk"
bin="$prefix/bin/retouchdesk"
desktop="$prefix/share/applications/retouchdesk.desktop"
metainfo="$prefix/share/metainfo/io.github.retouchdesk.RetouchDesk.metainfo.xml"
icons="$prefix/share/icons/hicolor"

refresh() {
  command -v update-desktop-database >/dev/null && update-desktop-database -q "$prefix/share/applications" || true
  command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$icons" || true
}

if [ "${1:-}" = "--uninstall" ]; then
  rm -rf "$app"
  rm -f "$bin" "$desktop" "$metainfo"
  find "$icons" -name 'retouchdesk.png' -delete 2>/dev/null || true
  find "$icons" -name 'retouchdesk.svg' -delete 2>/dev/null || true
  refresh
  echo "Retouch Desk removed (your settings, jobs and results were left in place)."
  exit 0
fi

[ -x "$here/retouchdesk/retouchdesk" ] || { echo "error: run install.sh from the unpacked folder" >&2; exit 1; }
mkdir -p "$prefix/lib" "$prefix/bin" "$(dirname "$desktop")" "$(dirname "$metainfo")" "$icons"
# Copy next to the old version, then swap: a failed copy never leaves half an application.
rm -rf "$app.new"
cp -a "$here/retouchdesk" "$app.new"
rm -rf "$app.old"
[ -e "$app" ] && mv "$app" "$app.old"
mv "$app.new" "$app"
rm -rf "$app.old"
ln -sfn "$app/retouchdesk" "$bin"
# The desktop entry names the launcher by its full path: ~/.local/bin is not on every
# session's PATH.
sed -e "s|^Exec=retouchdesk |Exec=$bin |" -e "s|^TryExec=retouchdesk$|TryExec=$bin|" \
  "$here/share/applications/retouchdesk.desktop" > "$desktop"
cp "$here/share/metainfo/io.github.retouchdesk.RetouchDesk.metainfo.xml" "$metainfo"
cp -r "$here/share/icons/hicolor/." "$icons/"
refresh
echo "Retouch Desk installed: $bin"
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "note: $prefix/bin is not on your PATH; start it from the applications menu or as $bin" ;;
esac
