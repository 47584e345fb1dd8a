/*
 * syslog-bench: the syslog scenario's sender and its plain receiver.
 *
 *   syslog-bench send SOCKET COUNT INDEX
 *     Connects a blocking SOCK_DGRAM socket to SOCKET (as glibc's syslog(3)
 *     does: a full receiver queue blocks the sender, nothing is dropped),
 *     prints {"ready":true}, waits for a byte on stdin, then sends COUNT
 *     datagrams of 100 bytes as glibc writes them (sendmmsg, 32 at a time)
 *     ("<13>Mmm dd hh:mm:ss sbINDEX[PID]: ..."), and prints
 *     {"start":"NS","end":"NS","cpuMicros":N} (CLOCK_MONOTONIC, the same
 *     clock as Node's process.hrtime.bigint()).
 *
 *   syslog-bench sink SOCKET EXPECTED
 *     Binds SOCKET, receives datagrams until EXPECTED have come (or SIGTERM),
 *     then prints {"count":N,"lastAt":"NS","cpuMicros":N}: the senders'
 *     ceiling, with a receiver that does nothing but receive.
 *
 * Built by the bench: cc -O2 -o bench/results/syslog-bench bench/syslog-bench.c
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LINE 100
#ifndef BATCH
#define BATCH 32
#endif

#include "helper-clock.h"

static int unix_addr(const char *path, struct sockaddr_un *addr) {
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (strlen(path) >= sizeof addr->sun_path) return -1;
  strcpy(addr->sun_path, path);
  return 0;
}

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

static int do_send(const char *path, long count, int index) {
  struct sockaddr_un addr;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || unix_addr(path, &addr) < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    perror("syslog-bench send: connect");
    return 1;
  }
  printf("{\"ready\":true}\n");
  fflush(stdout);
  char go;
  if (read(0, &go, 1) != 1) return 1;
  char buf[LINE + 1];
  int head = snprintf(buf, sizeof buf, "<13>Dec  2 21:50:01 sb%d[%d]: message ", index, (int)getpid());
  unsigned long long start = now_ns();
  long long cpu0 = cpu_micros();
  // Up to BATCH datagrams per sendmmsg(2): the sender's own system-call cost out of the way (each is
  // still one datagram, as syslog(3) sends it; the receiver cannot tell).
  static char bufs[BATCH][LINE];
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  for (long i = 0; i < count;) {
    int k = 0;
    for (; k < BATCH && i < count; k++, i++) {
      memcpy(bufs[k], buf, head);
      // The sequence number, then padding to LINE bytes.
      int n = head + snprintf(bufs[k] + head, LINE - head, "%010ld ", i);
      memset(bufs[k] + n, 'x', LINE - n);
      iov[k].iov_base = bufs[k];
      iov[k].iov_len = LINE;
      memset(&msgs[k], 0, sizeof msgs[k]);
      msgs[k].msg_hdr.msg_iov = &iov[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
    }
    for (int done = 0; done < k;) {
      int n = sendmmsg(fd, msgs + done, k - done, 0);
      if (n < 0) {
        perror("syslog-bench send: sendmmsg");
        return 1;
      }
      done += n;
    }
  }
  unsigned long long end = now_ns();
  printf("{\"start\":\"%llu\",\"end\":\"%llu\",\"cpuMicros\":%lld}\n", start, end, cpu_micros() - cpu0);
  fflush(stdout);
  close(fd);
  return 0;
}

static int do_sink(const char *path, long expected) {
  struct sockaddr_un addr;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || unix_addr(path, &addr) < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    perror("syslog-bench sink: bind");
    return 1;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);
  int rcvbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  printf("{\"ready\":true}\n");
  fflush(stdout);
  char buf[65536];
  long count = 0;
  unsigned long long last = 0;
  long long cpu0 = cpu_micros();
  while (count < expected && !stop) {
    if (recv(fd, buf, sizeof buf, 0) < 0) continue; /* EINTR from SIGTERM: the loop checks stop */
    count++;
    last = now_ns();
  }
  printf("{\"count\":%ld,\"lastAt\":\"%llu\",\"cpuMicros\":%lld}\n", count, last, cpu_micros() - cpu0);
  fflush(stdout);
  unlink(path);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[1], "send") == 0) return do_send(argv[2], atol(argv[3]), atoi(argv[4]));
  if (argc == 4 && strcmp(argv[1], "sink") == 0) return do_sink(argv[2], atol(argv[3]));
  fprintf(stderr, "usage: syslog-bench send SOCKET COUNT INDEX | syslog-bench sink SOCKET EXPECTED\n");
  return 2;
}
