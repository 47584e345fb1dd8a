#!/bin/sh
# The main job: memlog init boots examples/boot.yml in the foreground (memlogd,
# on-boot actions, services, the init persisting to ./var/log) until Ctrl-C.
# Under CI (CI=true) it stops by itself after a few seconds and shows what
# reached the disk. The web page (memlog web, a service of boot.yml) is at URL.
set -eu
cd "$(dirname "$0")/.."
URL=http://127.0.0.1:8080/
echo "memlog: the live log page will be at $URL (memlog web, once booted)"
# --v8-pool-size=1: one V8 worker thread for the init, which lives as long as
# the machine (less memory, no measurable cost; see README, "Memory").
if [ "${CI:-}" = "true" ]; then
  node --v8-pool-size=1 bin/memlog init -stop-after 6 examples/boot.yml
  echo "== ./var/log after the boot:"
  ls -l var/log
  echo "== the first on-boot action, persisted long after it ran:"
  cat var/log/onboot.000-hello.out.log
  echo "== the web page's service said where it listened:"
  cat var/log/web.out.log 2>/dev/null || echo "nothing: see var/log/web.err.log and var/log/init.log"
  exit 0
fi
exec node --v8-pool-size=1 bin/memlog init examples/boot.yml
