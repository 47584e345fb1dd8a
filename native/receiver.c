/*
 * DgramReceiver: datagrams (a name and SCM_RIGHTS fds) received on a bound
 * AF_UNIX SOCK_DGRAM socket, driven by the event loop, handed to JS one by
 * one. A receive error that can only get worse (the fd is no longer a socket,
 * say) stops it and is reported to onError, or else raised as an uncaught
 * exception: the daemon must never go deaf without a word.
 */
#include "internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_NAME_LIMIT 65536
#define DGRAMS_PER_ROUND 64 /* fairness towards the rest of the event loop */

/* Must match DGRAM_NAME_TRUNCATED / DGRAM_FDS_TRUNCATED in src/native.ts. */
#define FLAG_NAME_TRUNCATED 1
#define FLAG_FDS_TRUNCATED 2

/* Newer kernels can attach a pidfd; older libc headers lack the names. */
#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04
#endif
#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif

typedef struct receiver {
  polled p; /* first: what the JS object wraps */
  size_t max_name;
  char *name_buf;
  void *ctrl_buf; /* malloc'd, so suitably aligned for struct cmsghdr */
  size_t ctrl_len;
  int *fds;
  size_t fds_cap;
  napi_ref on_datagram, on_error; /* on_error may be NULL */
} receiver;

/* ------------------------------------------------------------------------ */
/* Lifetime (see life in internal.h)                                         */

static void receiver_stop(life *l) {
  polled_stop(&((receiver *)l)->p);
}

static void receiver_release(life *l) {
  receiver *r = (receiver *)l;
  if (r->on_datagram != NULL) napi_delete_reference(l->env, r->on_datagram);
  if (r->on_error != NULL) napi_delete_reference(l->env, r->on_error);
  r->on_datagram = r->on_error = NULL;
}

static void receiver_destroy(life *l) {
  receiver *r = (receiver *)l;
  free(r->name_buf);
  free(r->ctrl_buf);
  free(r->fds);
  free(r);
}

static const life_ops receiver_ops = {receiver_stop, receiver_release, receiver_destroy};

/* ------------------------------------------------------------------------ */
/* Receiving                                                                 */

/* Collects up to cap SCM_RIGHTS fds into fds (closing the rest, and any other
 * fd-carrying cmsg) and the sender's credentials into from; returns how many
 * were collected. Shared with batch_receiver.c. */
size_t dgram_take_cmsgs(struct msghdr *msg, int *fds, size_t cap, sender *from) {
  size_t count = 0;
  unsigned char *end = (unsigned char *)msg->msg_control + msg->msg_controllen;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_len < CMSG_LEN(0)) continue;
    if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(struct ucred)) &&
        CMSG_DATA(c) + sizeof(struct ucred) <= end) {
      memcpy(&from->cred, CMSG_DATA(c), sizeof from->cred);
      from->known = true;
      continue;
    }
    if (c->cmsg_type != SCM_RIGHTS && c->cmsg_type != SCM_PIDFD) continue;
    unsigned char *p = CMSG_DATA(c);
    size_t bytes = c->cmsg_len - CMSG_LEN(0);
    if (p > end) continue;
    if (bytes > (size_t)(end - p)) bytes = (size_t)(end - p); /* clamp truncated cmsg */
    for (size_t off = 0; off + sizeof(int) <= bytes; off += sizeof(int)) {
      int fd;
      memcpy(&fd, p + off, sizeof fd);
      if (fd < 0) continue;
      if (c->cmsg_type == SCM_RIGHTS && count < cap)
        fds[count++] = fd;
      else
        close(fd);
    }
  }
  /* SCM_CREDENTIALS / SCM_SECURITY carry no fds: nothing to release. */
  return count;
}

/* Hands one datagram to JS. Returns false to end this poll round. */
static bool deliver(receiver *r, size_t len, int flags, size_t nfds, const sender *from) {
  napi_env env = r->p.life.env;
  napi_handle_scope scope;
  napi_value cb = NULL, argv[4];
  bool ok = true;

  if (napi_open_handle_scope(env, &scope) != napi_ok) {
    close_fds(r->fds, nfds);
    return false;
  }
  ok = napi_get_reference_value(env, r->on_datagram, &cb) == napi_ok && cb != NULL &&
       napi_create_buffer_copy(env, len, r->name_buf, NULL, &argv[0]) == napi_ok &&
       napi_create_array_with_length(env, nfds, &argv[1]) == napi_ok &&
       napi_create_int32(env, flags, &argv[2]) == napi_ok;
  /* The sender's [pid, uid, gid], or undefined if the kernel did not say. */
  if (ok && from->known) {
    napi_value v;
    ok = napi_create_array_with_length(env, 3, &argv[3]) == napi_ok &&
         napi_create_int32(env, (int32_t)from->cred.pid, &v) == napi_ok && napi_set_element(env, argv[3], 0, v) == napi_ok &&
         napi_create_uint32(env, (uint32_t)from->cred.uid, &v) == napi_ok && napi_set_element(env, argv[3], 1, v) == napi_ok &&
         napi_create_uint32(env, (uint32_t)from->cred.gid, &v) == napi_ok && napi_set_element(env, argv[3], 2, v) == napi_ok;
  } else if (ok) {
    ok = napi_get_undefined(env, &argv[3]) == napi_ok;
  }
  for (size_t i = 0; ok && i < nfds; i++) {
    napi_value v;
    ok = napi_create_int32(env, r->fds[i], &v) == napi_ok &&
         napi_set_element(env, argv[1], (uint32_t)i, v) == napi_ok;
  }
  if (!ok) {
    close_fds(r->fds, nfds); /* JS never saw them */
    surface_exception(env);
    napi_close_handle_scope(env, scope);
    return false;
  }

  napi_status st = life_call(&r->p.life, cb, 4, argv);
  if (st != napi_ok) {
    /* With an exception pending the callback ran (and threw): the fds are
     * JS's now. Without one, JS could not be entered: they are still ours. */
    if (!surface_exception(env)) close_fds(r->fds, nfds);
  }
  napi_close_handle_scope(env, scope);
  return st == napi_ok;
}

/*
 * Stops receiving for good and tells JS: onError(error), or an uncaught
 * exception if nobody listens. The fd stays open until close().
 */
static void fail(receiver *r, int err, const char *syscall) {
  polled_fail(&r->p, r->on_error, err, syscall, "memlog DgramReceiver");
}

bool dgram_recv_error_is_fatal(int e) {
  return e == EBADF || e == ENOTSOCK || e == EFAULT || e == EINVAL || e == ENOTCONN ||
         e == EOPNOTSUPP;
}

/* After POLLERR: 0 if the socket merely had a pending error (now cleared), else why not. */
int dgram_clear_error(int fd) {
  int soerr = 0;
  socklen_t sl = sizeof soerr;
  if (fcntl(fd, F_GETFD) < 0) return errno;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) return errno;
  return 0;
}

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)events;
  receiver *r = h->data;
  if (r->p.life.state != LIFE_OPEN) return;
  if (status < 0 && !polled_recover(&r->p, on_poll, r->on_error, "memlog DgramReceiver")) return;

  for (int i = 0; i < DGRAMS_PER_ROUND && r->p.life.state == LIFE_OPEN; i++) {
    struct iovec iov = {.iov_base = r->name_buf, .iov_len = r->max_name};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = r->ctrl_buf;
    msg.msg_controllen = r->ctrl_len;

    ssize_t n = recvmsg(r->p.fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) {
      int e = errno;
      if (e == EINTR || e == ECONNREFUSED || e == ECONNRESET || e == ETIMEDOUT) continue;
      if (dgram_recv_error_is_fatal(e)) fail(r, e, "recvmsg");
      break; /* EAGAIN, or something to retry on the next round */
    }

    sender from = {.known = false};
    size_t nfds = dgram_take_cmsgs(&msg, r->fds, r->fds_cap, &from);
    int flags = 0;
    if (msg.msg_flags & MSG_TRUNC) flags |= FLAG_NAME_TRUNCATED;
    if (msg.msg_flags & MSG_CTRUNC) {
      close_fds(r->fds, nfds);
      nfds = 0;
      flags |= FLAG_FDS_TRUNCATED;
    }
    size_t len = (size_t)n > r->max_name ? r->max_name : (size_t)n;
    if (!deliver(r, len, flags, nfds, &from)) break;
  }
}

/* ------------------------------------------------------------------------ */
/* JS methods                                                                */

/* The socket options and the size of the control buffer they need; false with an exception pending. */
bool dgram_prepare_socket(napi_env env, int fd, int64_t max_fds, size_t *ctrl_len) {
  int type = 0;
  socklen_t sl = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &sl) < 0) {
    throw_sys_fd(env, errno, "getsockopt", fd);
    return false;
  }
  if (type != SOCK_DGRAM) {
    throw_sys_fd(env, EPROTOTYPE, "getsockopt", fd);
    return false;
  }
  int fl = fcntl(fd, F_GETFL);
  int fdfl = fl < 0 ? -1 : fcntl(fd, F_GETFD);
  if (fl < 0 || fdfl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
      fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0) {
    throw_sys_fd(env, errno, "fcntl", fd);
    return false;
  }
  /* Who sent each fd: the kernel attaches the sender's pid/uid/gid. */
  int passcred = 1;
  setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &passcred, sizeof passcred);
  /* Room for credentials/pidfd cmsgs only if the socket asks for them, so
   * that maxFds stays an exact limit otherwise. */
  *ctrl_len = CMSG_SPACE(sizeof(int) * (size_t)max_fds);
  int opt = 0;
  sl = sizeof opt;
  if (getsockopt(fd, SOL_SOCKET, SO_PASSCRED, &opt, &sl) == 0 && opt)
    *ctrl_len += CMSG_SPACE(sizeof(struct ucred));
  opt = 0;
  sl = sizeof opt;
  if (getsockopt(fd, SOL_SOCKET, SO_PASSPIDFD, &opt, &sl) == 0 && opt)
    *ctrl_len += CMSG_SPACE(sizeof(int));
  return true;
}

/* new DgramReceiver(fd, maxName, onDatagram, maxFds?, onError?) */
static napi_value receiver_ctor(napi_env env, napi_callback_info info) {
  napi_value argv[5], self, new_target;
  napi_valuetype t;
  int fd;
  int64_t max_name, max_fds = MAX_FDS_PER_MSG;
  bool present;
  size_t ctrl_len;

  if (!get_args(env, info, 5, argv, &self)) return NULL;
  if (napi_get_new_target(env, info, &new_target) != napi_ok || new_target == NULL) {
    napi_throw_type_error(env, NULL, "Class constructor DgramReceiver cannot be invoked without 'new'");
    return NULL;
  }
  if (!get_fd(env, argv[0], "fd", &fd)) return NULL;
  if (!get_int(env, argv[1], "maxName", 1, MAX_NAME_LIMIT, &max_name)) return NULL;
  if (!get_function(env, argv[2], "onDatagram", false, &present)) return NULL;
  if (napi_typeof(env, argv[3], &t) != napi_ok) {
    ensure_exception(env);
    return NULL;
  }
  if (t != napi_undefined && !get_int(env, argv[3], "maxFds", 1, MAX_FDS_PER_MSG, &max_fds))
    return NULL;
  bool has_on_error = false;
  if (!get_function(env, argv[4], "onError", true, &has_on_error)) return NULL;
  if (!dgram_prepare_socket(env, fd, max_fds, &ctrl_len)) return NULL;

  receiver *r = calloc(1, sizeof *r);
  if (r == NULL) {
    throw_sys(env, ENOMEM, "malloc", NULL, false);
    return NULL;
  }
  r->p.fd = -1; /* the caller's until the handle is started */
  r->max_name = (size_t)max_name;
  r->ctrl_len = ctrl_len;
  r->fds_cap = ctrl_len / sizeof(int);
  r->name_buf = malloc(r->max_name);
  r->ctrl_buf = malloc(ctrl_len);
  r->fds = malloc(r->fds_cap * sizeof(int));
  if (r->name_buf == NULL || r->ctrl_buf == NULL || r->fds == NULL) {
    receiver_destroy(&r->p.life);
    throw_sys(env, ENOMEM, "malloc", NULL, false);
    return NULL;
  }
  if (!life_start(&r->p.life, env, &receiver_ops, self, "memlog:DgramReceiver")) {
    receiver_destroy(&r->p.life);
    return NULL;
  }
  /* From here on a failure closes the object; its finalizer frees it. */
  if (napi_create_reference(env, argv[2], 1, &r->on_datagram) != napi_ok ||
      (has_on_error && napi_create_reference(env, argv[4], 1, &r->on_error) != napi_ok)) {
    ensure_exception(env);
    life_close(&r->p.life);
    return NULL;
  }
  return polled_start(env, &r->p, fd, on_poll) ? self : NULL;
}

bool define_receiver(napi_env env, napi_value exports) {
  return export_polled_class(env, exports, "DgramReceiver", receiver_ctor);
}
