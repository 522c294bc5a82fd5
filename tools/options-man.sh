#!/bin/sh
# options-man.sh extract PAGE: prints the generated lines of PAGE (between the OPTIONS markers).
# options-man.sh splice PAGE GENERATED: prints PAGE with those lines replaced by file GENERATED.
set -eu
HAK_BEGIN='.\" BEGIN OPTIONS'
HAK_END='.\" END OPTIONS'
export HAK_BEGIN HAK_END
case ${1-} in
  extract)
    awk '$0 == ENVIRON["HAK_END"] { inside = 0 } inside { print }
      $0 == ENVIRON["HAK_BEGIN"] { inside = 1; found = 1 }
      END { if (!found) { print "options-man.sh: no BEGIN OPTIONS marker" > "/dev/stderr"; exit 1 } }' "$2" ;;
  splice)
    HAK_GEN=$3 awk '$0 == ENVIRON["HAK_END"] { inside = 0 } !inside { print }
      $0 == ENVIRON["HAK_BEGIN"] { while ((getline l < ENVIRON["HAK_GEN"]) > 0) print l; inside = 1 }' "$2" ;;
  *)
    echo "usage: $0 extract PAGE | splice PAGE GENERATED" >&2
    exit 2 ;;
esac
