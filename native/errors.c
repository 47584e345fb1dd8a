/* Errors shaped like Node's system errors, and argument helpers. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ensure_exception(napi_env env) {
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

bool set_prop_str(napi_env env, napi_value obj, const char *key, const char *val) {
  napi_value v;
  return napi_create_string_utf8(env, val, NAPI_AUTO_LENGTH, &v) == napi_ok &&
         napi_set_named_property(env, obj, key, v) == napi_ok;
}

napi_value sys_error(napi_env env, int err, const char *syscall, const char *what, bool is_path) {
  char errbuf[256], namebuf[64];
  const char *desc = strerror_r(err, errbuf, sizeof errbuf);
  uv_err_name_r(-err, namebuf, sizeof namebuf);

  int len = what ? snprintf(NULL, 0, "%s %s: %s", syscall, what, desc)
                 : snprintf(NULL, 0, "%s: %s", syscall, desc);
  char *msg = len >= 0 ? malloc((size_t)len + 1) : NULL;
  if (msg == NULL) {
    napi_throw_error(env, namebuf, desc);
    return NULL;
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
  if (!ok) {
    ensure_exception(env);
    return NULL;
  }
  return error;
}

void throw_sys(napi_env env, int err, const char *syscall, const char *what, bool is_path) {
  napi_value error = sys_error(env, err, syscall, what, is_path);
  if (error != NULL) napi_throw(env, error);
}

void throw_sys_fd(napi_env env, int err, const char *syscall, int fd) {
  char what[32];
  snprintf(what, sizeof what, "fd %d", fd);
  throw_sys(env, err, syscall, what, false);
}

void throw_type(napi_env env, const char *fmt, const char *name) {
  char msg[160];
  snprintf(msg, sizeof msg, fmt, name);
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
}

void throw_range(napi_env env, const char *name, int64_t lo, int64_t hi) {
  char msg[200];
  snprintf(msg, sizeof msg,
           "The value of \"%s\" is out of range. It must be an integer >= %lld and <= %lld",
           name, (long long)lo, (long long)hi);
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
}

bool surface_exception(napi_env env) {
  bool pending = false;
  napi_value exc;
  if (napi_is_exception_pending(env, &pending) != napi_ok || !pending) return false;
  if (napi_get_and_clear_last_exception(env, &exc) == napi_ok)
    napi_fatal_exception(env, exc);
  return true;
}

/* ------------------------------------------------------------------------ */
/* Argument helpers                                                          */

bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv,
              napi_value *self) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, self, NULL) != napi_ok) {
    ensure_exception(env);
    return false;
  }
  /* Missing arguments read as undefined (N-API fills them in). */
  return true;
}

bool get_int(napi_env env, napi_value v, const char *name, int64_t lo, int64_t hi,
             int64_t *out) {
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

bool get_fd(napi_env env, napi_value v, const char *name, int *fd) {
  int64_t x;
  if (!get_int(env, v, name, 0, INT32_MAX, &x)) return false;
  *fd = (int)x;
  return true;
}

bool get_function(napi_env env, napi_value v, const char *name, bool optional, bool *present) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) {
    ensure_exception(env);
    return false;
  }
  *present = t == napi_function;
  if (*present || (optional && t == napi_undefined)) return true;
  throw_type(env, "The \"%s\" argument must be of type function", name);
  return false;
}

bool get_cstring(napi_env env, napi_value v, const char *name, char **out, size_t *len_out) {
  napi_valuetype t;
  size_t len = 0;
  char *str;
  *out = NULL;
  if (napi_typeof(env, v, &t) != napi_ok) {
    ensure_exception(env);
    return false;
  }
  if (t != napi_string) {
    throw_type(env, "The \"%s\" argument must be of type string", name);
    return false;
  }
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok ||
      (str = malloc(len + 1)) == NULL) {
    ensure_exception(env);
    return false;
  }
  if (napi_get_value_string_utf8(env, v, str, len + 1, &len) != napi_ok) {
    free(str);
    ensure_exception(env);
    return false;
  }
  /* An embedded NUL would silently shorten the string (a path, an argument),
   * so refuse it, as Node's fs and child_process do. */
  if (memchr(str, '\0', len) != NULL) {
    free(str);
    char msg[160];
    snprintf(msg, sizeof msg, "The argument '%s' must be a string without null bytes", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", msg);
    return false;
  }
  *out = str;
  if (len_out != NULL) *len_out = len;
  return true;
}

bool get_unix_addr(napi_env env, napi_value v, const char *syscall, struct sockaddr_un *sa,
                   socklen_t *salen, char **path_out) {
  size_t len = 0;
  char *path;
  *path_out = NULL;
  if (!get_cstring(env, v, "path", &path, &len)) return false;
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

void close_fds(const int *fds, size_t n) {
  /* No EINTR retry: Linux releases the fd even when close reports EINTR. */
  for (size_t i = 0; i < n; i++) close(fds[i]);
}
