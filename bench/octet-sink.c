/*
 * octet-sink: the forward-tcp scenario's receiver. It does nothing but count
 * the RFC 6587 octet-counted messages (MSG-LEN SP MSG) it is sent, so that
 * what is measured is the forwarder, not a syslog server.
 *
 *   octet-sink EXPECTED
 *     Listens on 127.0.0.1, on a port the kernel picks, and prints
 *     {"ready":true,"port":N}. Accepts any number of connections (a
 *     forwarder reconnects after a failure), reads each in 256 KiB reads and
 *     walks the frames: the length's digits, the space, then the message's
 *     bytes skipped. Prints {"count":N,"bytes":N,"lastAt":"NS","cpuMicros":N,"bad":N}
 *     once EXPECTED messages have come, and again for every line on stdin
 *     (the bench asks when messages stop coming); exits when stdin closes.
 *     lastAt: when the read that completed the last message returned
 *     (CLOCK_MONOTONIC, the same clock as Node's process.hrtime.bigint()).
 *     bad: connections closed for a frame that is not octet-counted.
 *
 * Built by the bench: cc -O2 -o bench/results/octet-sink bench/octet-sink.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 64
/* A length longer than this is not a syslog frame (rsyslog's own limit is far lower). */
#define MAX_FRAME 16777216L

struct conn {
  int fd;
  /* In the length's digits (len so far), or in the message (left to skip). */
  int in_len;
  long len;
  long left;
};

#include "helper-clock.h"

static long count, bad;
static long long bytes;
static unsigned long long last;
static long long cpu0;

static void report(void) {
  printf("{\"count\":%ld,\"bytes\":%lld,\"lastAt\":\"%llu\",\"cpuMicros\":%lld,\"bad\":%ld}\n", count, bytes, last, cpu_micros() - cpu0, bad);
  fflush(stdout);
}

/* Walks n bytes of a connection's stream; returns the messages completed; *broken: a frame that is not octet-counted. */
static long frames(struct conn *c, const unsigned char *p, long n, int *broken) {
  long done = 0;
  long i = 0;
  while (i < n) {
    if (c->in_len) {
      unsigned char b = p[i++];
      if (b >= '0' && b <= '9' && !(c->len == 0 && b == '0')) {
        c->len = c->len * 10 + (b - '0');
        if (c->len > MAX_FRAME) {
          *broken = 1;
          return done;
        }
      } else if (b == ' ' && c->len > 0) {
        c->in_len = 0;
        c->left = c->len;
      } else {
        *broken = 1;
        return done;
      }
    } else {
      long take = n - i < c->left ? n - i : c->left;
      i += take;
      c->left -= take;
      if (c->left == 0) {
        done++;
        c->in_len = 1;
        c->len = 0;
      }
    }
  }
  return done;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: octet-sink EXPECTED\n");
    return 2;
  }
  long expected = atol(argv[1]);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t alen = sizeof addr;
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 16) < 0 || getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) {
    perror("octet-sink: listen");
    return 1;
  }
  printf("{\"ready\":true,\"port\":%d}\n", ntohs(addr.sin_port));
  fflush(stdout);
  cpu0 = cpu_micros();

  static struct conn conns[MAX_CONNS];
  int nconns = 0;
  static unsigned char buf[256 * 1024];
  struct pollfd pfds[MAX_CONNS + 2];
  int reported = 0;
  for (;;) {
    pfds[0].fd = 0;
    pfds[0].events = POLLIN;
    pfds[1].fd = lfd;
    pfds[1].events = nconns < MAX_CONNS ? POLLIN : 0;
    for (int k = 0; k < nconns; k++) {
      pfds[k + 2].fd = conns[k].fd;
      pfds[k + 2].events = POLLIN;
    }
    if (poll(pfds, nconns + 2, -1) < 0) {
      if (errno == EINTR) continue;
      perror("octet-sink: poll");
      return 1;
    }
    if (pfds[0].revents) {
      char line[256];
      ssize_t r = read(0, line, sizeof line);
      if (r <= 0) return 0;
      report();
    }
    /* Walk backwards: a closed connection is replaced by the last one, which was already served. */
    for (int k = nconns - 1; k >= 0; k--) {
      if (!pfds[k + 2].revents) continue;
      ssize_t r = read(conns[k].fd, buf, sizeof buf);
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      int broken = 0;
      long got = r > 0 ? frames(&conns[k], buf, r, &broken) : 0;
      if (r > 0) bytes += r;
      if (got > 0) {
        count += got;
        last = now_ns();
      }
      if (r <= 0 || broken) {
        bad += broken;
        close(conns[k].fd);
        conns[k] = conns[--nconns];
      }
    }
    /* After the connections: a new one has no poll entry yet. */
    if (pfds[1].revents & POLLIN) {
      int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
      if (fd >= 0) {
        conns[nconns].fd = fd;
        conns[nconns].in_len = 1;
        conns[nconns].len = 0;
        conns[nconns].left = 0;
        nconns++;
      }
    }
    if (!reported && count >= expected) {
      reported = 1;
      report();
    }
  }
}
