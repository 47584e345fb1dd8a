/*
 * execvp: this process becomes another program, as a shell's `exec` does
 * (the launcher's -no-tee, which leaves nothing of Node behind).
 *
 * The program starts as if spawned afresh, not with what Node set up for
 * itself: every signal at its default disposition (Node ignores SIGPIPE and
 * SIGXFSZ, and a caught signal would become default anyway), an empty signal
 * mask, the given fds as 0, 1 and 2, and no other fd (Node keeps even the
 * fds it inherited from its children, uv_disable_stdio_inheritance; ours are
 * all close-on-exec anyway; close_range makes sure).
 *
 * If execvp fails, the signals and fds 0..2 are put back as they were and
 * a system error is thrown; only the close-on-exec flag stays on every fd
 * above 2, which matters to nobody but a later exec.
 */
#include "internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* What to put back if execvp fails. */
typedef struct undo {
  sigset_t mask;               /* this thread's signal mask before */
  struct sigaction acts[NSIG]; /* each signal's disposition before */
  bool act_saved[NSIG];        /* acts[sig] holds it (glibc keeps a few real-time signals to itself) */
  int std[3];                  /* a copy of fd i before, or -1 if fd i was closed */
  int std_flags[3];            /* fd i's F_GETFD flags before */
  bool std_saved[3];
} undo;

/* Blocks every signal in this thread, so that no handler of ours runs
 * halfway, and sets every disposition to the default. */
static void signals_to_default(undo *u) {
  sigset_t all;
  struct sigaction dfl;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &u->mask);
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    u->act_saved[sig] = sigaction(sig, &dfl, &u->acts[sig]) == 0;
  }
}

static void signals_restore(undo *u) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, NULL);
  for (int sig = 1; sig < NSIG; sig++)
    if (u->act_saved[sig]) sigaction(sig, &u->acts[sig], NULL);
  pthread_sigmask(SIG_SETMASK, &u->mask, NULL);
}

/* Puts stdio[i] at fd i (0..2), without close-on-exec, keeping copies of
 * what was there. Through copies above 2 first, so that any mapping works
 * (stdout and stderr swapped, say). Returns 0 or an errno, with *bad_fd the
 * fd it failed on. */
static int stdio_place(undo *u, const int stdio[3], int *bad_fd) {
  int tmp[3] = {-1, -1, -1};
  int err = 0;
  for (int i = 0; i < 3; i++) {
    u->std_flags[i] = fcntl(i, F_GETFD);
    u->std[i] = u->std_flags[i] < 0 ? -1 : fcntl(i, F_DUPFD_CLOEXEC, 3);
    if (u->std_flags[i] >= 0 && u->std[i] < 0) {
      err = errno;
      *bad_fd = i;
      goto out;
    }
    u->std_saved[i] = true;
  }
  for (int i = 0; i < 3; i++) {
    tmp[i] = fcntl(stdio[i], F_DUPFD_CLOEXEC, 3);
    if (tmp[i] < 0) {
      err = errno;
      *bad_fd = stdio[i];
      goto out;
    }
  }
  for (int i = 0; i < 3; i++) {
    /* dup2 onto another fd number clears close-on-exec on it. */
    if (dup2(tmp[i], i) < 0) {
      err = errno;
      *bad_fd = i;
      goto out;
    }
  }
out:
  for (int i = 0; i < 3; i++)
    if (tmp[i] >= 0) close(tmp[i]);
  return err;
}

static void stdio_restore(undo *u) {
  for (int i = 0; i < 3; i++) {
    if (!u->std_saved[i]) continue;
    if (u->std[i] < 0) {
      close(i);
      continue;
    }
    dup2(u->std[i], i);
    fcntl(i, F_SETFD, u->std_flags[i]);
    close(u->std[i]);
  }
}

/* Every fd above 2 close-on-exec. Returns 0 or an errno (*call names what failed). */
static int others_cloexec(const char **call) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return 0;
#endif
  /* Before Linux 5.11: each fd /proc lists. */
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL) {
    *call = "opendir /proc/self/fd";
    return errno;
  }
  int own = dirfd(d);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    char *end;
    long fd = strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd < 3 || fd == own) continue;
    int fl = fcntl((int)fd, F_GETFD);
    if (fl >= 0 && !(fl & FD_CLOEXEC)) fcntl((int)fd, F_SETFD, fl | FD_CLOEXEC);
  }
  closedir(d);
  return 0;
}

/* A non-empty JS array of strings as a NULL-terminated argv (free with free_argv). */
static bool get_argv(napi_env env, napi_value v, char ***out) {
  bool is_array = false;
  uint32_t n = 0;
  *out = NULL;
  if (napi_is_array(env, v, &is_array) != napi_ok) {
    ensure_exception(env);
    return false;
  }
  if (is_array && napi_get_array_length(env, v, &n) != napi_ok) {
    ensure_exception(env);
    return false;
  }
  if (!is_array || n == 0) {
    throw_type(env, "The \"%s\" argument must be a non-empty array of strings", "argv");
    return false;
  }
  char **argv = calloc((size_t)n + 1, sizeof *argv);
  if (argv == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return false;
  }
  *out = argv;
  for (uint32_t i = 0; i < n; i++) {
    napi_value el;
    char name[32];
    snprintf(name, sizeof name, "argv[%u]", i);
    if (napi_get_element(env, v, i, &el) != napi_ok) {
      ensure_exception(env);
      return false;
    }
    if (!get_cstring(env, el, name, &argv[i], NULL)) return false;
  }
  return true;
}

static void free_argv(char **argv) {
  if (argv == NULL) return;
  for (char **a = argv; *a != NULL; a++) free(*a);
  free(argv);
}

/* [fd0, fd1, fd2]: what the program gets as stdin, stdout and stderr. */
static bool get_stdio(napi_env env, napi_value v, int stdio[3]) {
  bool is_array = false;
  uint32_t n = 0;
  if (napi_is_array(env, v, &is_array) != napi_ok ||
      (is_array && napi_get_array_length(env, v, &n) != napi_ok)) {
    ensure_exception(env);
    return false;
  }
  if (!is_array || n != 3) {
    throw_type(env, "The \"%s\" argument must be an array of 3 fds", "stdio");
    return false;
  }
  for (uint32_t i = 0; i < 3; i++) {
    napi_value el;
    if (napi_get_element(env, v, i, &el) != napi_ok) {
      ensure_exception(env);
      return false;
    }
    if (!get_fd(env, el, "stdio", &stdio[i])) return false;
  }
  return true;
}

/* execvp(file, argv, [fd0, fd1, fd2]): returns only by throwing. */
static napi_value js_execvp(napi_env env, napi_callback_info info) {
  napi_value args[3];
  char *file = NULL;
  char **argv = NULL;
  int stdio[3];
  if (!get_args(env, info, 3, args, NULL)) return NULL;
  if (!get_cstring(env, args[0], "file", &file, NULL)) return NULL;
  if (!get_argv(env, args[1], &argv) || !get_stdio(env, args[2], stdio)) goto out;

  undo *u = calloc(1, sizeof *u);
  if (u == NULL) {
    throw_sys(env, ENOMEM, "execvp", file, true);
    goto out;
  }
  const char *call = "dup";
  int bad_fd = -1;
  signals_to_default(u);
  int err = stdio_place(u, stdio, &bad_fd);
  if (err == 0) {
    err = others_cloexec(&call);
    if (err == 0) {
      sigset_t none, all;
      sigemptyset(&none);
      pthread_sigmask(SIG_SETMASK, &none, NULL);
      execvp(file, argv);
      err = errno;
      call = "execvp";
      sigfillset(&all);
      pthread_sigmask(SIG_SETMASK, &all, NULL);
    }
  }
  stdio_restore(u);
  signals_restore(u);
  free(u);
  if (strcmp(call, "execvp") == 0)
    throw_sys(env, err, "execvp", file, true);
  else if (bad_fd >= 0)
    throw_sys_fd(env, err, call, bad_fd);
  else
    throw_sys(env, err, call, NULL, false);
out:
  free_argv(argv);
  free(file);
  return NULL;
}

bool define_exec(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"execvp", NULL, js_execvp, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns) == napi_ok;
}
