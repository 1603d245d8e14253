#!/usr/bin/env bash
# Make sure the system packages the demo and the UI tests need are present:
# Xvfb (a virtual display), Mesa (OpenGL for Kivy), a CJK font, xauth.
# As root, installs what is missing with apt-get; otherwise names the packages and fails.
set -euo pipefail

need=()
command -v Xvfb >/dev/null 2>&1 || need+=(xvfb xauth)
command -v fc-list >/dev/null 2>&1 || need+=(fontconfig)
if command -v fc-list >/dev/null 2>&1 && [ -z "$(fc-list :lang=zh file 2>/dev/null)" ]; then
  need+=(fonts-wqy-microhei)
fi
ldconfig -p 2>/dev/null | grep -q 'libGL.so.1' || need+=(libgl1)
ls /usr/lib/*/dri/swrast_dri.so /usr/lib/*/dri/llvmpipe_dri.so >/dev/null 2>&1 \
  || ls /usr/lib/*/dri/*_dri.so >/dev/null 2>&1 || need+=(libgl1-mesa-dri)
ldconfig -p 2>/dev/null | grep -q 'libmtdev.so.1' || need+=(libmtdev1)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "sysdeps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
  command -v fc-cache >/dev/null 2>&1 && fc-cache -f >/dev/null 2>&1 || true
  exit 0
fi
echo "sysdeps: missing system packages: ${need[*]}" >&2
echo "sysdeps: install them as root, e.g.: sudo apt-get install ${need[*]}" >&2
echo "sysdeps: (on other systems: an X virtual framebuffer, OpenGL/Mesa, and a Chinese font such as Noto Sans CJK)" >&2
exit 1
