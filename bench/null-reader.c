/*
 * null-reader: the transport limit for the bench's transport-N scenarios.
 *
 * The least a log daemon can do with the log socket's protocol: bind the
 * datagram socket, take the fds handed over with SCM_RIGHTS, read each with
 * epoll (level-triggered, one 64 KiB read per ready fd per round, so streams
 * are served in turn), count '\n' with memchr, and close each fd at EOF
 * (which is what tells the writer its lines are in). No ring, no query socket.
 *
 * Usage: null-reader LOG_SOCKET
 * On SIGTERM or SIGINT it prints "lines N bytes N streams N" on stderr,
 * removes the socket and exits 0.
 *
 * Built by the bench: cc -O2 -o bench/results/null-reader bench/null-reader.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define READ_SIZE 65536
#define MAX_FDS 253

static char buf[READ_SIZE];

static void die(const char *what) {
  perror(what);
  exit(1);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: null-reader LOG_SOCKET\n");
    return 2;
  }
  const char *path = argv[1];

  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  if (sigprocmask(SIG_BLOCK, &sigs, NULL) < 0) die("sigprocmask");
  int sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) die("signalfd");

  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof addr.sun_path) {
    fprintf(stderr, "null-reader: socket path too long: %s\n", path);
    return 1;
  }
  strcpy(addr.sun_path, path);
  int lsock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (lsock < 0) die("socket");
  if (bind(lsock, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");

  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  struct epoll_event ev = {.events = EPOLLIN};
  ev.data.fd = sfd;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) < 0) die("epoll_ctl signalfd");
  ev.data.fd = lsock;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, lsock, &ev) < 0) die("epoll_ctl log socket");

  unsigned long long lines = 0, bytes = 0, streams = 0;
  struct epoll_event events[256];
  int running = 1;
  while (running) {
    int n = epoll_wait(ep, events, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (fd == sfd) {
        running = 0;
      } else if (fd == lsock) {
        for (;;) {
          char name[512];
          union {
            char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
            struct cmsghdr align;
          } control;
          struct iovec iov = {.iov_base = name, .iov_len = sizeof name};
          struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
          ssize_t r = recvmsg(lsock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
          if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == EINTR) continue;
            die("recvmsg");
          }
          for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
            int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            int *fds = (int *)CMSG_DATA(c);
            for (int k = 0; k < count; k++) {
              int in = fds[k];
              fcntl(in, F_SETFL, fcntl(in, F_GETFL) | O_NONBLOCK);
              struct epoll_event sev = {.events = EPOLLIN};
              sev.data.fd = in;
              if (epoll_ctl(ep, EPOLL_CTL_ADD, in, &sev) < 0) {
                close(in);
                continue;
              }
              streams++;
            }
          }
        }
      } else {
        ssize_t r = read(fd, buf, READ_SIZE);
        if (r > 0) {
          bytes += (unsigned long long)r;
          const char *p = buf, *end = buf + r;
          while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
            lines++;
            p++;
          }
        } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
          epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
          close(fd);
        }
      }
    }
  }
  fprintf(stderr, "lines %llu bytes %llu streams %llu\n", lines, bytes, streams);
  unlink(path);
  return 0;
}
