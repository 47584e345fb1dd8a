#!/bin/sh
# The main job: memlog init boots examples/boot.yml in the foreground (memlogd,
# on-boot actions, services, the init persisting to ./var/log) until Ctrl-C.
# Under CI (CI=true) it stops by itself after a few seconds and shows what
# reached the disk.
set -eu
cd "$(dirname "$0")/.."
# --v8-pool-size=1: one V8 worker thread for the init, which lives as long as
# the machine (less memory, no measurable cost; see README, "Memory").
if [ "${CI:-}" = "true" ]; then
  node --v8-pool-size=1 bin/memlog init -stop-after 6 examples/boot.yml
  echo "== ./var/log after the boot:"
  ls -l var/log
  echo "== the first on-boot action, persisted long after it ran:"
  cat var/log/onboot.000-hello.out.log
  exit 0
fi
exec node --v8-pool-size=1 bin/memlog init examples/boot.yml
