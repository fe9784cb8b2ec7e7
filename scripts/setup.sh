#!/usr/bin/env bash
# One command for everything a fresh Linux machine needs, then one action:
#   bash scripts/setup.sh demo      install, then start birdview on the bundled demo recordings
#   bash scripts/setup.sh test      install, then run the whole test suite (what CI runs)
#   bash scripts/setup.sh install   install only
# Installs Debian packages (PortAudio for playback, X/EGL libraries for Qt, Xvfb), a virtual
# environment in .venv, and the project with its dependencies. Safe to run again: it only
# installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
action="${1:-install}"
python="${PYTHON:-python3}"

debian_packages=(
  libportaudio2                                   # sounddevice (playback)
  libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0   # Qt, even offscreen
  libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
  libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1   # Qt on X11
  xvfb xauth                                      # a virtual screen for screenshots
)

install_debian_packages() {
  command -v dpkg-query >/dev/null 2>&1 || { echo "setup: not a Debian/Ubuntu system; install PortAudio and Qt's X11 libraries yourself"; return 0; }
  local missing=()
  for package in "${debian_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "setup: please install as root: apt-get install ${missing[*]}"; return 0; }
    sudo="sudo"
  fi
  echo "setup: installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_python_packages() {
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  local stamp=.venv/.birdview-installed
  local wanted
  wanted="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    return 0
  fi
  echo "setup: installing Python packages into .venv (the first time takes a few minutes: torch is large)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev,birdnet,cluster]'
  echo "$wanted" > "$stamp"
}

install_debian_packages
install_python_packages

case "$action" in
  install)
    echo "setup: done. Start the app with: .venv/bin/birdview assets/demo/recordings"
    ;;
  demo)
    # The demo project: the bundled recordings (and the real song they are made from), where their
    # songs are (assets/demo/labels), and BirdNET's detections (about 15 s to score, once).
    if [ ! -f .demo-project/project.sqlite ]; then
      .venv/bin/birdview add --project .demo-project --site DEMO-SITE assets/demo/recordings assets/demo/source/birds_10s.wav
      .venv/bin/birdview import --project .demo-project --format perch --add-unknown assets/demo/labels/demo_labels.csv
      # where warblers like these sing in May: BirdNET's species list for the site and week
      .venv/bin/birdview sites --project .demo-project --set DEMO-SITE --lat 45.5 --lon -78.3 --timezone America/Toronto
    fi
    if ! .venv/bin/birdview models --project .demo-project | cut -f3 | grep -qx birdnet; then
      .venv/bin/birdview models --project .demo-project --add birdnet
    fi
    .venv/bin/birdview score --project .demo-project
    if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
      echo "setup: no display here; rendering the demo to demo.png instead of opening a window"
      exec .venv/bin/birdview --screenshot demo.png --span 40 --project .demo-project
    fi
    exec .venv/bin/birdview --project .demo-project
    ;;
  test)
    export QT_QPA_PLATFORM=offscreen
    echo "setup: ruff"
    .venv/bin/ruff check .
    echo "setup: import contracts (Qt only in birdview.gui, birdview's layers, the trainer below the app)"
    .venv/bin/lint-imports
    echo "setup: pytest"
    exec .venv/bin/python -m pytest "${@:2}"
    ;;
  *)
    echo "usage: bash scripts/setup.sh demo|test|install" >&2
    exit 2
    ;;
esac
