#!/bin/sh
# The quick start: memlogd on sockets under ./run, fed by the launcher, read by
# logread, then serving in the foreground until Ctrl-C. Under CI (CI=true) it
# stops after the demonstration instead of serving forever.
set -eu
cd "$(dirname "$0")/.."
mkdir -p run
LOG=run/log.sock
QUERY=run/query.sock

bin/memlogd -socket-log "$LOG" -socket-query "$QUERY" &
daemon=$!
trap 'kill -TERM "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null; exit 0' INT TERM
# Wait until memlogd answers (it takes a few tens of milliseconds).
i=0
until bin/logread -socket "$QUERY" >/dev/null 2>&1; do
  i=$((i + 1)); [ "$i" -lt 100 ] || { echo "memlogd did not start" >&2; exit 1; }
  sleep 0.05
done

echo "== memlogd is running (pid $daemon): log socket $LOG, query socket $QUERY"
echo "== feeding it: bin/logwrite -socket $LOG -n demo sh -c '...'"
bin/logwrite -socket "$LOG" -n demo sh -c 'echo "hello from stdout"; echo "hello from stderr" >&2; echo "ok; done"'
sleep 0.1
echo "== the ring now (bin/logread -socket $QUERY):"
bin/logread -socket "$QUERY"

if [ "${CI:-}" = "true" ]; then
  kill -TERM "$daemon"; wait "$daemon"
  exit 0
fi
cat <<MSG

== memlogd keeps running here until Ctrl-C. From another terminal:
   bin/logwrite -socket $LOG -n myapp sh -c 'while sleep 1; do date; done'   # feed it
   bin/logread -socket $QUERY -F                                              # dump, then follow
   bin/memlog read -socket $QUERY -f                                          # follow only
MSG
wait "$daemon"
