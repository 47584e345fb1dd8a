/*
 * memlog_native: the bits of memlogd that Node cannot do by itself, chiefly
 * passing file descriptors over AF_UNIX datagram sockets (SCM_RIGHTS).
 *
 * What the parts of the addon share. Conventions: every fd we create is
 * close-on-exec; every error path closes whatever it created; errors are
 * thrown (or rejected, or reported) shaped like Node's system errors.
 *
 *   errors.c      errors and argument helpers
 *   lifetime.c    the one lifetime model of every object holding uv handles
 *   functions.c   socketpair, bindDgram, bindListen, mkfifo, dup, fdInfo, clockRealtime, peerCred, tcpQuickAck
 *   exec.c        execvp: the process becomes another program (the launcher's -no-tee)
 *   send.c        sendFds, sendFdsAsync
 *   receiver.c    DgramReceiver, and what both datagram receivers share
 *   batch_receiver.c  DgramBatchReceiver
 *   stream_set.c  StreamSet
 *   module.c      module init
 */
#ifndef MEMLOG_INTERNAL_H
#define MEMLOG_INTERNAL_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <node_api.h>
#include <uv.h>

#define MAX_FDS_PER_MSG 253 /* SCM_MAX_FD in the kernel */

/* ------------------------------------------------------------------------ */
/* errors.c: errors (each leaves an exception pending)                       */

/* Makes sure some exception is pending after a failed N-API call. */
void ensure_exception(napi_env env);
bool set_prop_str(napi_env env, napi_value obj, const char *key, const char *val);
/*
 * Error("<syscall> <what>: <strerror>") with code/errno/syscall (and path
 * when `is_path`), like Node's system errors; errno is negative, as in Node.
 * Returns NULL (with an exception pending) if it could not be made.
 */
napi_value sys_error(napi_env env, int err, const char *syscall, const char *what, bool is_path);
void throw_sys(napi_env env, int err, const char *syscall, const char *what, bool is_path);
void throw_sys_fd(napi_env env, int err, const char *syscall, int fd);
void throw_type(napi_env env, const char *fmt, const char *name);
void throw_range(napi_env env, const char *name, int64_t lo, int64_t hi);
/* Reports a pending JS exception as uncaught; returns whether there was one. */
bool surface_exception(napi_env env);

/* errors.c: argument helpers (each returns false with an exception pending) */

bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, napi_value *self);
bool get_int(napi_env env, napi_value v, const char *name, int64_t lo, int64_t hi, int64_t *out);
bool get_fd(napi_env env, napi_value v, const char *name, int *fd);
/* Whether v is a function; undefined is allowed (and reads as absent) when `optional`. */
bool get_function(napi_env env, napi_value v, const char *name, bool optional, bool *present);
/* A JS string with no NUL in it, as a malloc'd C string (its length in *len_out if not NULL). */
bool get_cstring(napi_env env, napi_value v, const char *name, char **out, size_t *len_out);
/* A JS path string as a sockaddr_un; *path_out (malloc'd, for messages) must be freed. */
bool get_unix_addr(napi_env env, napi_value v, const char *syscall, struct sockaddr_un *sa,
                   socklen_t *salen, char **path_out);

void close_fds(const int *fds, size_t n);

/* ------------------------------------------------------------------------ */
/* lifetime.c: the lifetime of everything that holds uv handles              */

/*
 * One model for DgramReceiver, StreamSet and a pending sendFdsAsync:
 *
 * - While open, the object pins its JS wrapper (self_ref), like an active Node
 *   handle, and an async cleanup hook makes environment teardown (a Worker
 *   exiting) close it and wait for its uv handles to close.
 * - life_close() (from JS close(), the cleanup hook, or the finalizer of an
 *   object that was somehow still open) moves it to LIFE_CLOSED once: it
 *   releases the JS references (after the outermost call into JS, if inside
 *   one) and calls ops->stop, which uv_close()s every handle.
 * - The struct is freed (ops->destroy) once it is closed, every handle it
 *   counted has closed, no call into JS is in progress and no JS wrapper
 *   points at it any more (its finalizer ran, or it never had one).
 */
typedef enum {
  LIFE_OPEN,   /* running */
  LIFE_PAUSED, /* open, not reading (StreamSet.pause) */
  LIFE_FAILED, /* open, stopped by a fatal error JS has been told of; close() is still to come */
  LIFE_CLOSED, /* closed: JS references released, uv handles closing or closed */
} life_state;

typedef struct life life;

typedef struct life_ops {
  void (*stop)(life *l);    /* uv_close every handle; each close callback calls life_handle_closed */
  void (*release)(life *l); /* deletes the object's own JS references (may be NULL) */
  void (*destroy)(life *l); /* frees the object and closes whatever fds it still owns */
} life_ops;

struct life {
  napi_env env;
  const life_ops *ops;
  life_state state;
  unsigned handles; /* uv handles initialised and not yet closed */
  unsigned calls;   /* calls into JS in progress */
  bool wrapped;     /* a JS object still wraps the struct (its finalizer has not run) */
  napi_ref self_ref;
  napi_async_context async_ctx;
  napi_async_cleanup_hook_handle hook;
};

/*
 * Sets up the JS side: async context, cleanup hook and, if `self` is given,
 * the wrap (with a finalizer) and self_ref. All or nothing: on failure it
 * returns false with an exception pending and the caller frees the struct.
 */
bool life_start(life *l, napi_env env, const life_ops *ops, napi_value self, const char *resource);
/* The object that wraps `self`, or NULL with an exception pending. */
life *life_unwrap(napi_env env, napi_value self, const char *what);
/* Idempotent. Frees the struct at once if nothing holds it any more (no
 * handle, no JS wrapper): only a wrapped object may be touched afterwards. */
void life_close(life *l);
/* Counts a uv handle (call after its uv_*_init succeeded) / notes one closed. */
void life_handle_opened(life *l);
void life_handle_closed(life *l);
/* napi_make_callback within the object's async context, tracked in l->calls. */
napi_status life_call(life *l, napi_value cb, size_t argc, const napi_value *argv);
/* Defines the class `name` (constructor and methods) on exports. */
bool export_class(napi_env env, napi_value exports, const char *name, napi_callback ctor,
                  const napi_property_descriptor *methods, size_t nmethods);

/* ------------------------------------------------------------------------ */
/* polled.c: an object that watches one fd with a uv_poll_t                  */

/* The head of DgramReceiver and DgramBatchReceiver. */
typedef struct polled {
  life life; /* first: what the JS object wraps */
  uv_poll_t poll;
  int fd; /* closed with the handle; -1 if a failed constructor leaves it to the caller */
} polled;

/* Starts watching fd for reading (after life_start): on success p->fd is fd;
 * on failure the object is closed, the fd stays the caller's, an exception is
 * pending and it returns false. */
bool polled_start(napi_env env, polled *p, int fd, uv_poll_cb on_poll);
/* life_ops.stop for such an object: stops watching; the fd closes with the handle. */
void polled_stop(polled *p);
/* Stops watching for good and tells JS: on_error(error) if given, else an
 * uncaught exception. The fd stays open until close(). who names the class. */
void polled_fail(polled *p, napi_ref on_error, int err, const char *syscall, const char *who);
/* After a poll callback's status < 0: clears a pending socket error and
 * watches again; false (JS told, as polled_fail) if the fd cannot go on. */
bool polled_recover(polled *p, uv_poll_cb on_poll, napi_ref on_error, const char *who);
/* Defines class `name` with the methods close(), unref() and ref(). */
bool export_polled_class(napi_env env, napi_value exports, const char *name, napi_callback ctor);

/* ------------------------------------------------------------------------ */
/* receiver.c: what DgramReceiver and DgramBatchReceiver share               */

/* The sender of one datagram (SO_PASSCRED), if the kernel said. */
typedef struct sender {
  struct ucred cred;
  bool known;
} sender;

/* Checks the fd is a SOCK_DGRAM socket, makes it nonblocking and close-on-exec,
 * turns on SO_PASSCRED, and sizes the control buffer one datagram needs for
 * max_fds fds and the credentials; false with an exception pending. */
bool dgram_prepare_socket(napi_env env, int fd, int64_t max_fds, size_t *ctrl_len);
/* One datagram's cmsgs: up to cap SCM_RIGHTS fds into fds (any others are
 * closed), the credentials into from; returns how many fds were collected. */
size_t dgram_take_cmsgs(struct msghdr *msg, int *fds, size_t cap, sender *from);
/* After POLLERR: 0 if the socket merely had a pending error (now cleared), else why not. */
int dgram_clear_error(int fd);
/* Whether a receive error means the fd is no longer a working socket. */
bool dgram_recv_error_is_fatal(int e);

/* ------------------------------------------------------------------------ */
/* What each part adds to the exports                                        */

bool define_functions(napi_env env, napi_value exports);
bool define_exec(napi_env env, napi_value exports);
bool define_send(napi_env env, napi_value exports);
bool define_receiver(napi_env env, napi_value exports);
bool define_batch_receiver(napi_env env, napi_value exports);
bool define_stream_set(napi_env env, napi_value exports);

#endif
