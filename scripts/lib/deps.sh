# shellcheck shell=bash
# Installs what ib-bridge needs on a Debian bookworm machine. Quick (no network) when all is present.
# Sourced by scripts/test, scripts/run and scripts/bench; call ibb_deps.

IBB_APT_PKGS=(
  build-essential cmake pkg-config clang libclang-rt-14-dev valgrind curl ca-certificates openssl netcat-openbsd
  libnats-dev nats-server libmsgpack-dev libconfig-dev libcriterion-dev libuv1-dev
  libwebsockets-dev libjansson-dev
  golang-go golang-github-nats-io-go-nats-dev golang-github-ugorji-go-codec-dev
  wrk chromium
)

ibb_sudo() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

ibb_deps_apt() {
  local missing=() p
  for p in "${IBB_APT_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing Debian packages: ${missing[*]}"
    ibb_sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive ibb_sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

# npm packages for the node tests (pinned in tests/node/package-lock.json).
ibb_deps_npm() {
  local dir="$IBB_ROOT/tests/node"
  [ -f "$dir/package.json" ] || return 0
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "deps: npm ci in tests/node"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

ibb_deps() { ibb_deps_apt; ibb_deps_npm; }
