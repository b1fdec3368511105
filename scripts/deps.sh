# shellcheck shell=bash
# scripts/deps.sh - the Debian packages yalu needs, and a function that
# installs the missing ones (as root) or prints the exact apt-get line.
# Sourced by scripts/test and scripts/demo.

YALU_DEBS=(
	build-essential cmake pkg-config
	libvectorscan-dev libutf8proc-dev libjansson-dev libyaml-dev
	librdkafka-dev libzmq3-dev libsqlite3-dev libmicrohttpd-dev
	libsystemd-dev liblinear-dev check
	kcat sqlite3 curl jq time
	default-jre-headless maven
)

# yalu_install_deps: returns 0 when everything is installed.
yalu_install_deps() {
	local missing=() p
	for p in "${YALU_DEBS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages; run as root:" >&2
		echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
		return 1
	fi
	echo "installing: ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 || return 1
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# yalu_build DIR [cmake args...]: configures and builds into DIR.
yalu_build() {
	local dir=$1
	shift
	cmake -S "$YALU_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null &&
		cmake --build "$dir" -j"$(nproc)"
}
