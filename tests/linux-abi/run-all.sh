#!/bin/sh
# run-all.sh [DIR] — runs the Linux-ABI programs listed in DIR/TESTS (DIR
# defaults to this script's directory), one after another, each from an empty
# directory with a fresh TMPDIR, stdin from /dev/null, stderr into stdout.
# Written for busybox sh (Keel's shell) and any POSIX sh. Output:
#
#   linux-abi-run NAME             before each program
#   ...                            the program's own lines (harness.h)
#   linux-abi-exit NAME STATUS     after it: its exit status (128+N if killed by signal N)
#   linux-abi-done                 after the last one
#
# tools/keel-test --suite linux-abi-host runs this script on the host and judges
# the stream; a Keel-side runner can run the same script inside Keel.
dir=${1:-$(dirname "$0")}
case $dir in
  /*) ;;
  *) dir=$(cd "$dir" && pwd) ;;
esac
tmp=${TMPDIR:-/tmp}
if [ ! -r "$dir/TESTS" ]; then
  echo "linux-abi-error no $dir/TESTS"
  exit 1
fi
while read -r name; do
  [ -n "$name" ] || continue
  work=$(mktemp -d "$tmp/linux-abi-run-$name.XXXXXX") || { echo "linux-abi-error mktemp failed"; exit 1; }
  mkdir "$work/cwd"
  echo "linux-abi-run $name"
  (cd "$work/cwd" && TMPDIR=$work exec "$dir/$name" </dev/null 2>&1)
  status=$?
  echo "linux-abi-exit $name $status"
  rm -rf "$work"
done < "$dir/TESTS"
echo "linux-abi-done"
