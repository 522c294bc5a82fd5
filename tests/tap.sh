# TAP for the shell tests: ". tap.sh", then plan N, ok STATUS "what", skip "why", diag "note".
# A script ends with "tap_done", which exits 1 if a test failed or the count is off.

tap_n=0
tap_fail=0
tap_plan=0

plan() {
  tap_plan=$1
  echo "1..$1"
}

# ok STATUS DESCRIPTION: STATUS 0 is a pass (the exit status of a check).
ok() {
  tap_n=$((tap_n + 1))
  if [ "$1" -eq 0 ]; then
    echo "ok $tap_n - $2"
  else
    echo "not ok $tap_n - $2"
    tap_fail=$((tap_fail + 1))
  fi
}

skip() {
  tap_n=$((tap_n + 1))
  echo "ok $tap_n # SKIP $1"
}

diag() {
  printf '%s\n' "$@" | sed 's/^/# /'
}

skip_all() {
  echo "1..0 # SKIP $1"
  exit 0
}

tap_done() {
  [ "$tap_fail" -eq 0 ] && [ "$tap_n" -eq "$tap_plan" ]
  exit $?
}
