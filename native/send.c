/*
 * sendFds / sendFdsAsync: one datagram to a bound AF_UNIX SOCK_DGRAM socket,
 * the name as payload and fds as SCM_RIGHTS (the kernel duplicates them: the
 * caller keeps its own). Neither ever blocks the event loop: sendFds fails at
 * once with EAGAIN when the receiver's queue is full; sendFdsAsync then waits
 * for room (POLLOUT on a socket connected to the receiver, which reflects
 * the receiver's queue) until its deadline.
 */
#include "internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* What one send carries; checked before any fd is created. */
typedef struct send_args {
  struct sockaddr_un sa;
  socklen_t salen;
  char *path; /* malloc'd, for messages */
  void *data; /* the name */
  size_t datalen;
  int fds[MAX_FDS_PER_MSG];
  uint32_t nfds;
} send_args;

/* (path, name, fds): false with an exception pending. */
static bool get_send_args(napi_env env, const napi_value *argv, send_args *a) {
  bool isbuf = false, isarr = false;
  napi_valuetype t;
  a->path = NULL;
  /* Everything is checked before the path so that no fd is ever created for
   * a call that is going to throw anyway. */
  if (napi_typeof(env, argv[0], &t) == napi_ok && t != napi_string) {
    throw_type(env, "The \"%s\" argument must be of type string", "path");
    return false;
  }
  if (napi_is_buffer(env, argv[1], &isbuf) != napi_ok || !isbuf) {
    throw_type(env, "The \"%s\" argument must be a Buffer", "name");
    return false;
  }
  if (napi_get_buffer_info(env, argv[1], &a->data, &a->datalen) != napi_ok) {
    ensure_exception(env);
    return false;
  }
  if (napi_is_array(env, argv[2], &isarr) != napi_ok || !isarr) {
    throw_type(env, "The \"%s\" argument must be an array of integers", "fds");
    return false;
  }
  if (napi_get_array_length(env, argv[2], &a->nfds) != napi_ok) {
    ensure_exception(env);
    return false;
  }
  if (a->nfds > MAX_FDS_PER_MSG) {
    throw_range(env, "fds.length", 0, MAX_FDS_PER_MSG);
    return false;
  }
  for (uint32_t i = 0; i < a->nfds; i++) {
    napi_value el;
    if (napi_get_element(env, argv[2], i, &el) != napi_ok) {
      ensure_exception(env);
      return false;
    }
    if (!get_fd(env, el, "fds[i]", &a->fds[i])) return false;
  }
  return get_unix_addr(env, argv[0], "sendmsg", &a->sa, &a->salen, &a->path);
}

/* One non-blocking attempt on s (to a->sa unless s is connected): 0 or an errno. */
static int send_now(int s, const send_args *a, bool connected) {
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * MAX_FDS_PER_MSG)];
  } ctrl;
  struct iovec iov = {.iov_base = a->data, .iov_len = a->datalen};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  if (!connected) {
    msg.msg_name = (void *)&a->sa;
    msg.msg_namelen = a->salen;
  }
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (a->nfds > 0) {
    memset(&ctrl, 0, sizeof ctrl);
    msg.msg_control = ctrl.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * a->nfds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * a->nfds);
    memcpy(CMSG_DATA(c), a->fds, sizeof(int) * a->nfds);
  }
  ssize_t r;
  do {
    r = sendmsg(s, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (r < 0 && errno == EINTR);
  return r < 0 ? errno : 0;
}

/* sendFds(path, name, fds): fails at once with EAGAIN if the receiver's queue is full. */
static napi_value js_send_fds(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  send_args a;
  if (!get_args(env, info, 3, argv, NULL) || !get_send_args(env, argv, &a)) return NULL;
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    throw_sys(env, errno, "socket", NULL, false);
  } else {
    int e = send_now(s, &a, false);
    close(s);
    if (e != 0) throw_sys(env, e, "sendmsg", a.path, true);
  }
  free(a.path);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* sendFdsAsync: a send waiting for room in the receiver's queue             */

/*
 * A pending send owns a socket connected to the receiver, copies of the name
 * and of the fds (so that the caller may close its own at once), and two
 * handles: a poll for POLLOUT and the deadline. Everything it owns is closed
 * once it settles, or when the environment is torn down before it does.
 */
typedef struct send_op {
  life life; /* first */
  uv_poll_t poll;
  uv_timer_t timer;
  int sock;
  send_args args; /* data, path and fds are the op's own */
  napi_deferred deferred;
} send_op;

static void op_handle_closed(uv_handle_t *h) {
  send_op *op = h->data;
  life_handle_closed(&op->life);
}

static void op_stop(life *l) {
  send_op *op = (send_op *)l;
  /* A handle's data is set once it is initialised. */
  if (op->poll.data != NULL) uv_close((uv_handle_t *)&op->poll, op_handle_closed);
  if (op->timer.data != NULL) uv_close((uv_handle_t *)&op->timer, op_handle_closed);
}

static void op_destroy(life *l) {
  send_op *op = (send_op *)l;
  if (op->sock >= 0) close(op->sock);
  close_fds(op->args.fds, op->args.nfds);
  free(op->args.data);
  free(op->args.path);
  free(op);
}

static const life_ops op_ops = {op_stop, NULL, op_destroy};

/* Resolves (err 0) or rejects the promise. */
static void settle(napi_env env, napi_deferred deferred, int err, const char *syscall, const char *path) {
  napi_value v;
  if (err == 0) {
    if (napi_get_undefined(env, &v) == napi_ok) napi_resolve_deferred(env, deferred, v);
    return;
  }
  v = sys_error(env, err, syscall, path, true);
  if (v != NULL || napi_get_and_clear_last_exception(env, &v) == napi_ok)
    napi_reject_deferred(env, deferred, v);
}

/* From the event loop: settles in a callback scope (so that promise reactions run), then closes. */
static void op_finish(send_op *op, int err) {
  napi_env env = op->life.env;
  napi_handle_scope scope;
  napi_callback_scope cscope;
  napi_value resource;
  if (napi_open_handle_scope(env, &scope) == napi_ok) {
    if (napi_create_object(env, &resource) == napi_ok &&
        napi_open_callback_scope(env, resource, op->life.async_ctx, &cscope) == napi_ok) {
      settle(env, op->deferred, err, "sendmsg", op->args.path);
      napi_close_callback_scope(env, cscope);
    }
    napi_close_handle_scope(env, scope);
  }
  life_close(&op->life);
}

static void op_on_writable(uv_poll_t *h, int status, int events) {
  (void)events;
  send_op *op = h->data;
  if (op->life.state != LIFE_OPEN) return;
  int err = send_now(op->sock, &op->args, true);
  if (err == EAGAIN && status < 0) {
    /* libuv stopped the handle on POLLERR; the send says what the error was, or
     * there is room again later. */
    int rc = uv_poll_start(&op->poll, UV_WRITABLE, op_on_writable);
    if (rc < 0) err = -rc;
  }
  if (err != EAGAIN) op_finish(op, err);
}

static void op_on_deadline(uv_timer_t *h) {
  send_op *op = h->data;
  if (op->life.state == LIFE_OPEN) op_finish(op, EAGAIN);
}

/*
 * Takes over s and a->path and waits. Returns the promise, or NULL with an
 * exception pending (then the caller still owns s and a->path).
 */
static napi_value start_waiting(napi_env env, int s, send_args *a, int64_t timeout_ms) {
  uv_loop_t *loop;
  napi_value promise;
  send_op *op = calloc(1, sizeof *op);
  if (op == NULL) {
    throw_sys(env, ENOMEM, "malloc", NULL, false);
    return NULL;
  }
  op->sock = -1;
  op->args.nfds = 0;
  op->args.data = malloc(a->datalen > 0 ? a->datalen : 1);
  for (uint32_t i = 0; i < a->nfds; i++) {
    int fd = fcntl(a->fds[i], F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
      int e = errno;
      op_destroy(&op->life);
      throw_sys_fd(env, e, "fcntl", a->fds[i]);
      return NULL;
    }
    op->args.fds[op->args.nfds++] = fd;
  }
  if (op->args.data == NULL) {
    op_destroy(&op->life);
    throw_sys(env, ENOMEM, "malloc", NULL, false);
    return NULL;
  }
  if (napi_get_uv_event_loop(env, &loop) != napi_ok ||
      !life_start(&op->life, env, &op_ops, NULL, "memlog:sendFdsAsync")) {
    ensure_exception(env);
    op_destroy(&op->life);
    return NULL;
  }
  /* From here on the op is closed, not destroyed, on failure: life frees it. */
  uv_timer_init(loop, &op->timer);
  op->timer.data = op;
  life_handle_opened(&op->life);
  const char *failed = "uv_poll_init";
  int rc = uv_poll_init_socket(loop, &op->poll, s);
  if (rc == 0) {
    op->poll.data = op;
    life_handle_opened(&op->life);
    failed = "uv_poll_start";
    rc = uv_poll_start(&op->poll, UV_WRITABLE, op_on_writable);
  }
  if (rc < 0) {
    life_close(&op->life);
    throw_sys_fd(env, -rc, failed, s);
    return NULL;
  }
  if (napi_create_promise(env, &op->deferred, &promise) != napi_ok) {
    ensure_exception(env);
    life_close(&op->life);
    return NULL;
  }
  uv_timer_start(&op->timer, op_on_deadline, (uint64_t)timeout_ms, 0);
  memcpy(&op->args.sa, &a->sa, sizeof a->sa);
  op->args.salen = a->salen;
  memcpy(op->args.data, a->data, a->datalen);
  op->args.datalen = a->datalen;
  op->args.path = a->path;
  op->sock = s;
  return promise;
}

/* sendFdsAsync(path, name, fds, timeoutMs): a promise, settled when sent or at the deadline (EAGAIN). */
static napi_value js_send_fds_async(napi_env env, napi_callback_info info) {
  napi_value argv[4], promise;
  napi_deferred deferred;
  send_args a;
  int64_t timeout_ms;
  if (!get_args(env, info, 4, argv, NULL) ||
      !get_int(env, argv[3], "timeoutMs", 0, INT32_MAX, &timeout_ms) ||
      !get_send_args(env, argv, &a))
    return NULL;

  const char *syscall = "socket";
  int err = 0;
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s < 0) {
    err = errno;
  } else if (connect(s, (struct sockaddr *)&a.sa, a.salen) < 0) {
    err = errno;
    syscall = "connect";
  } else {
    err = send_now(s, &a, true);
    syscall = "sendmsg";
  }
  if (err == EAGAIN && timeout_ms > 0) {
    promise = start_waiting(env, s, &a, timeout_ms);
    if (promise != NULL) return promise; /* the op owns s and a.path now */
  } else if (napi_create_promise(env, &deferred, &promise) == napi_ok) {
    settle(env, deferred, err, syscall, a.path);
  } else {
    ensure_exception(env);
    promise = NULL;
  }
  if (s >= 0) close(s);
  free(a.path);
  return promise;
}

bool define_send(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"sendFds", NULL, js_send_fds, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendFdsAsync", NULL, js_send_fds_async, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns) == napi_ok;
}
