#!/usr/bin/env bash
# Checks what `cmake --install` gives a server (docs/operations.md, "Installing as a service").
#
#   scripts/check-install.sh BUILD_DIR
#
# BUILD_DIR is a configured and built carepath build tree. The script installs it to a temporary
# prefix (with DESTDIR, as a package build does) and checks that
#   1. the binary, the plugins, the sample workflows, the docs, the systemd unit and its sysusers
#      file are where the installed configuration and the unit say they are;
#   2. the installed configuration loads (`carepath config show`) and names the installed
#      workflows and plugins, and the installed workflows validate against the installed plugins;
#   3. the unit passes `systemd-analyze verify` (where systemd-analyze exists) and keeps its
#      hardening;
#   4. a second install keeps a configuration the admin edited (and writes carepath.yaml.new)
#      and the admin's workflows.
# ctest runs it as `install.layout`. Exits non-zero, saying which part failed, on any failure.
set -euo pipefail

me=check-install
fail() {
  echo "$me: FAILED: $*" >&2
  exit 1
}
say() { echo "$me: $*"; }

if [[ $# -ne 1 ]]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
[[ -f $1/CMakeCache.txt ]] || fail "'$1' is not a configured CMake build directory"
build_dir=$(cd "$1" && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/carepath-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=/opt/carepath-check
root=$tmp/root

install_once() {
  if ! DESTDIR=$root cmake --install "$build_dir" --prefix "$prefix" >"$tmp/install.log" 2>&1; then
    sed 's/^/  | /' "$tmp/install.log" >&2
    fail "cmake --install failed (is the tree built? cmake --build $build_dir)"
  fi
}

# --- 1. Layout -----------------------------------------------------------------------------------
say "installing to DESTDIR=$root, prefix $prefix"
install_once
p=$root$prefix
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:[A-Z]*=//p' "$build_dir/CMakeCache.txt")
libdir=${libdir:-lib}
for file in bin/carepath \
  bin/carepath-plugin-host "$libdir"/carepath/plugins/legal_aid.so "$libdir"/carepath/plugins/medical.so \
  "$libdir"/carepath/plugins/vocational.so \
  share/carepath/workflows/aftercare.yaml share/carepath/workflows/education_support.yaml \
  share/doc/carepath/operations.md share/doc/carepath/openapi.yaml \
  etc/carepath/carepath.yaml etc/carepath/workflows/aftercare.yaml \
  lib/systemd/system/carepath.service lib/sysusers.d/carepath.conf; do
  [[ -f $p/$file ]] || fail "the install has no $file"
done
[[ -x $p/bin/carepath ]] || fail "bin/carepath is not executable"

# --- 2. The configuration points at the installed files ------------------------------------------
config=$p/etc/carepath/carepath.yaml
# The paths in the files are those of the real prefix; under DESTDIR they are one level down.
"$p/bin/carepath" config show --config "$config" >"$tmp/show.txt" 2>"$tmp/show.err" ||
  fail "carepath config show refused the installed configuration: $(cat "$tmp/show.err")"
expect_line() {
  grep -qF -- "$1" "$tmp/show.txt" || {
    sed 's/^/  | /' "$tmp/show.txt" >&2
    fail "config show does not say: $1"
  }
}
expect_line "db: \"$prefix/var/lib/carepath/carepath.db\""
expect_line "workflows: \"$prefix/etc/carepath/workflows\""
expect_line "plugins: [\"$prefix/$libdir/carepath/plugins\"]"
expect_line "master_key: \"$prefix/etc/carepath/keys/master.key\""
if ! "$p/bin/carepath" validate "$p"/etc/carepath/workflows/*.yaml \
  --plugins "$p/$libdir/carepath/plugins" >"$tmp/validate.log" 2>&1; then
  sed 's/^/  | /' "$tmp/validate.log" >&2
  fail "the installed workflows do not validate against the installed plugins"
fi

# --- 3. The systemd unit -------------------------------------------------------------------------
unit=$p/lib/systemd/system/carepath.service
grep -qF "ExecStart=$prefix/bin/carepath serve --config $prefix/etc/carepath/carepath.yaml" "$unit" ||
  fail "the unit does not start the installed binary with the installed configuration"
for setting in "User=carepath" "ProtectSystem=strict" "NoNewPrivileges=true" "ProtectHome=true" \
  "ReadWritePaths=$prefix/var/lib/carepath" "CapabilityBoundingSet=" "PrivateTmp=true"; do
  grep -qxF "$setting" "$unit" || fail "the unit lost '$setting'"
done
if command -v systemd-analyze >/dev/null 2>&1; then
  # verify wants the binary at the path the unit names: check a copy that names the DESTDIR one.
  sed "s|ExecStart=$prefix/bin/carepath|ExecStart=$p/bin/carepath|" "$unit" >"$tmp/carepath.service"
  if ! (cd "$tmp" && systemd-analyze verify "$tmp/carepath.service") >"$tmp/verify.log" 2>&1; then
    sed 's/^/  | /' "$tmp/verify.log" >&2
    fail "systemd-analyze verify refused the unit"
  fi
  say "systemd-analyze verify: ok"
else
  say "systemd-analyze not installed: unit syntax not verified"
fi

# --- 4. A second install keeps what the admin changed --------------------------------------------
echo "# edited by the admin" >>"$config"
cat "$p/etc/carepath/workflows/aftercare.yaml" >"$p/etc/carepath/workflows/local.yaml"
rm "$p/etc/carepath/workflows/education_support.yaml"
install_once
tail -n 1 "$config" | grep -qF "# edited by the admin" || fail "a second install overwrote the configuration"
[[ -f $config.new ]] || fail "a second install did not write carepath.yaml.new"
[[ -f $p/etc/carepath/workflows/local.yaml ]] || fail "a second install lost the admin's workflow"
[[ ! -f $p/etc/carepath/workflows/education_support.yaml ]] ||
  fail "a second install put back a workflow the admin removed"

say "ok"
