/*
 * memlog_native: the bits of memlogd that Node cannot do by itself, chiefly
 * passing file descriptors over AF_UNIX datagram sockets (SCM_RIGHTS).
 *
 * Conventions: every fd we create is close-on-exec; every error path closes
 * whatever it created; errors are thrown shaped like Node's system errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#define MAX_FDS_PER_MSG 253 /* SCM_MAX_FD in the kernel */
#define MAX_NAME_LIMIT 65536
#define DGRAMS_PER_ROUND 64 /* fairness towards the rest of the event loop */
#define SEND_TIMEOUT_SEC 2

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

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

static void ensure_exception(napi_env env) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && !pending) {
    const napi_extended_error_info *info = NULL;
    const char *msg = "memlog_native: N-API call failed";
    if (napi_get_last_error_info(env, &info) == napi_ok && info != NULL &&
        info->error_message != NULL)
      msg = info->error_message;
    napi_throw_error(env, NULL, msg);
  }
}

static bool set_prop_str(napi_env env, napi_value obj, const char *key,
                         const char *val) {
  napi_value v;
  return napi_create_string_utf8(env, val, NAPI_AUTO_LENGTH, &v) == napi_ok &&
         napi_set_named_property(env, obj, key, v) == napi_ok;
}

/*
 * Throws Error("<syscall> <what>: <strerror>") with code/errno/syscall (and
 * path when `is_path`), like Node's system errors. errno is negative, as in
 * Node (util.getSystemErrorName(err.errno) works).
 */
static void throw_sys(napi_env env, int err, const char *syscall,
                      const char *what, bool is_path) {
  char errbuf[256], namebuf[64];
  const char *desc = strerror_r(err, errbuf, sizeof errbuf);
  uv_err_name_r(-err, namebuf, sizeof namebuf);

  int len = what ? snprintf(NULL, 0, "%s %s: %s", syscall, what, desc)
                 : snprintf(NULL, 0, "%s: %s", syscall, desc);
  char *msg = len >= 0 ? malloc((size_t)len + 1) : NULL;
  if (msg == NULL) {
    napi_throw_error(env, namebuf, desc);
    return;
  }
  if (what)
    snprintf(msg, (size_t)len + 1, "%s %s: %s", syscall, what, desc);
  else
    snprintf(msg, (size_t)len + 1, "%s: %s", syscall, desc);

  napi_value jsmsg, error, num;
  bool ok = napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &jsmsg) == napi_ok &&
            napi_create_error(env, NULL, jsmsg, &error) == napi_ok &&
            set_prop_str(env, error, "code", namebuf) &&
            napi_create_int32(env, -err, &num) == napi_ok &&
            napi_set_named_property(env, error, "errno", num) == napi_ok &&
            set_prop_str(env, error, "syscall", syscall) &&
            (!is_path || set_prop_str(env, error, "path", what));
  free(msg);
  if (ok)
    napi_throw(env, error);
  else
    ensure_exception(env);
}

static void throw_sys_fd(napi_env env, int err, const char *syscall, int fd) {
  char what[32];
  snprintf(what, sizeof what, "fd %d", fd);
  throw_sys(env, err, syscall, what, false);
}

static void throw_type(napi_env env, const char *fmt, const char *name) {
  char msg[160];
  snprintf(msg, sizeof msg, fmt, name);
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
}

static void throw_range(napi_env env, const char *name, int64_t lo, int64_t hi) {
  char msg[200];
  snprintf(msg, sizeof msg,
           "The value of \"%s\" is out of range. It must be an integer >= %lld and <= %lld",
           name, (long long)lo, (long long)hi);
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
}

/* ------------------------------------------------------------------------ */
/* Argument helpers (each returns false with an exception pending)          */

static bool get_int(napi_env env, napi_value v, const char *name, int64_t lo,
                    int64_t hi, int64_t *out) {
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok) {
    ensure_exception(env);
    return false;
  }
  if (t != napi_number) {
    throw_type(env, "The \"%s\" argument must be of type number", name);
    return false;
  }
  if (napi_get_value_double(env, v, &d) != napi_ok) {
    ensure_exception(env);
    return false;
  }
  if (!isfinite(d) || trunc(d) != d || d < (double)lo || d > (double)hi) {
    throw_range(env, name, lo, hi);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

static bool get_fd(napi_env env, napi_value v, const char *name, int *fd) {
  int64_t x;
  if (!get_int(env, v, name, 0, INT32_MAX, &x)) return false;
  *fd = (int)x;
  return true;
}

/*
 * Converts a JS path string to a sockaddr_un. *path_out (malloc'd, for error
 * messages) is set on success and must be freed by the caller.
 */
static bool get_unix_addr(napi_env env, napi_value v, const char *syscall,
                          struct sockaddr_un *sa, socklen_t *salen,
                          char **path_out) {
  napi_valuetype t;
  size_t len = 0;
  char *path;
  *path_out = NULL;
  if (napi_typeof(env, v, &t) != napi_ok) {
    ensure_exception(env);
    return false;
  }
  if (t != napi_string) {
    throw_type(env, "The \"%s\" argument must be of type string", "path");
    return false;
  }
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok ||
      (path = malloc(len + 1)) == NULL) {
    ensure_exception(env);
    return false;
  }
  if (napi_get_value_string_utf8(env, v, path, len + 1, &len) != napi_ok) {
    free(path);
    ensure_exception(env);
    return false;
  }
  /* An embedded NUL would silently shorten the path (or reach the abstract
   * namespace if leading), so refuse it, as Node's fs does. */
  if (memchr(path, '\0', len) != NULL) {
    free(path);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE",
                          "The argument 'path' must be a string without null bytes");
    return false;
  }
  /* An empty path would mean autobind/abstract socket: not a filesystem path. */
  if (len == 0) {
    throw_sys(env, ENOENT, syscall, path, true);
    free(path);
    return false;
  }
  if (len >= sizeof sa->sun_path) {
    throw_sys(env, ENAMETOOLONG, syscall, path, true);
    free(path);
    return false;
  }
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  memcpy(sa->sun_path, path, len + 1);
  *salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
  *path_out = path;
  return true;
}

static bool get_args(napi_env env, napi_callback_info info, size_t want,
                     napi_value *argv, napi_value *self) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, self, NULL) != napi_ok) {
    ensure_exception(env);
    return false;
  }
  /* Missing arguments read as undefined (N-API fills them in). */
  return true;
}

static void close_fds(const int *fds, size_t n) {
  for (size_t i = 0; i < n; i++) close(fds[i]);
}

/* ------------------------------------------------------------------------ */
/* socketpair / bindDgram / bindListen                                       */

static napi_value js_socketpair(napi_env env, napi_callback_info info) {
  (void)info;
  int sv[2];
  napi_value arr, a, b;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
    throw_sys(env, errno, "socketpair", NULL, false);
    return NULL;
  }
  if (napi_create_array_with_length(env, 2, &arr) != napi_ok ||
      napi_create_int32(env, sv[0], &a) != napi_ok ||
      napi_create_int32(env, sv[1], &b) != napi_ok ||
      napi_set_element(env, arr, 0, a) != napi_ok ||
      napi_set_element(env, arr, 1, b) != napi_ok) {
    close_fds(sv, 2);
    ensure_exception(env);
    return NULL;
  }
  return arr;
}

static napi_value bind_common(napi_env env, napi_value pathv, int type,
                              bool do_listen, int backlog) {
  struct sockaddr_un sa;
  socklen_t salen;
  char *path;
  napi_value result;
  if (!get_unix_addr(env, pathv, "bind", &sa, &salen, &path)) return NULL;

  int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_sys(env, errno, "socket", NULL, false);
    free(path);
    return NULL;
  }
  if (bind(fd, (struct sockaddr *)&sa, salen) < 0) {
    int e = errno;
    close(fd);
    throw_sys(env, e, "bind", path, true);
    free(path);
    return NULL;
  }
  if (do_listen && listen(fd, backlog) < 0) {
    int e = errno;
    close(fd);
    throw_sys(env, e, "listen", path, true);
    free(path);
    return NULL;
  }
  free(path);
  if (napi_create_int32(env, fd, &result) != napi_ok) {
    close(fd);
    ensure_exception(env);
    return NULL;
  }
  return result;
}

static napi_value js_bind_dgram(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv, NULL)) return NULL;
  return bind_common(env, argv[0], SOCK_DGRAM | SOCK_NONBLOCK, false, 0);
}

static napi_value js_bind_listen(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t backlog;
  if (!get_args(env, info, 2, argv, NULL)) return NULL;
  /* Check the path first so its TypeError wins over the backlog's. */
  napi_valuetype t;
  if (napi_typeof(env, argv[0], &t) == napi_ok && t != napi_string) {
    throw_type(env, "The \"%s\" argument must be of type string", "path");
    return NULL;
  }
  if (!get_int(env, argv[1], "backlog", 0, INT32_MAX, &backlog)) return NULL;
  return bind_common(env, argv[0], SOCK_STREAM, true, (int)backlog);
}

/* ------------------------------------------------------------------------ */
/* mkfifo: Node has no API for it; the init makes one per service stream.    */

static napi_value js_mkfifo(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  struct sockaddr_un sa;
  socklen_t salen;
  char *path;
  int64_t mode;
  if (!get_args(env, info, 2, argv, NULL)) return NULL;
  /* Same path checks as for sockets (no NUL, not empty, bounded length). */
  if (!get_unix_addr(env, argv[0], "mkfifo", &sa, &salen, &path)) return NULL;
  if (!get_int(env, argv[1], "mode", 0, 0777, &mode)) {
    free(path);
    return NULL;
  }
  if (mkfifo(path, (mode_t)mode) < 0) {
    int e = errno;
    throw_sys(env, e, "mkfifo", path, true);
    free(path);
    return NULL;
  }
  free(path);
  if (napi_get_undefined(env, &result) != napi_ok) return NULL;
  return result;
}

/* ------------------------------------------------------------------------ */
/* sendFds                                                                   */

static napi_value js_send_fds(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  struct sockaddr_un sa;
  socklen_t salen;
  char *path = NULL;
  void *data = NULL;
  size_t datalen = 0;
  bool isbuf = false, isarr = false;
  uint32_t nfds = 0;
  int fds[MAX_FDS_PER_MSG];
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * MAX_FDS_PER_MSG)];
  } ctrl;

  if (!get_args(env, info, 3, argv, NULL)) return NULL;

  /* Validate everything before touching the path so no fd is ever created
   * for a call that is going to throw anyway. */
  napi_valuetype t;
  if (napi_typeof(env, argv[0], &t) == napi_ok && t != napi_string) {
    throw_type(env, "The \"%s\" argument must be of type string", "path");
    return NULL;
  }
  if (napi_is_buffer(env, argv[1], &isbuf) != napi_ok || !isbuf) {
    throw_type(env, "The \"%s\" argument must be a Buffer", "name");
    return NULL;
  }
  if (napi_get_buffer_info(env, argv[1], &data, &datalen) != napi_ok) {
    ensure_exception(env);
    return NULL;
  }
  if (napi_is_array(env, argv[2], &isarr) != napi_ok || !isarr) {
    throw_type(env, "The \"%s\" argument must be an array of integers", "fds");
    return NULL;
  }
  if (napi_get_array_length(env, argv[2], &nfds) != napi_ok) {
    ensure_exception(env);
    return NULL;
  }
  if (nfds > MAX_FDS_PER_MSG) {
    throw_range(env, "fds.length", 0, MAX_FDS_PER_MSG);
    return NULL;
  }
  for (uint32_t i = 0; i < nfds; i++) {
    napi_value el;
    if (napi_get_element(env, argv[2], i, &el) != napi_ok) {
      ensure_exception(env);
      return NULL;
    }
    if (!get_fd(env, el, "fds[i]", &fds[i])) return NULL;
  }
  if (!get_unix_addr(env, argv[0], "sendmsg", &sa, &salen, &path)) return NULL;

  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    throw_sys(env, errno, "socket", NULL, false);
    free(path);
    return NULL;
  }
  /* Bounded block: a full receiver queue must not hang the caller forever. */
  struct timeval tv = {.tv_sec = SEND_TIMEOUT_SEC, .tv_usec = 0};
  if (setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) {
    int e = errno;
    close(s);
    throw_sys(env, e, "setsockopt", NULL, false);
    free(path);
    return NULL;
  }

  struct iovec iov = {.iov_base = data, .iov_len = datalen};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_name = &sa;
  msg.msg_namelen = salen;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (nfds > 0) {
    memset(&ctrl, 0, sizeof ctrl);
    msg.msg_control = ctrl.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }

  ssize_t r;
  do {
    r = sendmsg(s, &msg, MSG_NOSIGNAL);
  } while (r < 0 && errno == EINTR);
  int e = errno;
  close(s);
  if (r < 0) throw_sys(env, e, "sendmsg", path, true);
  free(path);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* fdInfo / clockRealtime                                                    */

static napi_value js_fd_info(napi_env env, napi_callback_info info) {
  napi_value argv[1], obj, rv, wv;
  int fd;
  struct stat st;
  if (!get_args(env, info, 1, argv, NULL)) return NULL;
  if (!get_fd(env, argv[0], "fd", &fd)) return NULL;
  if (fstat(fd, &st) < 0) {
    throw_sys_fd(env, errno, "fstat", fd);
    return NULL;
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) {
    throw_sys_fd(env, errno, "fcntl", fd);
    return NULL;
  }
  const char *kind = "other";
  switch (st.st_mode & S_IFMT) {
    case S_IFIFO: kind = "fifo"; break;
    case S_IFREG: kind = "file"; break;
    case S_IFDIR: kind = "dir"; break;
    case S_IFCHR: kind = "chr"; break;
    case S_IFBLK: kind = "blk"; break;
    case S_IFSOCK: {
      int type = 0;
      socklen_t sl = sizeof type;
      kind = "socket-other"; /* also if getsockopt fails, e.g. on an O_PATH fd */
      if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &sl) == 0) {
        if (type == SOCK_STREAM) kind = "socket-stream";
        else if (type == SOCK_DGRAM) kind = "socket-dgram";
      }
      break;
    }
    default: break;
  }
  int acc = fl & O_ACCMODE;
  bool opath = (fl & O_PATH) != 0; /* O_PATH fds cannot do I/O at all */
  bool readable = !opath && (acc == O_RDONLY || acc == O_RDWR);
  bool writable = !opath && (acc == O_WRONLY || acc == O_RDWR);
  if (napi_create_object(env, &obj) != napi_ok || !set_prop_str(env, obj, "kind", kind) ||
      napi_get_boolean(env, readable, &rv) != napi_ok ||
      napi_get_boolean(env, writable, &wv) != napi_ok ||
      napi_set_named_property(env, obj, "readable", rv) != napi_ok ||
      napi_set_named_property(env, obj, "writable", wv) != napi_ok) {
    ensure_exception(env);
    return NULL;
  }
  return obj;
}

static napi_value js_clock_realtime(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  bool is_ta = false;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  struct timespec ts;
  if (!get_args(env, info, 1, argv, NULL)) return NULL;
  if (napi_is_typedarray(env, argv[0], &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_float64_array || length < 2 || data == NULL) {
    throw_type(env, "The \"%s\" argument must be a Float64Array of length >= 2", "out");
    return NULL;
  }
  clock_gettime(CLOCK_REALTIME, &ts);
  double v[2] = {(double)ts.tv_sec, (double)ts.tv_nsec};
  memcpy(data, v, sizeof v);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* DgramReceiver                                                             */

/*
 * Lifetime: the struct is freed once both (a) the uv handle is closed (or was
 * never initialised) and (b) the JS wrapper no longer points at it (close()
 * removed the wrap, or the wrap finalizer ran). While open, self_ref keeps the
 * JS object alive, like an active Node handle. An async cleanup hook makes
 * environment teardown (e.g. a Worker exiting) wait for uv_close, and keeps
 * the napi_env alive until on_close runs.
 */
typedef struct receiver {
  napi_env env;
  uv_poll_t poll;
  int fd;
  bool owns_fd; /* false if the constructor failed after uv_poll_init */
  size_t max_name;
  char *name_buf;
  void *ctrl_buf; /* malloc'd, so suitably aligned for struct cmsghdr */
  size_t ctrl_len;
  int *fds;
  size_t fds_cap;
  napi_ref cb_ref;
  napi_ref self_ref;
  napi_async_context async_ctx;
  napi_async_cleanup_hook_handle hook;
  bool closing;       /* uv_close has been called */
  bool handle_closed; /* on_close ran, or the handle was never initialised */
  bool wrap_alive;    /* the JS object still wraps this struct */
  bool in_callback;   /* inside napi_make_callback */
  struct ucred cred;  /* the sender of the datagram being delivered (SO_PASSCRED) */
  bool has_cred;
} receiver;

static void free_receiver(receiver *r) {
  free(r->name_buf);
  free(r->ctrl_buf);
  free(r->fds);
  free(r);
}

static void release_js(receiver *r) {
  if (r->cb_ref != NULL) {
    napi_delete_reference(r->env, r->cb_ref);
    r->cb_ref = NULL;
  }
  if (r->self_ref != NULL) {
    napi_delete_reference(r->env, r->self_ref);
    r->self_ref = NULL;
  }
  if (r->async_ctx != NULL) {
    napi_async_destroy(r->env, r->async_ctx);
    r->async_ctx = NULL;
  }
}

static void on_close(uv_handle_t *h) {
  receiver *r = h->data;
  /* No EINTR retry: Linux releases the fd even when close reports EINTR. */
  if (r->owns_fd && r->fd >= 0) close(r->fd);
  r->fd = -1;
  if (r->hook != NULL) {
    napi_async_cleanup_hook_handle hook = r->hook;
    r->hook = NULL;
    napi_remove_async_cleanup_hook(hook);
  }
  r->handle_closed = true;
  if (!r->wrap_alive) free_receiver(r);
}

static void start_close(receiver *r) {
  if (r->closing) return;
  r->closing = true;
  uv_poll_stop(&r->poll);
  uv_close((uv_handle_t *)&r->poll, on_close);
}

static void receiver_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  receiver *r = data;
  r->wrap_alive = false;
  if (!r->closing) {
    /* Not expected (self_ref pins open receivers) but safe if it happens. */
    release_js(r);
    start_close(r);
  } else if (r->handle_closed) {
    free_receiver(r);
  }
}

static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  (void)handle;
  receiver *r = arg;
  release_js(r);
  start_close(r); /* on_close removes the hook, which completes it */
}

/* Reports a pending JS exception as uncaught; returns whether there was one. */
static bool surface_exception(napi_env env) {
  bool pending = false;
  napi_value exc;
  if (napi_is_exception_pending(env, &pending) != napi_ok || !pending) return false;
  if (napi_get_and_clear_last_exception(env, &exc) == napi_ok)
    napi_fatal_exception(env, exc);
  return true;
}

/* Collects SCM_RIGHTS fds into r->fds; closes any other fd-carrying cmsg. */
static size_t collect_fds(receiver *r, struct msghdr *msg) {
  size_t count = 0;
  unsigned char *end = (unsigned char *)msg->msg_control + msg->msg_controllen;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_len < CMSG_LEN(0)) continue;
    if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(struct ucred)) &&
        CMSG_DATA(c) + sizeof(struct ucred) <= end) {
      memcpy(&r->cred, CMSG_DATA(c), sizeof r->cred);
      r->has_cred = true;
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
      if (c->cmsg_type == SCM_RIGHTS && count < r->fds_cap)
        r->fds[count++] = fd;
      else
        close(fd);
    }
  }
  /* SCM_CREDENTIALS / SCM_SECURITY carry no fds: nothing to release. */
  return count;
}

/* Hands one datagram to JS. Returns false to end this poll round. */
static bool deliver(receiver *r, size_t len, int flags, size_t nfds) {
  napi_env env = r->env;
  napi_handle_scope scope;
  napi_value cb = NULL, recv, argv[4];
  bool ok = true;

  if (napi_open_handle_scope(env, &scope) != napi_ok) {
    close_fds(r->fds, nfds);
    return false;
  }
  ok = napi_get_reference_value(env, r->cb_ref, &cb) == napi_ok && cb != NULL &&
       napi_get_global(env, &recv) == napi_ok && /* make_callback needs an object */
       napi_create_buffer_copy(env, len, r->name_buf, NULL, &argv[0]) == napi_ok &&
       napi_create_array_with_length(env, nfds, &argv[1]) == napi_ok &&
       napi_create_int32(env, flags, &argv[2]) == napi_ok;
  /* The sender's [pid, uid, gid], or undefined if the kernel did not say. */
  if (ok && r->has_cred) {
    napi_value v;
    ok = napi_create_array_with_length(env, 3, &argv[3]) == napi_ok &&
         napi_create_int32(env, (int32_t)r->cred.pid, &v) == napi_ok && napi_set_element(env, argv[3], 0, v) == napi_ok &&
         napi_create_uint32(env, (uint32_t)r->cred.uid, &v) == napi_ok && napi_set_element(env, argv[3], 1, v) == napi_ok &&
         napi_create_uint32(env, (uint32_t)r->cred.gid, &v) == napi_ok && napi_set_element(env, argv[3], 2, v) == napi_ok;
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

  r->in_callback = true;
  napi_status st = napi_make_callback(env, r->async_ctx, recv, cb, 4, argv, NULL);
  r->in_callback = false;
  if (st != napi_ok) {
    /* With an exception pending the callback ran (and threw): the fds are
     * JS's now. Without one, JS could not be entered: they are still ours. */
    if (!surface_exception(env)) close_fds(r->fds, nfds);
  }
  if (r->closing) release_js(r); /* close() was deferred while in the callback */
  napi_close_handle_scope(env, scope);
  return st == napi_ok;
}

static bool recv_error_is_fatal(int e) {
  return e == EBADF || e == ENOTSOCK || e == EFAULT || e == EINVAL || e == ENOTCONN ||
         e == EOPNOTSUPP;
}

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)events;
  receiver *r = h->data;
  if (r->closing) return;
  if (status < 0) {
    /* libuv reports POLLERR this way and has stopped the handle. If the
     * socket merely had a pending error, clear it and keep going. */
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (fcntl(r->fd, F_GETFD) < 0 ||
        getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr == 0 ||
        uv_poll_start(&r->poll, UV_READABLE, on_poll) < 0) {
      uv_poll_stop(&r->poll);
      return;
    }
  }

  for (int i = 0; i < DGRAMS_PER_ROUND && !r->closing; i++) {
    struct iovec iov = {.iov_base = r->name_buf, .iov_len = r->max_name};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = r->ctrl_buf;
    msg.msg_controllen = r->ctrl_len;

    r->has_cred = false;
    ssize_t n = recvmsg(r->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) {
      int e = errno;
      if (e == EINTR || e == ECONNREFUSED || e == ECONNRESET || e == ETIMEDOUT) continue;
      if (recv_error_is_fatal(e)) uv_poll_stop(&r->poll);
      break; /* EAGAIN, or something to retry on the next round */
    }

    size_t nfds = collect_fds(r, &msg);
    int flags = 0;
    if (msg.msg_flags & MSG_TRUNC) flags |= FLAG_NAME_TRUNCATED;
    if (msg.msg_flags & MSG_CTRUNC) {
      close_fds(r->fds, nfds);
      nfds = 0;
      flags |= FLAG_FDS_TRUNCATED;
    }
    size_t len = (size_t)n > r->max_name ? r->max_name : (size_t)n;
    if (!deliver(r, len, flags, nfds)) break;
  }
}

/* Undoes a constructor that failed before uv_poll_init succeeded. */
static void abandon_unstarted(receiver *r, napi_value self) {
  if (r->hook != NULL) {
    napi_remove_async_cleanup_hook(r->hook);
    r->hook = NULL;
  }
  release_js(r);
  r->closing = true;
  r->handle_closed = true;
  if (r->wrap_alive) {
    if (napi_remove_wrap(r->env, self, NULL) != napi_ok) return; /* finalizer frees */
    r->wrap_alive = false;
  }
  free_receiver(r);
}

static napi_value receiver_ctor(napi_env env, napi_callback_info info) {
  napi_value argv[4], self, new_target, name;
  napi_valuetype t;
  int fd;
  int64_t max_name, max_fds = MAX_FDS_PER_MSG;
  uv_loop_t *loop;

  if (!get_args(env, info, 4, argv, &self)) return NULL;
  if (napi_get_new_target(env, info, &new_target) != napi_ok || new_target == NULL) {
    napi_throw_type_error(env, NULL, "Class constructor DgramReceiver cannot be invoked without 'new'");
    return NULL;
  }
  if (!get_fd(env, argv[0], "fd", &fd)) return NULL;
  if (!get_int(env, argv[1], "maxName", 1, MAX_NAME_LIMIT, &max_name)) return NULL;
  if (napi_typeof(env, argv[2], &t) != napi_ok || t != napi_function) {
    throw_type(env, "The \"%s\" argument must be of type function", "onDatagram");
    return NULL;
  }
  if (napi_typeof(env, argv[3], &t) != napi_ok) {
    ensure_exception(env);
    return NULL;
  }
  if (t != napi_undefined && !get_int(env, argv[3], "maxFds", 1, MAX_FDS_PER_MSG, &max_fds))
    return NULL;

  int type = 0;
  socklen_t sl = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &sl) < 0) {
    throw_sys_fd(env, errno, "getsockopt", fd);
    return NULL;
  }
  if (type != SOCK_DGRAM) {
    throw_sys_fd(env, EPROTOTYPE, "getsockopt", fd);
    return NULL;
  }
  int fl = fcntl(fd, F_GETFL);
  int fdfl = fl < 0 ? -1 : fcntl(fd, F_GETFD);
  if (fl < 0 || fdfl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
      fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0) {
    throw_sys_fd(env, errno, "fcntl", fd);
    return NULL;
  }
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    ensure_exception(env);
    return NULL;
  }

  /* Who sent each fd: the kernel attaches the sender's pid/uid/gid. */
  int passcred = 1;
  setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &passcred, sizeof passcred);
  /* Room for credentials/pidfd cmsgs only if the socket asks for them, so
   * that maxFds stays an exact limit otherwise. */
  size_t ctrl_len = CMSG_SPACE(sizeof(int) * (size_t)max_fds);
  int opt = 0;
  sl = sizeof opt;
  if (getsockopt(fd, SOL_SOCKET, SO_PASSCRED, &opt, &sl) == 0 && opt)
    ctrl_len += CMSG_SPACE(sizeof(struct ucred));
  opt = 0;
  sl = sizeof opt;
  if (getsockopt(fd, SOL_SOCKET, SO_PASSPIDFD, &opt, &sl) == 0 && opt)
    ctrl_len += CMSG_SPACE(sizeof(int));

  receiver *r = calloc(1, sizeof *r);
  if (r == NULL) {
    throw_sys(env, ENOMEM, "malloc", NULL, false);
    return NULL;
  }
  r->env = env;
  r->fd = fd;
  r->max_name = (size_t)max_name;
  r->ctrl_len = ctrl_len;
  r->fds_cap = ctrl_len / sizeof(int);
  r->name_buf = malloc(r->max_name);
  r->ctrl_buf = malloc(ctrl_len);
  r->fds = malloc(r->fds_cap * sizeof(int));
  r->handle_closed = true; /* until uv_poll_init succeeds */
  if (r->name_buf == NULL || r->ctrl_buf == NULL || r->fds == NULL) {
    free_receiver(r);
    throw_sys(env, ENOMEM, "malloc", NULL, false);
    return NULL;
  }

  if (napi_create_reference(env, argv[2], 1, &r->cb_ref) != napi_ok ||
      napi_create_string_utf8(env, "memlog:DgramReceiver", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, self, name, &r->async_ctx) != napi_ok) {
    abandon_unstarted(r, self);
    ensure_exception(env);
    return NULL;
  }
  if (napi_wrap(env, self, r, receiver_finalize, NULL, NULL) != napi_ok) {
    abandon_unstarted(r, self);
    ensure_exception(env);
    return NULL;
  }
  r->wrap_alive = true;
  if (napi_create_reference(env, self, 1, &r->self_ref) != napi_ok ||
      napi_add_async_cleanup_hook(env, on_env_cleanup, r, &r->hook) != napi_ok) {
    abandon_unstarted(r, self);
    ensure_exception(env);
    return NULL;
  }

  int rc = uv_poll_init(loop, &r->poll, fd);
  if (rc < 0) {
    abandon_unstarted(r, self);
    throw_sys_fd(env, -rc, "uv_poll_init", fd);
    return NULL;
  }
  r->poll.data = r;
  r->handle_closed = false;
  rc = uv_poll_start(&r->poll, UV_READABLE, on_poll);
  if (rc < 0) {
    /* The handle exists now, so it must go through uv_close; the caller
     * keeps the fd because we throw. */
    release_js(r);
    if (napi_remove_wrap(env, self, NULL) == napi_ok) r->wrap_alive = false;
    start_close(r);
    throw_sys_fd(env, -rc, "uv_poll_start", fd);
    return NULL;
  }
  r->owns_fd = true;
  return self;
}

static receiver *unwrap_receiver(napi_env env, napi_callback_info info, napi_value *self) {
  void *data = NULL;
  if (napi_get_cb_info(env, info, NULL, NULL, self, NULL) != napi_ok) return NULL;
  /* Fails once close() removed the wrap: that is what makes close idempotent. */
  if (napi_unwrap(env, *self, &data) != napi_ok) return NULL;
  return data;
}

static napi_value receiver_close(napi_env env, napi_callback_info info) {
  napi_value self;
  receiver *r = unwrap_receiver(env, info, &self);
  if (r == NULL || r->closing) return NULL;
  if (napi_remove_wrap(env, self, NULL) == napi_ok) r->wrap_alive = false;
  if (!r->in_callback) release_js(r); /* else deliver() does it afterwards */
  start_close(r);
  return NULL;
}

static napi_value receiver_unref(napi_env env, napi_callback_info info) {
  napi_value self;
  receiver *r = unwrap_receiver(env, info, &self);
  if (r != NULL && !r->closing) uv_unref((uv_handle_t *)&r->poll);
  return NULL;
}

static napi_value receiver_ref(napi_env env, napi_callback_info info) {
  napi_value self;
  receiver *r = unwrap_receiver(env, info, &self);
  if (r != NULL && !r->closing) uv_ref((uv_handle_t *)&r->poll);
  return NULL;
}

/* ------------------------------------------------------------------------ */


/* ------------------------------------------------------------------------ */
/* StreamSet: every input stream of the daemon, read into one batch per     */
/* event-loop turn. Node reads a stream into a buffer fixed when it is set   */
/* up and calls JS once per read; here C decides how much to read from each */
/* ready fd (so a turn stays within a budget whatever the number of streams) */
/* and JS is called once per turn with the whole batch. Level-triggered      */
/* polls: an fd not read this turn (budget spent) is simply ready next turn. */

#define SSET_EOF (-1)
#define SSET_ERROR (-2)

typedef struct sset sset;

typedef struct sstream {
  uv_poll_t poll;
  sset *set;
  int fd;
  int32_t id;
  bool closing;
} sstream;

struct sset {
  napi_env env;
  uv_loop_t *loop;
  napi_ref cb_ref, buf_ref, segs_ref, self_ref;
  napi_async_context ctx;
  uint8_t *buf;
  size_t buf_len, used, budget, max_read;
  int32_t *segs;
  size_t segs_len, nsegs; /* segs_len in int32s; nsegs in triples */
  sstream **slots;
  size_t nslots;
  uv_check_t check;
  bool paused, closed;
  /* Freed when the JS object is gone and every handle has closed, in either order. */
  size_t live; /* streams whose handle has not closed yet */
  bool check_closed, finalized;
};

static void sset_maybe_free(sset *set) {
  if (set->finalized && set->closed && set->check_closed && set->live == 0) {
    free(set->slots);
    free(set);
  }
}

static void sset_push(sset *set, int32_t id, int32_t a, int32_t b) {
  int32_t *seg = set->segs + set->nsegs * 3;
  seg[0] = id;
  seg[1] = a;
  seg[2] = b;
  set->nsegs++;
}

static void sstream_on_close(uv_handle_t *h) {
  sstream *s = h->data;
  sset *set = s->set;
  close(s->fd);
  if (set->slots[s->id] == s) set->slots[s->id] = NULL;
  free(s);
  set->live--;
  sset_maybe_free(set);
}

static void sstream_close(sstream *s) {
  if (s->closing) return;
  s->closing = true;
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t *)&s->poll, sstream_on_close);
}

static void sstream_on_poll(uv_poll_t *h, int status, int events) {
  (void)events;
  sstream *s = h->data;
  sset *set = s->set;
  if (s->closing || set->closed) return;
  bool room_for_seg = (set->nsegs + 1) * 3 <= set->segs_len;
  size_t room = set->budget > set->used ? set->budget - set->used : 0;
  if (room > set->max_read) room = set->max_read;
  if (!room_for_seg || room == 0) {
    /* The turn's budget is spent: the fd stays ready and is read next turn.
     * (libuv stopped the handle on POLLERR: start it again to hear of it.) */
    if (status < 0 && !set->paused) uv_poll_start(&s->poll, UV_READABLE, sstream_on_poll);
    return;
  }
  ssize_t n;
  do {
    n = read(s->fd, set->buf + set->used, room);
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    sset_push(set, s->id, (int32_t)set->used, (int32_t)n);
    set->used += (size_t)n;
    if (status < 0 && !set->paused) uv_poll_start(&s->poll, UV_READABLE, sstream_on_poll);
  } else if (n == 0) {
    sset_push(set, s->id, 0, SSET_EOF);
    sstream_close(s);
  } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
    if (status < 0 && !set->paused) uv_poll_start(&s->poll, UV_READABLE, sstream_on_poll);
  } else {
    sset_push(set, s->id, errno, SSET_ERROR);
    sstream_close(s);
  }
}

/* Once per loop turn, after the polls: hand the batch to JS. */
static void sset_on_check(uv_check_t *h) {
  sset *set = h->data;
  if (set->nsegs == 0 || set->closed) return;
  napi_env env = set->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, argv[1];
  size_t n = set->nsegs;
  if (napi_get_reference_value(env, set->cb_ref, &cb) == napi_ok && cb != NULL &&
      napi_get_global(env, &recv) == napi_ok && napi_create_uint32(env, (uint32_t)n, &argv[0]) == napi_ok) {
    napi_status st = napi_make_callback(env, set->ctx, recv, cb, 1, argv, NULL);
    if (st != napi_ok) surface_exception(env);
  }
  set->nsegs = 0;
  set->used = 0;
  napi_close_handle_scope(env, scope);
}

static sset *sset_of(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  napi_value self;
  sset *set = NULL;
  if (!get_args(env, info, want, argv, &self)) return NULL;
  if (napi_unwrap(env, self, (void **)&set) != napi_ok || set == NULL) {
    napi_throw_error(env, NULL, "StreamSet: not a StreamSet");
    return NULL;
  }
  if (set->closed) {
    napi_throw_error(env, "ERR_CLOSED", "StreamSet: closed");
    return NULL;
  }
  return set;
}

static void sset_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  sset *set = data;
  /* Open sets are pinned by self_ref, so this runs after close(). */
  set->finalized = true;
  sset_maybe_free(set);
}

static napi_value sset_ctor(napi_env env, napi_callback_info info) {
  napi_value argv[3], self, name;
  napi_valuetype t;
  bool is_ta = false;
  if (!get_args(env, info, 3, argv, &self)) return NULL;
  void *bdata, *sdata;
  size_t blen, slen;
  napi_typedarray_type btype, stype;
  napi_value barr, sarr;
  size_t boff, soff;
  if (napi_is_typedarray(env, argv[0], &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, argv[0], &btype, &blen, &bdata, &barr, &boff) != napi_ok || btype != napi_uint8_array) {
    throw_type(env, "The \"%s\" argument must be a Uint8Array", "buffer");
    return NULL;
  }
  if (napi_is_typedarray(env, argv[1], &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, argv[1], &stype, &slen, &sdata, &sarr, &soff) != napi_ok || stype != napi_int32_array || slen < 3) {
    throw_type(env, "The \"%s\" argument must be an Int32Array of at least 3 elements", "segments");
    return NULL;
  }
  if (napi_typeof(env, argv[2], &t) != napi_ok || t != napi_function) {
    throw_type(env, "The \"%s\" argument must be of type function", "onBatch");
    return NULL;
  }
  if (blen == 0 || blen > INT32_MAX) {
    throw_range(env, "buffer.length", 1, INT32_MAX);
    return NULL;
  }
  sset *set = calloc(1, sizeof *set);
  if (set == NULL) {
    throw_sys(env, ENOMEM, "malloc", NULL, false);
    return NULL;
  }
  set->env = env;
  set->buf = bdata;
  set->buf_len = set->budget = set->max_read = blen;
  set->segs = sdata;
  set->segs_len = slen;
  if (napi_get_uv_event_loop(env, &set->loop) != napi_ok ||
      napi_create_reference(env, argv[0], 1, &set->buf_ref) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &set->segs_ref) != napi_ok ||
      napi_create_reference(env, argv[2], 1, &set->cb_ref) != napi_ok ||
      napi_create_string_utf8(env, "memlog:StreamSet", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, self, name, &set->ctx) != napi_ok ||
      napi_wrap(env, self, set, sset_finalize, NULL, NULL) != napi_ok ||
      napi_create_reference(env, self, 1, &set->self_ref) != napi_ok) {
    /* Not started: nothing of libuv's to undo; the refs die with the env. */
    ensure_exception(env);
    return NULL;
  }
  uv_check_init(set->loop, &set->check);
  set->check.data = set;
  uv_check_start(&set->check, sset_on_check);
  uv_unref((uv_handle_t *)&set->check); /* the streams keep the loop alive, not the check */
  return self;
}

static napi_value sset_add(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  sset *set = sset_of(env, info, 1, argv);
  int fd;
  if (set == NULL || !get_fd(env, argv[0], "fd", &fd)) return NULL;
  size_t id = 0;
  while (id < set->nslots && set->slots[id] != NULL) id++;
  if (id == set->nslots) {
    size_t grown = set->nslots ? set->nslots * 2 : 64;
    if (grown > INT32_MAX) {
      throw_sys(env, EMFILE, "StreamSet.add", NULL, false);
      return NULL;
    }
    sstream **slots = realloc(set->slots, grown * sizeof *slots);
    if (slots == NULL) {
      throw_sys(env, ENOMEM, "realloc", NULL, false);
      return NULL;
    }
    memset(slots + set->nslots, 0, (grown - set->nslots) * sizeof *slots);
    set->slots = slots;
    set->nslots = grown;
  }
  sstream *s = calloc(1, sizeof *s);
  if (s == NULL) {
    throw_sys(env, ENOMEM, "malloc", NULL, false);
    return NULL;
  }
  int fdfl = fcntl(fd, F_GETFD);
  if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0) {
    int e = errno;
    free(s);
    throw_sys_fd(env, e, "fcntl", fd);
    return NULL;
  }
  int rc = uv_poll_init(set->loop, &s->poll, fd); /* also makes it non-blocking */
  if (rc < 0) {
    free(s);
    throw_sys_fd(env, -rc, "uv_poll_init", fd);
    return NULL;
  }
  s->poll.data = s;
  s->set = set;
  s->fd = fd;
  s->id = (int32_t)id;
  set->slots[id] = s; /* from here on the set owns the fd */
  set->live++;
  if (!set->paused) uv_poll_start(&s->poll, UV_READABLE, sstream_on_poll);
  if (napi_create_int32(env, (int32_t)id, &result) != napi_ok) return NULL;
  return result;
}

static napi_value sset_remove(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int64_t id;
  sset *set = sset_of(env, info, 1, argv);
  if (set == NULL || !get_int(env, argv[0], "id", 0, INT32_MAX, &id)) return NULL;
  if ((size_t)id < set->nslots && set->slots[id] != NULL) sstream_close(set->slots[id]);
  return NULL;
}

static napi_value sset_set_budget(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t budget, max_read;
  sset *set = sset_of(env, info, 2, argv);
  if (set == NULL || !get_int(env, argv[0], "budget", 1, INT32_MAX, &budget) ||
      !get_int(env, argv[1], "maxRead", 1, INT32_MAX, &max_read))
    return NULL;
  set->budget = (size_t)budget < set->buf_len ? (size_t)budget : set->buf_len;
  set->max_read = (size_t)max_read;
  return NULL;
}

static void sset_poll_all(sset *set, bool on) {
  for (size_t i = 0; i < set->nslots; i++) {
    sstream *s = set->slots[i];
    if (s == NULL || s->closing) continue;
    if (on)
      uv_poll_start(&s->poll, UV_READABLE, sstream_on_poll);
    else
      uv_poll_stop(&s->poll);
  }
}

static napi_value sset_pause(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  sset *set = sset_of(env, info, 0, argv);
  if (set != NULL && !set->paused) {
    set->paused = true;
    sset_poll_all(set, false);
  }
  return NULL;
}

static napi_value sset_resume(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  sset *set = sset_of(env, info, 0, argv);
  if (set != NULL && set->paused) {
    set->paused = false;
    sset_poll_all(set, true);
  }
  return NULL;
}

static void sset_check_closed(uv_handle_t *h) {
  sset *set = h->data;
  set->check_closed = true;
  sset_maybe_free(set);
}

static napi_value sset_close(napi_env env, napi_callback_info info) {
  napi_value argv[1], self;
  sset *set = NULL;
  if (!get_args(env, info, 0, argv, &self)) return NULL;
  if (napi_unwrap(env, self, (void **)&set) != napi_ok || set == NULL || set->closed) return NULL;
  set->closed = true;
  for (size_t i = 0; i < set->nslots; i++)
    if (set->slots[i] != NULL) sstream_close(set->slots[i]);
  uv_check_stop(&set->check);
  uv_close((uv_handle_t *)&set->check, sset_check_closed);
  napi_delete_reference(env, set->cb_ref);
  napi_delete_reference(env, set->buf_ref);
  napi_delete_reference(env, set->segs_ref);
  napi_async_destroy(env, set->ctx);
  napi_delete_reference(env, set->self_ref); /* now the finalizer may free it */
  set->cb_ref = set->buf_ref = set->segs_ref = set->self_ref = NULL;
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value cls;
  napi_property_descriptor methods[] = {
      {"close", NULL, receiver_close, NULL, NULL, NULL, napi_default_method, NULL},
      {"unref", NULL, receiver_unref, NULL, NULL, NULL, napi_default_method, NULL},
      {"ref", NULL, receiver_ref, NULL, NULL, NULL, napi_default_method, NULL},
  };
  napi_property_descriptor fns[] = {
      {"socketpair", NULL, js_socketpair, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bindDgram", NULL, js_bind_dgram, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bindListen", NULL, js_bind_listen, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendFds", NULL, js_send_fds, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fdInfo", NULL, js_fd_info, NULL, NULL, NULL, napi_enumerable, NULL},
      {"clockRealtime", NULL, js_clock_realtime, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mkfifo", NULL, js_mkfifo, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_value sset_cls;
  napi_property_descriptor sset_methods[] = {
      {"add", NULL, sset_add, NULL, NULL, NULL, napi_default_method, NULL},
      {"remove", NULL, sset_remove, NULL, NULL, NULL, napi_default_method, NULL},
      {"setBudget", NULL, sset_set_budget, NULL, NULL, NULL, napi_default_method, NULL},
      {"pause", NULL, sset_pause, NULL, NULL, NULL, napi_default_method, NULL},
      {"resume", NULL, sset_resume, NULL, NULL, NULL, napi_default_method, NULL},
      {"close", NULL, sset_close, NULL, NULL, NULL, napi_default_method, NULL},
  };
  if (napi_define_class(env, "DgramReceiver", NAPI_AUTO_LENGTH, receiver_ctor, NULL,
                        sizeof methods / sizeof methods[0], methods, &cls) != napi_ok ||
      napi_set_named_property(env, exports, "DgramReceiver", cls) != napi_ok ||
      napi_define_class(env, "StreamSet", NAPI_AUTO_LENGTH, sset_ctor, NULL,
                        sizeof sset_methods / sizeof sset_methods[0], sset_methods, &sset_cls) != napi_ok ||
      napi_set_named_property(env, exports, "StreamSet", sset_cls) != napi_ok ||
      napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns) != napi_ok) {
    ensure_exception(env);
    return NULL;
  }
  return exports;
}
