/*
 * prefork.h - the listening socket, the worker pool and its supervision.
 *
 * The parent binds, forks the workers and supervises them: a worker that
 * dies is logged and replaced (with backoff when workers keep dying).  On
 * SIGTERM or SIGINT the parent closes its listener, asks every worker to
 * stop (SIGTERM), waits up to the drain timeout for in-flight requests to
 * finish, kills what is left, and returns 0.
 */
#ifndef MTE_PREFORK_H
#define MTE_PREFORK_H

#include <signal.h>
#include <stddef.h>
#include "limits.h"


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

/*
 * Runs the pool until SIGTERM/SIGINT and the drain; returns the exit status
 * for the parent (0).  Must be called once, in the parent.
 */
int  prefork_run(int listen_fd, unsigned workers, unsigned drain_timeout_s,
         prefork_worker_fn fn, void *arg);

/*
 * In a worker: non-zero once the worker has been asked to stop.  Code that
 * waits for the next request of a keep-alive connection checks this and
 * closes; a request in flight is finished first.
 */
int  prefork_stopping(void);

/*
 * In a worker: waits until listen_fd is readable or the worker is asked to
 * stop, then accepts.  Returns the connected fd, or -1 when the worker
 * should exit.  peer receives the peer's address as text.
 */
int  prefork_accept(int listen_fd, char *peer, size_t peer_cap);


#endif
