/* Time and CPU readings the bench's C helpers report (included by each; one copy). */
#ifndef MEMLOG_BENCH_HELPER_CLOCK_H
#define MEMLOG_BENCH_HELPER_CLOCK_H
#include <sys/resource.h>
#include <time.h>

static unsigned long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

static long long cpu_micros(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec + (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
}
#endif
