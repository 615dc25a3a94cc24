/*
 * prefork.h - the listening socket, the elastic worker pool and its
 * supervision.
 *
 * The parent binds, forks the workers and supervises them through a
 * scoreboard in shared memory (each worker's state and requests served).
 * Every PREFORK_TICK_MS it reads the scoreboard: when fewer than
 * MIN_SPARE_WORKERS are idle (counting the connections waiting in the listen
 * queue as a shortage) it forks more, up to MAX_POOL_SIZE, a batch that
 * starts at 1 and doubles each tick the shortage lasts (PREFORK_SPAWN_BATCH_MAX);
 * idle workers above MAX_SPARE_WORKERS that stayed idle PREFORK_RETIRE_IDLE_MS
 * are retired (SIGTERM; they hold no connection).  A worker that dies is
 * logged and replaced: at once when it died serving (a poisoned request must
 * not take capacity away), with a per-slot backoff when it died before it
 * could accept (a start-up failure would repeat).  On SIGTERM or SIGINT the
 * parent closes its listener, asks every worker to stop, waits up to the
 * drain timeout for in-flight requests to finish, kills what is left, and
 * returns 0.  On SIGHUP it calls prefork_config.reload and, when that asks
 * for it, renews every worker (see there).
 *
 * Under pressure (the pool at its ceiling, no idle worker, connections
 * waiting) the parent publishes a rate floor, from 2 x CONN_MIN_RATE_BPS
 * doubling every PREFORK_PRESSURE_STEP_MS up to CONN_PRESSURE_RATE_MAX_BPS;
 * conn closes the connections whose peers move fewer bytes per second.
 */
#ifndef MTE_PREFORK_H
#define MTE_PREFORK_H

#include <signal.h>
#include <stddef.h>
#include "limits.h"
#include "metrics.h"


/*
 * Binds a listening TCP socket on addr ("::" is IPv4 and IPv6 any, falling
 * back to "0.0.0.0" where IPv6 is missing) and port; 0 picks a free port.
 * Returns the non-blocking fd, or -1 with a message in err.  *bound_port
 * receives the port actually bound.
 */
int  prefork_listen(const char *addr, unsigned port, unsigned *bound_port,
         char *err, size_t err_cap);

/* Called in each worker process; returns when the worker should exit. */
typedef void (*prefork_worker_fn)(int listen_fd, void *arg);

struct prefork_config {
	unsigned max_workers;       /* MAX_POOL_SIZE, 1..WORKERS_MAX */
	unsigned min_spare;         /* MIN_SPARE_WORKERS */
	unsigned max_spare;         /* MAX_SPARE_WORKERS, >= min_spare */
	unsigned drain_timeout_s;   /* DRAIN_TIMEOUT */
	int    (*reload)(void);     /* NULL, or called in the parent on SIGHUP:
	                             * non-zero renews the pool (every worker is
	                             * asked to stop as on SIGTERM: it finishes
	                             * the request in flight, answered with
	                             * "Connection: close"; new workers, forked
	                             * from the parent as it is now, take over) */
};

/*
 * Runs the pool until SIGTERM/SIGINT and the drain; returns the exit status
 * for the parent (0, or 1 when the scoreboard cannot be mapped).  Must be
 * called once, in the parent.
 */
int  prefork_run(int listen_fd, const struct prefork_config *pc,
         prefork_worker_fn fn, void *arg);

/* ---- in a worker ---- */

/* Publishes what this worker does now (WS_READING .. WS_KEEPALIVE; the pool
 * sets WS_STARTING, WS_IDLE and WS_DRAINING itself).  No-op outside a worker. */
void prefork_set_state(enum worker_state st);

/* Counts one request served by this worker on the scoreboard. */
void prefork_count_request(void);

/* 1 when the pool is at MAX_POOL_SIZE with no idle worker (as of the
 * parent's last tick): only then does a kept-alive connection give way. */
int  prefork_at_ceiling(void);

/* The pressure floor in bytes/s, 0 without pressure. */
unsigned prefork_pressure_floor(void);

/* ---- the pool's decisions, pure (unit-tested) ---- */

struct prefork_view {
	unsigned live;          /* workers alive, not retiring */
	unsigned idle;          /* of those, waiting to accept */
	unsigned starting;      /* of those, forked but not yet accepting, plus
	                         * replacements due */
	unsigned queue;         /* connections in the listen queue */
	unsigned idle_long;     /* idle workers idle PREFORK_RETIRE_IDLE_MS or more */
	unsigned batch;         /* this tick's spawn batch (1 .. PREFORK_SPAWN_BATCH_MAX) */
};

struct prefork_plan {
	unsigned spawn;         /* workers to fork now */
	unsigned retire;        /* idle workers to retire now */
	unsigned next_batch;    /* the batch of the next tick */
};

void prefork_plan(const struct prefork_config *pc, const struct prefork_view *v,
         struct prefork_plan *out);

/* The pressure floor after one tick: 0 without pressure; else starts at
 * 2 x CONN_MIN_RATE_BPS and doubles when *since_ms is PREFORK_PRESSURE_STEP_MS
 * old, up to CONN_PRESSURE_RATE_MAX_BPS (*since_ms: when it last changed). */
unsigned prefork_floor(unsigned floor, int pressure, long long now_ms, long long *since_ms);

/*
 * In a worker: non-zero once the worker has been asked to stop.  Code that
 * waits for the next request of a keep-alive connection checks this and
 * closes; a request in flight is finished first.
 */
int  prefork_stopping(void);

/* In a worker: non-zero when the stop is a renewal (SIGHUP), not a
 * shutdown: the first request of a connection already accepted is still
 * served (conn_config.renewing). */
int  prefork_renewing(void);

/*
 * In the parent, before prefork_run: a second listening socket (the
 * outbound listener, PROTOCOL.md section 14) that every worker accepts on
 * beside listen_fd; -1: none.  Closed with listen_fd on shutdown.
 */
void prefork_set_second_listener(int fd);

/*
 * In a worker: waits until listen_fd (or the second listener) is readable
 * or the worker is asked to stop, then accepts.  Returns the connected fd,
 * or -1 when the worker should exit.  peer receives the peer's address as
 * text; *second (may be NULL) is 1 when the connection came from the
 * second listener, else 0.
 */
int  prefork_accept(int listen_fd, char *peer, size_t peer_cap, int *second);


#endif
