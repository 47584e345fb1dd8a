/*
 * DgramBatchReceiver: datagrams on a bound AF_UNIX SOCK_DGRAM socket read
 * many at a time (recvmmsg) into a buffer JS gave, with one call into JS per
 * batch. For payloads alone (the syslog socket): fds that come along are
 * closed here and only counted; each datagram's sender (SO_PASSCRED) is
 * reported with it. DgramReceiver (receiver.c) is the one that hands fds on.
 *
 * The buffer is cut into equal slots, one per datagram of a batch; for each
 * datagram of a batch, META_FIELDS numbers in the meta array say where it is
 * and who sent it (see src/native.ts). As with DgramReceiver, a receive
 * error that can only get worse stops it and is reported to onError, or else
 * raised as an uncaught exception.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_SLOT 65536
#define MAX_SLOTS 1024
#define BATCHES_PER_ROUND 16 /* fairness towards the rest of the event loop */

/* Must match DGRAM_BATCH_* in src/native.ts. */
#define META_FIELDS 7 /* offset, length, flags, fdsClosed, pid, uid, gid */
#define FLAG_NAME_TRUNCATED 1
#define FLAG_FDS_TRUNCATED 2
#define FLAG_SENDER_KNOWN 4

typedef struct breceiver {
  polled p; /* first: what the JS object wraps */
  uint8_t *buf;    /* JS's (kept alive by buf_ref) */
  uint32_t *meta;  /* JS's (kept alive by meta_ref) */
  size_t slots, slot_len;
  struct mmsghdr *msgs;
  struct iovec *iovs;
  unsigned char *ctrl; /* slots * ctrl_len; malloc'd, so aligned for struct cmsghdr */
  size_t ctrl_len;
  int *fds;
  size_t fds_cap;
  napi_ref on_batch, on_error, buf_ref, meta_ref; /* on_error may be NULL */
} breceiver;

/* ------------------------------------------------------------------------ */
/* Lifetime (see life in internal.h)                                         */

static void breceiver_stop(life *l) {
  polled_stop(&((breceiver *)l)->p);
}

static void breceiver_release(life *l) {
  breceiver *r = (breceiver *)l;
  napi_ref *refs[] = {&r->on_batch, &r->on_error, &r->buf_ref, &r->meta_ref};
  for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
    if (*refs[i] != NULL) napi_delete_reference(l->env, *refs[i]);
    *refs[i] = NULL;
  }
  r->buf = NULL;
  r->meta = NULL;
}

static void breceiver_destroy(life *l) {
  breceiver *r = (breceiver *)l;
  free(r->msgs);
  free(r->iovs);
  free(r->ctrl);
  free(r->fds);
  free(r);
}

static const life_ops breceiver_ops = {breceiver_stop, breceiver_release, breceiver_destroy};

/* ------------------------------------------------------------------------ */
/* Receiving                                                                 */

/* Calls onBatch(count). Returns false to end this poll round. */
static bool deliver(breceiver *r, size_t count) {
  napi_env env = r->p.life.env;
  napi_handle_scope scope;
  napi_value cb = NULL, arg;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return false;
  bool ok = napi_get_reference_value(env, r->on_batch, &cb) == napi_ok && cb != NULL &&
            napi_create_uint32(env, (uint32_t)count, &arg) == napi_ok;
  napi_status st = ok ? life_call(&r->p.life, cb, 1, &arg) : napi_generic_failure;
  if (st != napi_ok) surface_exception(env);
  napi_close_handle_scope(env, scope);
  return st == napi_ok;
}

/* Stops receiving for good and tells JS (see fail in receiver.c). */
static void fail(breceiver *r, int err, const char *syscall) {
  polled_fail(&r->p, r->on_error, err, syscall, "memlog DgramBatchReceiver");
}

/* One recvmmsg: how many datagrams it took (their meta filled in), 0 for none, -1 after fail(). */
static int receive_batch(breceiver *r) {
  for (size_t i = 0; i < r->slots; i++) {
    struct msghdr *h = &r->msgs[i].msg_hdr;
    r->iovs[i].iov_base = r->buf + i * r->slot_len;
    r->iovs[i].iov_len = r->slot_len;
    memset(h, 0, sizeof *h);
    h->msg_iov = &r->iovs[i];
    h->msg_iovlen = 1;
    h->msg_control = r->ctrl + i * r->ctrl_len;
    h->msg_controllen = r->ctrl_len;
    r->msgs[i].msg_len = 0;
  }
  int n;
  do {
    n = recvmmsg(r->p.fd, r->msgs, (unsigned)r->slots, MSG_DONTWAIT | MSG_CMSG_CLOEXEC, NULL);
  } while (n < 0 && (errno == EINTR || errno == ECONNREFUSED || errno == ECONNRESET || errno == ETIMEDOUT));
  if (n < 0) {
    int e = errno;
    if (dgram_recv_error_is_fatal(e)) {
      fail(r, e, "recvmmsg");
      return -1;
    }
    return 0; /* EAGAIN, or something to retry on the next round */
  }
  for (int i = 0; i < n; i++) {
    struct msghdr *h = &r->msgs[i].msg_hdr;
    sender from = {.known = false};
    /* This socket's datagrams carry no fds for us: each one is closed, and counted. */
    size_t nfds = dgram_take_cmsgs(h, r->fds, r->fds_cap, &from);
    close_fds(r->fds, nfds);
    uint32_t flags = 0;
    if (h->msg_flags & MSG_TRUNC) flags |= FLAG_NAME_TRUNCATED;
    if (h->msg_flags & MSG_CTRUNC) flags |= FLAG_FDS_TRUNCATED;
    if (from.known) flags |= FLAG_SENDER_KNOWN;
    size_t len = r->msgs[i].msg_len > r->slot_len ? r->slot_len : r->msgs[i].msg_len;
    uint32_t *m = r->meta + (size_t)i * META_FIELDS;
    m[0] = (uint32_t)((size_t)i * r->slot_len);
    m[1] = (uint32_t)len;
    m[2] = flags;
    m[3] = (uint32_t)nfds;
    m[4] = from.known ? (uint32_t)from.cred.pid : 0;
    m[5] = from.known ? (uint32_t)from.cred.uid : 0;
    m[6] = from.known ? (uint32_t)from.cred.gid : 0;
  }
  return n;
}

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)events;
  breceiver *r = h->data;
  if (r->p.life.state != LIFE_OPEN) return;
  if (status < 0 && !polled_recover(&r->p, on_poll, r->on_error, "memlog DgramBatchReceiver")) return;
  for (int b = 0; b < BATCHES_PER_ROUND && r->p.life.state == LIFE_OPEN; b++) {
    int n = receive_batch(r);
    if (n <= 0) break;
    if (!deliver(r, (size_t)n)) break;
    /* A batch that did not fill up emptied the queue: no need to ask again now. */
    if ((size_t)n < r->slots) break;
  }
}

/* ------------------------------------------------------------------------ */
/* JS methods                                                                */

static bool get_typed(napi_env env, napi_value v, napi_typedarray_type want, const char *msg, const char *name,
                      void **data, size_t *len) {
  bool is_ta = false;
  napi_typedarray_type type;
  napi_value arr;
  size_t off;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, len, data, &arr, &off) != napi_ok || type != want) {
    throw_type(env, msg, name);
    return false;
  }
  return true;
}

/* new DgramBatchReceiver(fd, buffer, meta, onBatch, onError?) */
static napi_value breceiver_ctor(napi_env env, napi_callback_info info) {
  napi_value argv[5], self, new_target;
  int fd;
  bool present, has_on_error = false;
  void *bdata, *mdata;
  size_t blen, mlen, ctrl_len;

  if (!get_args(env, info, 5, argv, &self)) return NULL;
  if (napi_get_new_target(env, info, &new_target) != napi_ok || new_target == NULL) {
    napi_throw_type_error(env, NULL, "Class constructor DgramBatchReceiver cannot be invoked without 'new'");
    return NULL;
  }
  if (!get_fd(env, argv[0], "fd", &fd)) return NULL;
  if (!get_typed(env, argv[1], napi_uint8_array, "The \"%s\" argument must be a Uint8Array", "buffer", &bdata, &blen))
    return NULL;
  if (!get_typed(env, argv[2], napi_uint32_array, "The \"%s\" argument must be a Uint32Array", "meta", &mdata, &mlen))
    return NULL;
  if (!get_function(env, argv[3], "onBatch", false, &present)) return NULL;
  if (!get_function(env, argv[4], "onError", true, &has_on_error)) return NULL;
  size_t slots = mlen / META_FIELDS;
  if (slots < 1 || slots > MAX_SLOTS) {
    throw_range(env, "meta.length / 7", 1, MAX_SLOTS);
    return NULL;
  }
  size_t slot_len = blen / slots;
  if (slot_len < 1 || slot_len > MAX_SLOT) {
    throw_range(env, "buffer.length / slots", 1, MAX_SLOT);
    return NULL;
  }
  if (!dgram_prepare_socket(env, fd, MAX_FDS_PER_MSG, &ctrl_len)) return NULL;

  breceiver *r = calloc(1, sizeof *r);
  if (r == NULL) {
    throw_sys(env, ENOMEM, "malloc", NULL, false);
    return NULL;
  }
  r->p.fd = -1; /* the caller's until the handle is started */
  r->buf = bdata;
  r->meta = mdata;
  r->slots = slots;
  r->slot_len = slot_len;
  r->ctrl_len = ctrl_len;
  r->fds_cap = ctrl_len / sizeof(int);
  r->msgs = calloc(slots, sizeof *r->msgs);
  r->iovs = calloc(slots, sizeof *r->iovs);
  r->ctrl = malloc(slots * ctrl_len);
  r->fds = malloc(r->fds_cap * sizeof(int));
  if (r->msgs == NULL || r->iovs == NULL || r->ctrl == NULL || r->fds == NULL) {
    breceiver_destroy(&r->p.life);
    throw_sys(env, ENOMEM, "malloc", NULL, false);
    return NULL;
  }
  if (!life_start(&r->p.life, env, &breceiver_ops, self, "memlog:DgramBatchReceiver")) {
    breceiver_destroy(&r->p.life);
    return NULL;
  }
  /* From here on a failure closes the object; its finalizer frees it. */
  if (napi_create_reference(env, argv[1], 1, &r->buf_ref) != napi_ok ||
      napi_create_reference(env, argv[2], 1, &r->meta_ref) != napi_ok ||
      napi_create_reference(env, argv[3], 1, &r->on_batch) != napi_ok ||
      (has_on_error && napi_create_reference(env, argv[4], 1, &r->on_error) != napi_ok)) {
    ensure_exception(env);
    life_close(&r->p.life);
    return NULL;
  }
  return polled_start(env, &r->p, fd, on_poll) ? self : NULL;
}

bool define_batch_receiver(napi_env env, napi_value exports) {
  return export_polled_class(env, exports, "DgramBatchReceiver", breceiver_ctor);
}
