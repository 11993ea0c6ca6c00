#!/usr/bin/env bash
# record-demo.sh: record demo.gif from demo.tape and one PNG still per
# console tab into docs/, with VHS (https://github.com/charmbracelet/vhs).
#
#   scripts/record-demo.sh            # everything: checks, tools, demo.gif, docs/*.png
#   scripts/record-demo.sh gif        # demo.gif only
#   scripts/record-demo.sh stills     # docs/<tab>.png only
#
# Written for a fresh Debian 12 machine with Go 1.26, run as root, whose
# only network is the Debian archive and the Go module proxy. What VHS needs:
#
#   - ffmpeg and a Chromium: Debian packages, installed here with apt-get
#     when missing (with fonts-dejavu-core, the monospace font VHS falls
#     back on). VHS starts the browser through go-rod, which looks for
#     `chrome`, `google-chrome`, `chromium`, ... on PATH (and would otherwise
#     try to download one, which fails offline). Debian's chromium is
#     /usr/bin/chromium, which it finds; CHROME=/path/to/browser puts another
#     one first on PATH. As root Chromium needs --no-sandbox: VHS_NO_SANDBOX=1.
#   - ttyd (>= 1.7.2): not packaged in Debian 12 and not downloadable here,
#     so the operator provides it: build it from a checkout of its source
#     (github.com/tsl0922/ttyd, the newest tag; it builds with Debian's cmake,
#     libwebsockets-dev, libjson-c-dev, libuv1-dev and zlib1g-dev, as its
#     README describes) and install it on PATH, or pass TTYD=/path/to/ttyd.
#     This script builds nothing of ttyd and downloads no prebuilt binary.
#   - vhs itself: `go install github.com/charmbracelet/vhs@$VHS_VERSION`
#     from the Go module proxy, when `vhs` is not on PATH or in $(go env GOPATH)/bin.
#
# Environment:
#   TTYD=/path/to/ttyd     a ttyd not on PATH
#   CHROME=/path/to/chrome a browser go-rod would not find by itself
#   VHS_VERSION=v0.10.0    the vhs to go install
#   TABS="charts registry" the tabs to still, in console order (default:
#                          read from the tab names in ui/ui.go)
#   SKIP_TEST=1            skip `go test ./ui -run Tape` before recording
#
# Exit status 3: the files were written, but demo.gif plays faster than the
# tape because the machine could not take frames as often as demo.tape's
# Framerate asks; re-record on a quieter machine.
#
# Each recording runs the demo with fresh, temporary XDG state and cache
# directories, so earlier runs on this machine do not change what it shows.
# Recording is heavy (a headless Chromium screenshots the terminal many
# times a second): on two cores demo.gif takes a few minutes.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
what=${1:-all}
case $what in all | gif | stills) ;; *)
	echo "usage: $0 [all|gif|stills]" >&2
	exit 2
	;;
esac
VHS_VERSION=${VHS_VERSION:-v0.10.0}
say() { printf '\n== %s\n' "$*"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"

# --- Debian packages --------------------------------------------------------
need=()
command -v ffmpeg >/dev/null || need+=(ffmpeg)
if [[ -z ${CHROME:-} ]] && ! command -v chromium >/dev/null && ! command -v chrome >/dev/null &&
	! command -v google-chrome >/dev/null && ! command -v chromium-browser >/dev/null; then
	need+=(chromium)
fi
[[ -e /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ]] || need+=(fonts-dejavu-core)
if ((${#need[@]})); then
	say "installing ${need[*]}"
	sudo=()
	((EUID == 0)) || sudo=(sudo)
	"${sudo[@]}" apt-get update
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${need[@]}"
fi
if [[ -n ${CHROME:-} ]]; then
	ln -s "$CHROME" "$work/bin/chrome" # go-rod's first name on Linux
fi

# --- ttyd -------------------------------------------------------------------
if [[ -n ${TTYD:-} ]]; then
	ln -s "$TTYD" "$work/bin/ttyd"
fi
export PATH="$work/bin:$PATH"
if ! command -v ttyd >/dev/null; then
	cat >&2 <<'EOF'
ttyd is not installed. Debian 12 does not package it and only package
registries are reachable here, so build it from a checkout of its source
(github.com/tsl0922/ttyd, newest tag) as its README describes, install it on
PATH (e.g. /usr/local/bin/ttyd), or set TTYD=/path/to/ttyd, then run this again.
EOF
	exit 1
fi
echo "ttyd: $(ttyd --version)"

# --- vhs --------------------------------------------------------------------
gobin=$(go env GOBIN)
[[ -n $gobin ]] || gobin="$(go env GOPATH)/bin"
export PATH="$PATH:$gobin"
if ! command -v vhs >/dev/null; then
	say "go install github.com/charmbracelet/vhs@$VHS_VERSION"
	go install "github.com/charmbracelet/vhs@$VHS_VERSION"
fi
echo "vhs: $(vhs --version)"

# --- helmupgradebot -----------------------------------------------------------
# The tapes start the console with `go run . --demo`; building first fails
# early on a broken tree and fills the build cache, so the recording does not
# show a compile.
say "go build"
# `go run . --demo` builds the default command, then the demo's (-tags demo)
go build -o /dev/null .
go build -tags demo -o "$work/helmupgradebot" .
"$work/helmupgradebot" --version
if [[ -z ${SKIP_TEST:-} && $what != stills ]]; then
	say "go test ./ui -run Tape (the tape still matches the console)"
	go test ./ui -run Tape -count=1
fi

# --- the recording environment ----------------------------------------------
export VHS_NO_SANDBOX=1 # Chromium as root needs --no-sandbox
export COLORTERM=truecolor
export TERM=xterm-256color
unset NO_COLOR
# Fresh demo state; keep Go's own caches where they are.
GOCACHE=$(go env GOCACHE)
GOMODCACHE=$(go env GOMODCACHE)
export GOCACHE GOMODCACHE
fresh() {
	rm -rf "$work/xdg"
	mkdir -p "$work/xdg/cache" "$work/xdg/state" "$work/xdg/config"
	export XDG_CACHE_HOME="$work/xdg/cache" XDG_STATE_HOME="$work/xdg/state" XDG_CONFIG_HOME="$work/xdg/config"
}

# --- demo.gif ---------------------------------------------------------------
if [[ $what != stills ]]; then
	say "vhs demo.tape"
	fresh
	rm -f demo.gif
	vhs demo.tape
	[[ -s demo.gif ]] || {
		echo "vhs wrote no demo.gif" >&2
		exit 1
	}
	# VHS takes a frame every 1/Framerate s only if the machine keeps up;
	# when it cannot, the GIF plays faster than the tape. A GIF that kept up
	# lasts at least as long as the tape's Sleeps while shown.
	sleeps=$(awk '
		$1 == "Hide" { hidden = 1 }
		$1 == "Show" { hidden = 0 }
		$1 == "Sleep" && !hidden {
			v = $2
			if (v ~ /ms$/) { sub(/ms$/, "", v); v /= 1000 }
			else if (v ~ /s$/) { sub(/s$/, "", v) }
			else if (v ~ /m$/) { sub(/m$/, "", v); v *= 60 }
			t += v
		}
		END { printf "%.1f", t }' demo.tape)
	length=$(ffprobe -v error -select_streams v -show_entries packet=duration_time -of csv=p=0 demo.gif |
		awk '{ t += $1 } END { printf "%.1f", t }')
	echo "demo.gif plays ${length}s; the tape sleeps ${sleeps}s while shown"
	if awk -v l="$length" -v s="$sleeps" 'BEGIN { exit !(l < 0.9 * s) }'; then
		slow="demo.gif plays faster than the tape (${length}s for ${sleeps}s of sleeps): the machine was too busy to take the frames demo.tape's Framerate asks for; re-record when it is idle, or lower Set Framerate"
		echo "warning: $slow" >&2
	fi
fi

# --- docs/<tab>.png ---------------------------------------------------------
if [[ $what != gif ]]; then
	tabs=${TABS:-}
	if [[ -z $tabs ]]; then
		# func (t tab) String() string { return [...]string{"Charts", "Registry", ...}[t] }
		tabs=$(sed -n 's/.*func (t tab) String() string {.*string{\([^}]*\)}.*/\1/p' ui/ui.go |
			tr -d '" ' | tr ',' ' ' | tr '[:upper:]' '[:lower:]')
	fi
	if [[ -z $tabs ]]; then
		echo "could not read the tab names from ui/ui.go; set TABS=\"charts registry ...\"" >&2
		exit 1
	fi
	say "stills of: $tabs"
	mkdir -p docs
	tape="$work/stills.tape"
	{
		echo "# Generated by scripts/record-demo.sh: one still per console tab."
		# The terminal of demo.tape, so the stills match the GIF.
		grep -E '^Set (Shell|FontSize|Width|Height|Padding|Theme|FontFamily|LetterSpacing|LineHeight) ' demo.tape
		echo "Set Framerate 10"
		echo "Set WaitTimeout 180s"
		echo "Hide"
		echo 'Type "go run . --demo"'
		echo "Enter"
		echo "Wait+Screen /outdated/"
		echo "Sleep 1s"
		echo "Show"
		first=1
		for t in $tabs; do
			((first)) || echo "Tab"
			first=0
			case $t in
			charts) echo "Wait+Screen /outdated/" ;;
			registry) echo "Wait+Screen /REPOSITORY/" ;;
			esac
			echo "Sleep 3s"
			echo "Screenshot docs/$t.png"
			echo "Sleep 500ms"
		done
		echo 'Type "q"'
		echo "Sleep 1s"
	} >"$tape"
	cat "$tape"
	fresh
	for t in $tabs; do rm -f "docs/$t.png"; done
	vhs "$tape"
	for t in $tabs; do
		[[ -s docs/$t.png ]] || {
			echo "vhs wrote no docs/$t.png" >&2
			exit 1
		}
	done
fi

say "done"
ls -l demo.gif docs/*.png 2>/dev/null || true
if [[ -f demo.gif ]] && (($(stat -c %s demo.gif) > 3 * 1024 * 1024)); then
	echo "warning: demo.gif is over 3 MiB; lower Width/Height/FontSize or shorten the sleeps in demo.tape" >&2
fi
if [[ -n ${slow:-} ]]; then
	echo "warning: $slow" >&2
	exit 3
fi
