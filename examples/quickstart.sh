#!/bin/sh
# The main job: memlog init boots examples/boot.yml in the foreground (memlogd,
# on-boot actions, services, logwrite persisting to ./var/log) until Ctrl-C.
# Under CI (CI=true) it stops by itself after a few seconds and shows what
# reached the disk.
set -eu
cd "$(dirname "$0")/.."
if [ "${CI:-}" = "true" ]; then
  node bin/memlog init -stop-after 6 examples/boot.yml
  echo "== ./var/log after the boot:"
  ls -l var/log
  echo "== the first on-boot action, persisted long after it ran:"
  cat var/log/onboot.000-hello.out.log
  exit 0
fi
exec node bin/memlog init examples/boot.yml
