# shellcheck shell=bash
# ibb_build DIR [cmake args...]: configure (once) and build into DIR.
ibb_build() {
  local dir="$1"; shift
  cmake -S "$IBB_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)" -- --no-print-directory
}
