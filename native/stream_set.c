/*
 * StreamSet: every input stream of the daemon, read into one batch per
 * event-loop turn. Node reads a stream into a buffer fixed when it is set up
 * and calls JS once per read; here C decides how much to read from each ready
 * fd (so a turn stays within a budget whatever the number of streams) and JS
 * is called once per turn with the whole batch. Level-triggered polls: an fd
 * not read this turn (budget spent) is simply ready next turn.
 *
 * A stream that fails (a read error, or its poll cannot be started again) is
 * reported in the batch as an error segment, never dropped without a word.
 */
#include "internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Must match SEGMENT_EOF / SEGMENT_ERROR in src/native.ts. */
#define SSET_EOF (-1)
#define SSET_ERROR (-2)

typedef struct sset sset;

typedef struct sstream {
  uv_poll_t poll;
  sset *set;
  int fd; /* closed with the handle; -1 once it is not ours to close */
  int32_t id;
  int error;                   /* a failure waiting for room in a batch (0: none) */
  struct sstream *next_failed; /* in set->failed while error != 0 */
} sstream;

struct sset {
  life life; /* first: what the JS object wraps */
  uv_loop_t *loop;
  napi_ref cb_ref, buf_ref, segs_ref;
  uint8_t *buf;
  size_t buf_len, used, budget, max_read;
  int32_t *segs;
  size_t segs_len, nsegs; /* segs_len in int32s; nsegs in triples */
  sstream **slots;
  size_t nslots;
  sstream *failed; /* failures not yet in a batch */
  uv_check_t check;
};

static bool room_for_segment(const sset *set) {
  return (set->nsegs + 1) * 3 <= set->segs_len;
}

static void sset_push(sset *set, int32_t id, int32_t a, int32_t b) {
  int32_t *seg = set->segs + set->nsegs * 3;
  seg[0] = id;
  seg[1] = a;
  seg[2] = b;
  set->nsegs++;
}

/* ------------------------------------------------------------------------ */
/* Streams                                                                   */

static void sstream_on_close(uv_handle_t *h) {
  sstream *s = h->data;
  sset *set = s->set;
  if (s->fd >= 0) close(s->fd);
  if (set->slots[s->id] == s) set->slots[s->id] = NULL;
  free(s);
  life_handle_closed(&set->life);
}

static void sstream_close(sstream *s) {
  if (uv_is_closing((uv_handle_t *)&s->poll)) return;
  if (s->error != 0) { /* no longer to be reported */
    sstream **p = &s->set->failed;
    while (*p != s) p = &(*p)->next_failed;
    *p = s->next_failed;
  }
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t *)&s->poll, sstream_on_close);
}

/* Reports the stream as failed with err (now, or in the next batch with room) and closes it. */
static void sstream_fail(sstream *s, int err) {
  sset *set = s->set;
  uv_poll_stop(&s->poll);
  /* libuv refuses with EEXIST when another handle of this loop watches the
   * fd number: it was closed behind our back and reused, so it is not ours. */
  if (err == EEXIST) s->fd = -1;
  if (room_for_segment(set)) {
    sset_push(set, s->id, err, SSET_ERROR);
    sstream_close(s);
  } else if (s->error == 0) {
    s->error = err;
    s->next_failed = set->failed;
    set->failed = s;
  }
}

static void sstream_on_poll(uv_poll_t *h, int status, int events);

/* (Re)starts polling; a failure to is the stream's failure. */
static void sstream_watch(sstream *s) {
  int rc = uv_poll_start(&s->poll, UV_READABLE, sstream_on_poll);
  if (rc < 0) sstream_fail(s, -rc);
}

static void sstream_on_poll(uv_poll_t *h, int status, int events) {
  (void)events;
  sstream *s = h->data;
  sset *set = s->set;
  if (uv_is_closing((uv_handle_t *)h) || set->life.state != LIFE_OPEN) return;
  /* libuv stopped the handle on POLLERR: unless the stream ends now, start
   * it again to hear of what comes next. */
  bool restart = status < 0;
  size_t room = set->budget > set->used ? set->budget - set->used : 0;
  if (room > set->max_read) room = set->max_read;
  if (room_for_segment(set) && room > 0) {
    /* Else the turn's budget is spent: the fd stays ready and is read next turn. */
    ssize_t n;
    do {
      n = read(s->fd, set->buf + set->used, room);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
      sset_push(set, s->id, (int32_t)set->used, (int32_t)n);
      set->used += (size_t)n;
    } else if (n == 0) {
      sset_push(set, s->id, 0, SSET_EOF);
      sstream_close(s);
      return;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
      sset_push(set, s->id, errno, SSET_ERROR);
      sstream_close(s);
      return;
    }
  }
  if (restart) sstream_watch(s);
}

/* ------------------------------------------------------------------------ */
/* The set's lifetime (see life in internal.h)                               */

static void sset_check_closed(uv_handle_t *h) {
  sset *set = h->data;
  life_handle_closed(&set->life);
}

static void sset_stop(life *l) {
  sset *set = (sset *)l;
  for (size_t i = 0; i < set->nslots; i++)
    if (set->slots[i] != NULL) sstream_close(set->slots[i]);
  /* The check's data is set once it is initialised. */
  if (set->check.data != NULL && !uv_is_closing((uv_handle_t *)&set->check)) {
    uv_check_stop(&set->check);
    uv_close((uv_handle_t *)&set->check, sset_check_closed);
  }
}

static void sset_release(life *l) {
  sset *set = (sset *)l;
  napi_ref *refs[] = {&set->cb_ref, &set->buf_ref, &set->segs_ref};
  for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
    if (*refs[i] != NULL) napi_delete_reference(l->env, *refs[i]);
    *refs[i] = NULL;
  }
}

static void sset_destroy(life *l) {
  sset *set = (sset *)l;
  free(set->slots);
  free(set);
}

static const life_ops sset_ops = {sset_stop, sset_release, sset_destroy};

/* Once per loop turn, after the polls: hand the batch to JS. */
static void sset_on_check(uv_check_t *h) {
  sset *set = h->data;
  if (set->life.state == LIFE_CLOSED) return;
  while (set->failed != NULL && room_for_segment(set)) {
    sstream *s = set->failed;
    sset_push(set, s->id, s->error, SSET_ERROR);
    sstream_close(s); /* unlinks it */
  }
  if (set->nsegs == 0) return;
  napi_env env = set->life.env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, argv[1];
  if (napi_get_reference_value(env, set->cb_ref, &cb) == napi_ok && cb != NULL &&
      napi_create_uint32(env, (uint32_t)set->nsegs, &argv[0]) == napi_ok &&
      life_call(&set->life, cb, 1, argv) != napi_ok)
    surface_exception(env);
  set->nsegs = 0;
  set->used = 0;
  napi_close_handle_scope(env, scope);
}

/* ------------------------------------------------------------------------ */
/* JS methods                                                                */

static sset *sset_of(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  napi_value self;
  if (!get_args(env, info, want, argv, &self)) return NULL;
  sset *set = (sset *)life_unwrap(env, self, "StreamSet");
  if (set != NULL && set->life.state == LIFE_CLOSED) {
    napi_throw_error(env, "ERR_CLOSED", "StreamSet: closed");
    return NULL;
  }
  return set;
}

/* new StreamSet(buffer, segments, onBatch) */
static napi_value sset_ctor(napi_env env, napi_callback_info info) {
  napi_value argv[3], self;
  bool is_ta = false, present;
  if (!get_args(env, info, 3, argv, &self)) return NULL;
  void *bdata, *sdata;
  size_t blen, slen;
  napi_typedarray_type btype, stype;
  napi_value barr, sarr;
  size_t boff, soff;
  uv_loop_t *loop;
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
  if (!get_function(env, argv[2], "onBatch", false, &present)) return NULL;
  if (blen == 0 || blen > INT32_MAX) {
    throw_range(env, "buffer.length", 1, INT32_MAX);
    return NULL;
  }
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    ensure_exception(env);
    return NULL;
  }
  sset *set = calloc(1, sizeof *set);
  if (set == NULL) {
    throw_sys(env, ENOMEM, "malloc", NULL, false);
    return NULL;
  }
  set->loop = loop;
  set->buf = bdata;
  set->buf_len = set->budget = set->max_read = blen;
  set->segs = sdata;
  set->segs_len = slen;
  if (!life_start(&set->life, env, &sset_ops, self, "memlog:StreamSet")) {
    sset_destroy(&set->life);
    return NULL;
  }
  if (napi_create_reference(env, argv[0], 1, &set->buf_ref) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &set->segs_ref) != napi_ok ||
      napi_create_reference(env, argv[2], 1, &set->cb_ref) != napi_ok) {
    ensure_exception(env);
    life_close(&set->life); /* its finalizer frees it */
    return NULL;
  }
  uv_check_init(set->loop, &set->check);
  set->check.data = set;
  life_handle_opened(&set->life);
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
  s->fd = -1; /* the caller's until polling has started */
  s->id = (int32_t)id;
  set->slots[id] = s;
  life_handle_opened(&set->life);
  if (set->life.state == LIFE_OPEN) {
    rc = uv_poll_start(&s->poll, UV_READABLE, sstream_on_poll);
    if (rc < 0) {
      sstream_close(s);
      throw_sys_fd(env, -rc, "uv_poll_start", fd);
      return NULL;
    }
  }
  s->fd = fd; /* from here on the set owns the fd */
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

/* Starts or stops polling every stream that is neither closing nor failed. */
static void sset_poll_all(sset *set, bool on) {
  for (size_t i = 0; i < set->nslots; i++) {
    sstream *s = set->slots[i];
    if (s == NULL || uv_is_closing((uv_handle_t *)&s->poll) || s->error != 0) continue;
    if (on)
      sstream_watch(s);
    else
      uv_poll_stop(&s->poll);
  }
}

/* pause() / resume(): from `from` to `to`, stopping or starting every poll. */
static napi_value sset_switch(napi_env env, napi_callback_info info, life_state from, life_state to) {
  napi_value argv[1];
  sset *set = sset_of(env, info, 0, argv);
  if (set != NULL && set->life.state == from) {
    set->life.state = to;
    sset_poll_all(set, to == LIFE_OPEN);
  }
  return NULL;
}

static napi_value sset_pause(napi_env env, napi_callback_info info) {
  return sset_switch(env, info, LIFE_OPEN, LIFE_PAUSED);
}

static napi_value sset_resume(napi_env env, napi_callback_info info) {
  return sset_switch(env, info, LIFE_PAUSED, LIFE_OPEN);
}

/* Closes every stream's fd; the set is unusable afterwards. Idempotent. */
static napi_value sset_close(napi_env env, napi_callback_info info) {
  napi_value argv[1], self;
  if (!get_args(env, info, 0, argv, &self)) return NULL;
  life *l = life_unwrap(env, self, "StreamSet");
  if (l != NULL) life_close(l);
  return NULL;
}

bool define_stream_set(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"add", NULL, sset_add, NULL, NULL, NULL, napi_default_method, NULL},
      {"remove", NULL, sset_remove, NULL, NULL, NULL, napi_default_method, NULL},
      {"setBudget", NULL, sset_set_budget, NULL, NULL, NULL, napi_default_method, NULL},
      {"pause", NULL, sset_pause, NULL, NULL, NULL, napi_default_method, NULL},
      {"resume", NULL, sset_resume, NULL, NULL, NULL, napi_default_method, NULL},
      {"close", NULL, sset_close, NULL, NULL, NULL, napi_default_method, NULL},
  };
  return export_class(env, exports, "StreamSet", sset_ctor, methods, sizeof methods / sizeof methods[0]);
}
