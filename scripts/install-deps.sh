#!/usr/bin/env bash
# Installs the tools the tests need on a fresh Debian machine, from the
# distribution's packages; does nothing for tools already present.
set -euo pipefail
need=()
command -v cmake >/dev/null || need+=(cmake)
command -v go >/dev/null || need+=(golang-go)
command -v valgrind >/dev/null || need+=(valgrind)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v g++ >/dev/null || need+=(g++)
command -v python3 >/dev/null || need+=(python3)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
# CPack's DEB generator (scripts/package.sh deb): dpkg-shlibdeps and file.
command -v dpkg-shlibdeps >/dev/null || need+=(dpkg-dev)
command -v file >/dev/null || need+=(file)
# Debian's package checker, run on the .deb by the packages suite.
command -v lintian >/dev/null || need+=(lintian)
# The interop suite makes a venv (Debian's python3 lacks ensurepip without it).
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
