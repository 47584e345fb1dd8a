/* The plain functions: socketpair, bindDgram, bindListen, mkfifo, dup, fdInfo, clockRealtime, peerCred, tcpQuickAck. */
#include "internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

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

static napi_value bind_common(napi_env env, napi_value pathv, int type, bool do_listen, int backlog) {
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
/* dup: a second fd for the same open file (the init reads a stream it keeps
 * through one, and closes it, while keeping the other for the next memlogd). */

static napi_value js_dup(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  int fd;
  if (!get_args(env, info, 1, argv, NULL)) return NULL;
  if (!get_fd(env, argv[0], "fd", &fd)) return NULL;
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    throw_sys_fd(env, errno, "dup", fd);
    return NULL;
  }
  if (napi_create_int32(env, copy, &result) != napi_ok) {
    close(copy);
    ensure_exception(env);
    return NULL;
  }
  return result;
}

/* ------------------------------------------------------------------------ */
/* fdInfo / clockRealtime                                                    */

static const char *kind_of(int fd, mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFIFO: return "fifo";
    case S_IFREG: return "file";
    case S_IFDIR: return "dir";
    case S_IFCHR: return "chr";
    case S_IFBLK: return "blk";
    case S_IFSOCK: {
      int type = 0;
      socklen_t sl = sizeof type;
      /* socket-other also if getsockopt fails, e.g. on an O_PATH fd */
      if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &sl) == 0) {
        if (type == SOCK_STREAM) return "socket-stream";
        if (type == SOCK_DGRAM) return "socket-dgram";
      }
      return "socket-other";
    }
    default: return "other";
  }
}

static napi_value js_fd_info(napi_env env, napi_callback_info info) {
  napi_value argv[1], obj, rv, wv, dev, ino;
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
  int acc = fl & O_ACCMODE;
  bool opath = (fl & O_PATH) != 0; /* O_PATH fds cannot do I/O at all */
  bool readable = !opath && (acc == O_RDONLY || acc == O_RDWR);
  bool writable = !opath && (acc == O_WRONLY || acc == O_RDWR);
  /* The identity of the open file: numbers, exact up to 2^53 as in fs.Stats. */
  if (napi_create_object(env, &obj) != napi_ok || !set_prop_str(env, obj, "kind", kind_of(fd, st.st_mode)) ||
      napi_get_boolean(env, readable, &rv) != napi_ok ||
      napi_get_boolean(env, writable, &wv) != napi_ok ||
      napi_create_double(env, (double)st.st_dev, &dev) != napi_ok ||
      napi_create_double(env, (double)st.st_ino, &ino) != napi_ok ||
      napi_set_named_property(env, obj, "readable", rv) != napi_ok ||
      napi_set_named_property(env, obj, "writable", wv) != napi_ok ||
      napi_set_named_property(env, obj, "dev", dev) != napi_ok ||
      napi_set_named_property(env, obj, "ino", ino) != napi_ok) {
    ensure_exception(env);
    return NULL;
  }
  return obj;
}

/*
 * tcpQuickAck(fd): acknowledge what arrives at once, not up to 40 ms later.
 * Linux clears the flag again by itself, so callers set it after each read.
 * A RELP server that sends its answers one small packet at a time (with
 * Nagle on) waits for our acknowledgement before sending the next: with
 * delayed acks, a window of answers would trickle at one per 40 ms.
 */
static napi_value js_tcp_quick_ack(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd, one = 1;
  if (!get_args(env, info, 1, argv, NULL)) return NULL;
  if (!get_fd(env, argv[0], "fd", &fd)) return NULL;
  if (setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one) < 0) {
    throw_sys_fd(env, errno, "setsockopt(TCP_QUICKACK)", fd);
    return NULL;
  }
  return NULL;
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
/* peerCred: who is at the other end of a connected Unix stream socket       */
/* (SO_PEERCRED: the credentials at connect time, as the kernel recorded them). */

static napi_value js_peer_cred(napi_env env, napi_callback_info info) {
  napi_value argv[1], arr, v;
  int fd;
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (!get_args(env, info, 1, argv, NULL)) return NULL;
  if (!get_fd(env, argv[0], "fd", &fd)) return NULL;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
    throw_sys_fd(env, errno, "getsockopt", fd);
    return NULL;
  }
  if (napi_create_array_with_length(env, 3, &arr) != napi_ok ||
      napi_create_int32(env, (int32_t)cred.pid, &v) != napi_ok || napi_set_element(env, arr, 0, v) != napi_ok ||
      napi_create_uint32(env, (uint32_t)cred.uid, &v) != napi_ok || napi_set_element(env, arr, 1, v) != napi_ok ||
      napi_create_uint32(env, (uint32_t)cred.gid, &v) != napi_ok || napi_set_element(env, arr, 2, v) != napi_ok) {
    ensure_exception(env);
    return NULL;
  }
  return arr;
}

bool define_functions(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"socketpair", NULL, js_socketpair, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bindDgram", NULL, js_bind_dgram, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bindListen", NULL, js_bind_listen, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fdInfo", NULL, js_fd_info, NULL, NULL, NULL, napi_enumerable, NULL},
      {"clockRealtime", NULL, js_clock_realtime, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tcpQuickAck", NULL, js_tcp_quick_ack, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mkfifo", NULL, js_mkfifo, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dup", NULL, js_dup, NULL, NULL, NULL, napi_enumerable, NULL},
      {"peerCred", NULL, js_peer_cred, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns) == napi_ok;
}
