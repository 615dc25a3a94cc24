/*
 * clock.h - the monotonic clock, the one time source for timeouts,
 * deadlines and latencies in src/ (wall-clock time is only for log and
 * metrics timestamps).
 */
#ifndef MTE_CLOCK_H
#define MTE_CLOCK_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t clock_ms(void);

/* Seconds on CLOCK_MONOTONIC, with nanosecond resolution (for latencies). */
double clock_s(void);

#endif
