/* Module init: each part adds its functions and classes to the exports. */
#include "internal.h"

NAPI_MODULE_INIT() {
  if (!define_functions(env, exports) || !define_exec(env, exports) ||
      !define_send(env, exports) ||
      !define_receiver(env, exports) ||
      !define_batch_receiver(env, exports) || !define_stream_set(env, exports)) {
    ensure_exception(env);
    return NULL;
  }
  return exports;
}
