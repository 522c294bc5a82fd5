#!/bin/sh
# no-system-preload.sh CMD...: runs CMD where /etc/ld.so.preload preloads nothing.
#
# On a machine with hakmem enabled system-wide (hakmem-preload enable) the file names the
# installed libhakmem.so.0, and the loader takes that preloaded object for the DT_NEEDED of the
# same soname: every test program would run the installed library instead of the one under
# test, and a TSan build would get its malloc replaced.  make check runs every test through
# this script.  CMD runs as it is when the file is missing or empty; otherwise in a private mount
# namespace with /dev/null mounted over the file.  A user other than root gets the namespace
# through a user namespace, and then a second one that maps root back to that user, so that CMD
# runs with the user's own uid and gid and no privilege.
#
# Exit status: CMD's, or 77 (with a message on stderr) when the file preloads something and no
# such namespace can be made here.
preload=/etc/ld.so.preload
[ -s "$preload" ] || exec "$@"

uid=$(id -u) gid=$(id -g)
if [ "$uid" = 0 ]; then ns='-m'; else ns='-r -m'; fi
# shellcheck disable=SC2086 # ns is a list of options
if ! unshare $ns --propagation private true 2> /dev/null; then
  echo "$0: $preload preloads libraries here (hakmem enabled system-wide?) and no private" \
    "mount namespace can be made to leave them out (unshare $ns failed): the tests would run" \
    "the preloaded library, not this build's.  Run the tests as root, allow unprivileged user" \
    "namespaces, or empty $preload for the run." >&2
  exit 77
fi
if [ "$uid" = 0 ]; then
  exec unshare -m --propagation private \
    sh -c 'mount --bind /dev/null "$0" && exec "$@"' "$preload" "$@"
fi
# shellcheck disable=SC2016 # expanded by the inner shell
exec unshare -r -m --propagation private \
  sh -c 'u=$1 g=$2; shift 2
         mount --bind /dev/null "$0" && exec unshare --map-user="$u" --map-group="$g" -- "$@"' \
  "$preload" "$uid" "$gid" "$@"
