# Sourced by scripts/test.sh and scripts/demo.sh with $src set, before
# anything else: the test VM sees the host's files at the same paths,
# except under /tmp and /run, which are its own, so run from a copy
# elsewhere in that case. $1 is the calling script's name, the rest its
# arguments.
case "$src/" in
/tmp/*|/run/*)
  copy=/var/tmp/vduse-netblk-$(id -u)
  echo "=== $src is under /tmp or /run, which the test VM cannot see: running from $copy"
  rm -rf "$copy" && mkdir -p "$copy" && cp -a "$src/." "$copy/" || exit 1
  script=$1
  shift
  exec "$copy/scripts/$script" "$@"
  ;;
esac
