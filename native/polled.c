/*
 * What DgramReceiver and DgramBatchReceiver share: a JS object wrapping a
 * struct that starts with `polled` (its life and a uv_poll_t on one fd), how
 * it starts watching, and its close(), unref() and ref() methods.
 */
#include "internal.h"

#include <stdio.h>
#include <unistd.h>

static void on_close(uv_handle_t *h) {
  polled *p = h->data;
  if (p->fd >= 0) close(p->fd);
  p->fd = -1;
  life_handle_closed(&p->life);
}

void polled_stop(polled *p) {
  /* The handle's data is set once it is initialised. */
  if (p->poll.data == NULL || uv_is_closing((uv_handle_t *)&p->poll)) return;
  uv_poll_stop(&p->poll);
  uv_close((uv_handle_t *)&p->poll, on_close);
}

void polled_fail(polled *p, napi_ref on_error, int err, const char *syscall, const char *who) {
  napi_env env = p->life.env;
  napi_handle_scope scope;
  napi_value cb = NULL, error;
  char what[32];
  uv_poll_stop(&p->poll);
  p->life.state = LIFE_FAILED;
  if (napi_open_handle_scope(env, &scope) != napi_ok) {
    napi_fatal_error(who, NAPI_AUTO_LENGTH, "cannot report a receive error", NAPI_AUTO_LENGTH);
    return;
  }
  snprintf(what, sizeof what, "fd %d", p->fd);
  error = sys_error(env, err, syscall, what, false);
  if (error == NULL) {
    surface_exception(env);
  } else if (on_error != NULL && napi_get_reference_value(env, on_error, &cb) == napi_ok && cb != NULL) {
    if (life_call(&p->life, cb, 1, &error) != napi_ok) surface_exception(env);
  } else {
    napi_fatal_exception(env, error);
  }
  napi_close_handle_scope(env, scope);
}

bool polled_recover(polled *p, uv_poll_cb on_poll, napi_ref on_error, const char *who) {
  /* libuv reports POLLERR this way and has stopped the handle. If the
   * socket merely had a pending error, clear it and keep going. */
  int e = dgram_clear_error(p->fd);
  if (e != 0) {
    polled_fail(p, on_error, e, "getsockopt", who);
    return false;
  }
  int rc = uv_poll_start(&p->poll, UV_READABLE, on_poll);
  if (rc < 0) {
    polled_fail(p, on_error, -rc, "uv_poll_start", who);
    return false;
  }
  return true;
}

bool polled_start(napi_env env, polled *p, int fd, uv_poll_cb on_poll) {
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    ensure_exception(env);
    life_close(&p->life);
    return false;
  }
  int rc = uv_poll_init(loop, &p->poll, fd);
  if (rc < 0) {
    life_close(&p->life);
    throw_sys_fd(env, -rc, "uv_poll_init", fd);
    return false;
  }
  p->poll.data = p;
  life_handle_opened(&p->life);
  rc = uv_poll_start(&p->poll, UV_READABLE, on_poll);
  if (rc < 0) {
    life_close(&p->life); /* the handle closes; the fd stays the caller's as we throw */
    throw_sys_fd(env, -rc, "uv_poll_start", fd);
    return false;
  }
  p->fd = fd;
  return true;
}

/* The object a method was called on; the class name comes as the method's data. */
static polled *polled_of(napi_env env, napi_callback_info info) {
  napi_value self;
  void *name;
  if (napi_get_cb_info(env, info, NULL, NULL, &self, &name) != napi_ok) {
    ensure_exception(env);
    return NULL;
  }
  return (polled *)life_unwrap(env, self, (const char *)name);
}

/* Stops watching and closes the fd (when the handle has closed). Idempotent. */
static napi_value polled_close(napi_env env, napi_callback_info info) {
  polled *p = polled_of(env, info);
  if (p != NULL) life_close(&p->life);
  return NULL;
}

static napi_value polled_unref(napi_env env, napi_callback_info info) {
  polled *p = polled_of(env, info);
  if (p != NULL && p->life.state != LIFE_CLOSED) uv_unref((uv_handle_t *)&p->poll);
  return NULL;
}

static napi_value polled_ref(napi_env env, napi_callback_info info) {
  polled *p = polled_of(env, info);
  if (p != NULL && p->life.state != LIFE_CLOSED) uv_ref((uv_handle_t *)&p->poll);
  return NULL;
}

bool export_polled_class(napi_env env, napi_value exports, const char *name, napi_callback ctor) {
  void *data = (void *)name;
  napi_property_descriptor methods[] = {
      {"close", NULL, polled_close, NULL, NULL, NULL, napi_default_method, data},
      {"unref", NULL, polled_unref, NULL, NULL, NULL, napi_default_method, data},
      {"ref", NULL, polled_ref, NULL, NULL, NULL, napi_default_method, data},
  };
  return export_class(env, exports, name, ctor, methods, sizeof methods / sizeof methods[0]);
}
