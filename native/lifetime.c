/* The one lifetime model of the addon's objects; see internal.h. */
#include "internal.h"

#include <stdio.h>

static void release_js(life *l) {
  if (l->async_ctx == NULL) return; /* released already */
  if (l->ops->release != NULL) l->ops->release(l);
  if (l->self_ref != NULL) {
    napi_delete_reference(l->env, l->self_ref);
    l->self_ref = NULL;
  }
  napi_async_destroy(l->env, l->async_ctx);
  l->async_ctx = NULL;
}

/* May free the struct: nothing may touch it afterwards. */
static void maybe_done(life *l) {
  if (l->state != LIFE_CLOSED || l->handles > 0) return;
  if (l->hook != NULL) {
    /* Every handle is closed: environment teardown may go on. */
    napi_async_cleanup_hook_handle hook = l->hook;
    l->hook = NULL;
    napi_remove_async_cleanup_hook(hook);
  }
  if (!l->wrapped) l->ops->destroy(l);
}

void life_close(life *l) {
  if (l->state != LIFE_CLOSED) {
    l->state = LIFE_CLOSED;
    if (l->calls == 0) release_js(l); /* else life_call does it on the way out */
    l->ops->stop(l);
  }
  maybe_done(l);
}

void life_handle_opened(life *l) {
  l->handles++;
}

void life_handle_closed(life *l) {
  l->handles--;
  maybe_done(l);
}

static void on_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  life *l = data;
  l->wrapped = false;
  life_close(l); /* frees it; closes it first if open (not expected: self_ref pins open objects) */
}

static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  (void)handle;
  life *l = arg;
  life_close(l); /* once the handles have closed, the hook is removed, which completes it */
}

bool life_start(life *l, napi_env env, const life_ops *ops, napi_value self, const char *resource) {
  napi_value name;
  l->env = env;
  l->ops = ops;
  l->state = LIFE_OPEN;
  l->handles = 0;
  l->calls = 0;
  l->wrapped = false;
  l->self_ref = NULL;
  l->async_ctx = NULL;
  l->hook = NULL;
  if (napi_create_string_utf8(env, resource, NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, self, name, &l->async_ctx) != napi_ok ||
      (self != NULL && napi_create_reference(env, self, 1, &l->self_ref) != napi_ok) ||
      napi_add_async_cleanup_hook(env, on_env_cleanup, l, &l->hook) != napi_ok ||
      (self != NULL && napi_wrap(env, self, l, on_finalize, NULL, NULL) != napi_ok)) {
    if (l->hook != NULL) napi_remove_async_cleanup_hook(l->hook);
    if (l->self_ref != NULL) napi_delete_reference(env, l->self_ref);
    if (l->async_ctx != NULL) napi_async_destroy(env, l->async_ctx);
    l->hook = NULL;
    l->self_ref = NULL;
    l->async_ctx = NULL;
    ensure_exception(env);
    return false;
  }
  l->wrapped = self != NULL;
  return true;
}

life *life_unwrap(napi_env env, napi_value self, const char *what) {
  void *data = NULL;
  if (napi_unwrap(env, self, &data) != napi_ok || data == NULL) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s: not a %s", what, what);
    napi_throw_type_error(env, NULL, msg);
    return NULL;
  }
  return data;
}

bool export_class(napi_env env, napi_value exports, const char *name, napi_callback ctor,
                  const napi_property_descriptor *methods, size_t nmethods) {
  napi_value cls;
  return napi_define_class(env, name, NAPI_AUTO_LENGTH, ctor, NULL, nmethods, methods, &cls) == napi_ok &&
         napi_set_named_property(env, exports, name, cls) == napi_ok;
}

napi_status life_call(life *l, napi_value cb, size_t argc, const napi_value *argv) {
  napi_value recv; /* napi_make_callback needs an object */
  napi_status st = napi_get_global(l->env, &recv);
  if (st != napi_ok) return st;
  l->calls++;
  st = napi_make_callback(l->env, l->async_ctx, recv, cb, argc, argv, NULL);
  l->calls--;
  if (l->state == LIFE_CLOSED && l->calls == 0) release_js(l); /* closed from inside the call */
  return st;
}
