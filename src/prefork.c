/* prefork.c - listener, worker pool, supervision and drain (see prefork.h). */
#include "prefork.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"

static volatile sig_atomic_t worker_stop;
/* In a worker: its copy of the listening socket, and /dev/null to put in
 * its place on SIGTERM (dup2 keeps the fd number from being reused). */
static int worker_listen_fd = -1;
static int second_fd = -1;              /* prefork_set_second_listener */
static int worker_null_fd = -1;

/* The scoreboard: one entry per slot of the pool, in memory shared by the
 * parent and every worker (mapped before the first fork).  Workers write
 * their own entry; the parent reads them all and writes the header. */
struct board_slot {
	atomic_int       state;         /* enum worker_state */
	atomic_llong     idle_since;    /* clock_ms() when it became idle */
	atomic_ullong    requests;      /* served by this slot's current worker */
	atomic_int       renew;         /* set before SIGTERM when renewed (SIGHUP) */
};

struct board {
	atomic_uint      floor_bps;     /* the pressure floor, 0: no pressure */
	atomic_int       at_ceiling;    /* MAX_POOL_SIZE live, none idle */
	struct board_slot slot[];
};

_Static_assert(ATOMIC_INT_LOCK_FREE == 2 && ATOMIC_LLONG_LOCK_FREE == 2,
    "scoreboard atomics must be lock-free");

static struct board *board;
static size_t board_size;
/* In a worker: its slot; -1 in the parent.  Its epoll instance (-1: ppoll). */
static int worker_slot = -1;
static int worker_epfd = -1;

int
prefork_stopping(void)
{
	return worker_stop != 0;
}

static struct board_slot *
my_slot(void)
{
	return board != NULL && worker_slot >= 0 ? &board->slot[worker_slot] : NULL;
}

void
prefork_set_state(enum worker_state st)
{
	struct board_slot *b = my_slot();

	if (b == NULL)
		return;
	if (st == WS_IDLE)
		atomic_store_explicit(&b->idle_since, clock_ms(), memory_order_relaxed);
	atomic_store_explicit(&b->state, (int)st, memory_order_relaxed);
}

void
prefork_count_request(void)
{
	struct board_slot *b = my_slot();

	if (b != NULL)
		atomic_fetch_add_explicit(&b->requests, 1, memory_order_relaxed);
}

int
prefork_renewing(void)
{
	struct board_slot *b = my_slot();

	return worker_stop != 0 && b != NULL &&
	    atomic_load_explicit(&b->renew, memory_order_relaxed) != 0;
}

int
prefork_at_ceiling(void)
{
	return board != NULL && atomic_load_explicit(&board->at_ceiling, memory_order_relaxed);
}

unsigned
prefork_pressure_floor(void)
{
	return board != NULL ? atomic_load_explicit(&board->floor_bps, memory_order_relaxed) : 0;
}

static int
listen_on(int family, const char *addr, unsigned port, char *err, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1, zero = 0;

	memset(&ss, 0, sizeof ss);
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)port);
		if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1) {
			snprintf(err, cap, "BIND %s is not an IPv6 address", addr);
			return -1;
		}
		sl = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)port);
		if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1) {
			snprintf(err, cap, "BIND %s is not an IPv4 address", addr);
			return -1;
		}
		sl = sizeof *s4;
	}
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, cap, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (family == AF_INET6 && strcmp(addr, "::") == 0)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, PREFORK_BACKLOG) < 0) {
		snprintf(err, cap, "cannot listen on %s port %u: %s", addr, port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
prefork_listen(const char *addr, unsigned port, unsigned *bound_port, char *err, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	int fd;

	if (strchr(addr, ':') != NULL) {
		fd = listen_on(AF_INET6, addr, port, err, cap);
		/* No IPv6 on this host: "::" falls back to IPv4 any. */
		if (fd < 0 && strcmp(addr, "::") == 0 &&
		    (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL))
			fd = listen_on(AF_INET, "0.0.0.0", port, err, cap);
	} else {
		fd = listen_on(AF_INET, addr, port, err, cap);
	}
	if (fd < 0)
		return -1;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		*bound_port = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	else
		*bound_port = port;
	return fd;
}

static void
on_worker_term(int sig)
{
	int saved = errno;

	(void)sig;
	worker_stop = 1;
	/* Let go of the listening socket at once: when every process has, new
	 * connections are refused instead of waiting out the drain in the
	 * backlog.  dup2 is async-signal-safe. */
	if (worker_listen_fd >= 0 && worker_null_fd >= 0)
		(void)dup2(worker_null_fd, worker_listen_fd);
	if (second_fd >= 0 && worker_null_fd >= 0)
		(void)dup2(worker_null_fd, second_fd);
	errno = saved;
}

/* Waits until the listening socket may have a connection (or for
 * PREFORK_ACCEPT_RECHECK_MS); < 0 with errno on failure.  An epoll instance
 * with EPOLLEXCLUSIVE wakes one idle worker per connection instead of the
 * whole pool. */
static int
wait_listen(int listen_fd, const sigset_t *open_mask)
{
	struct pollfd pfd[2] = { { .fd = listen_fd, .events = POLLIN },
	    { .fd = second_fd, .events = POLLIN } };
	struct timespec ts = { PREFORK_ACCEPT_RECHECK_MS / 1000,
	    (PREFORK_ACCEPT_RECHECK_MS % 1000) * 1000000L };
	struct epoll_event ev;

	if (worker_epfd >= 0)
		return epoll_pwait(worker_epfd, &ev, 1, PREFORK_ACCEPT_RECHECK_MS, open_mask);
	return ppoll(pfd, second_fd >= 0 ? 2 : 1, &ts, open_mask);
}

void
prefork_set_second_listener(int fd)
{
	second_fd = fd;
}

int
prefork_accept(int listen_fd, char *peer, size_t peer_cap, int *second)
{
	sigset_t open_mask;

	/* SIGTERM stays blocked except inside the wait, so a stop request can
	 * never slip in between the check and the wait. */
	sigprocmask(SIG_BLOCK, NULL, &open_mask);
	sigdelset(&open_mask, SIGTERM);
	prefork_set_state(WS_IDLE);
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		int fd;

		if (worker_stop)
			return -1;
		if (wait_listen(listen_fd, &open_mask) < 0) {
			if (errno == EINTR)
				continue;
			log_msg(LOG_ERROR, "worker poll failed: %s", strerror(errno));
			return -1;
		}
		/* Both sockets are non-blocking: whichever has a connection. */
		fd = accept4(listen_fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
		if (second != NULL)
			*second = 0;
		if (fd < 0 && second_fd >= 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			sl = sizeof ss;
			fd = accept4(second_fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
			if (second != NULL)
				*second = 1;
		}
		if (fd < 0) {
			/* Another worker took it, or the peer gave up: wait again. */
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
			    errno == ECONNABORTED || errno == EPROTO)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				log_msg(LOG_ERROR, "accept: %s", strerror(errno));
				usleep(100000);
				continue;
			}
			log_msg(LOG_ERROR, "accept failed: %s", strerror(errno));
			return -1;
		}
		peer[0] = '\0';
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &s6->sin6_addr, peer, (socklen_t)peer_cap);
			/* Show v4-mapped peers as plain IPv4. */
			if (strncmp(peer, "::ffff:", 7) == 0 && strchr(peer + 7, '.') != NULL)
				memmove(peer, peer + 7, strlen(peer + 7) + 1);
		} else if (ss.ss_family == AF_INET) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, peer,
			    (socklen_t)peer_cap);
		}
		prefork_set_state(WS_READING);
		return fd;
	}
}

/* ---- the pool's decisions ---- */

static unsigned
min_u(unsigned a, unsigned b)
{
	return a < b ? a : b;
}

void
prefork_plan(const struct prefork_config *pc, const struct prefork_view *v,
    struct prefork_plan *out)
{
	unsigned have = v->idle + v->starting;
	unsigned want = pc->min_spare + v->queue;
	unsigned room = pc->max_workers > v->live ? pc->max_workers - v->live : 0;
	unsigned batch = v->batch == 0 ? 1 : min_u(v->batch, PREFORK_SPAWN_BATCH_MAX);

	out->spawn = want > have ? min_u(min_u(want - have, batch), room) : 0;
	/* The batch doubles while the shortage lasts and the pool can grow. */
	out->next_batch = want > have && room > out->spawn ?
	    min_u(batch * 2, PREFORK_SPAWN_BATCH_MAX) : 1;
	out->retire = 0;
	if (v->queue == 0 && v->idle > pc->max_spare)
		out->retire = min_u(v->idle - pc->max_spare, v->idle_long);
}

unsigned
prefork_floor(unsigned floor, int pressure, long long now_ms, long long *since_ms)
{
	if (!pressure)
		return 0;
	if (floor == 0) {
		*since_ms = now_ms;
		return min_u(2 * CONN_MIN_RATE_BPS, CONN_PRESSURE_RATE_MAX_BPS);
	}
	if (now_ms - *since_ms >= PREFORK_PRESSURE_STEP_MS && floor < CONN_PRESSURE_RATE_MAX_BPS) {
		*since_ms = now_ms;
		floor = floor > CONN_PRESSURE_RATE_MAX_BPS / 2 ? CONN_PRESSURE_RATE_MAX_BPS : floor * 2;
	}
	return floor;
}

/* ---- supervision ---- */

struct slot {
	pid_t     pid;          /* 0: empty */
	long long started;      /* ms */
	long long respawn_at;   /* ms; when replace */
	unsigned  backoff_ms;   /* start-up deaths of this slot */
	bool      replace;      /* died: a replacement is due at respawn_at */
	bool      retiring;     /* sent SIGTERM to shrink the pool */
};

struct pool {
	const struct prefork_config *pc;
	int               listen_fd;
	prefork_worker_fn fn;
	void             *arg;
	struct slot      *slots;        /* pc->max_workers */
	unsigned          batch;
	unsigned          floor;
	long long         floor_since;
	long long         hold_until;   /* no growth before (a start-up crash) */
	unsigned long     restarts;     /* for the log lines */
};

static pid_t
spawn(struct pool *p, unsigned i)
{
	struct board_slot *b = &board->slot[i];
	pid_t pid;

	atomic_store_explicit(&b->state, WS_STARTING, memory_order_relaxed);
	atomic_store_explicit(&b->requests, 0, memory_order_relaxed);
	atomic_store_explicit(&b->renew, 0, memory_order_relaxed);
	pid = fork();
	if (pid < 0) {
		log_msg(LOG_ERROR, "fork failed: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		struct sigaction sa;
		sigset_t mask;
		struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE };

		worker_slot = (int)i;
		worker_listen_fd = p->listen_fd;
		worker_null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		worker_epfd = epoll_create1(EPOLL_CLOEXEC);
		if (worker_epfd >= 0 && (epoll_ctl(worker_epfd, EPOLL_CTL_ADD, p->listen_fd, &ev) != 0 ||
		    (second_fd >= 0 && epoll_ctl(worker_epfd, EPOLL_CTL_ADD, second_fd, &ev) != 0))) {
			close(worker_epfd);     /* no EPOLLEXCLUSIVE: ppoll */
			worker_epfd = -1;
		}
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_worker_term;     /* no SA_RESTART: waits see EINTR */
		sigaction(SIGTERM, &sa, NULL);
		sa.sa_handler = SIG_IGN;
		sigaction(SIGINT, &sa, NULL);       /* the parent drives shutdown */
		sigaction(SIGHUP, &sa, NULL);       /* a terminal hang-up is the parent's */
		sigaction(SIGPIPE, &sa, NULL);
		sa.sa_handler = SIG_DFL;
		sigaction(SIGCHLD, &sa, NULL);
		sigemptyset(&mask);
		sigaddset(&mask, SIGTERM);
		sigprocmask(SIG_SETMASK, &mask, NULL);
		p->fn(p->listen_fd, p->arg);
		_exit(0);
	}
	metrics_count_worker_spawned();
	return pid;
}

/* Forks into slot i; replacing: it replaces a worker that died. */
static int
start_slot(struct pool *p, unsigned i, long long now, bool replacing)
{
	struct slot *s = &p->slots[i];
	pid_t pid = spawn(p, i);

	if (pid < 0) {
		s->replace = replacing;
		s->respawn_at = now + PREFORK_BACKOFF_MAX_MS;
		p->hold_until = now + PREFORK_BACKOFF_MAX_MS;
		return -1;
	}
	s->pid = pid;
	s->started = now;
	s->replace = false;
	s->retiring = false;
	if (replacing) {
		p->restarts++;
		metrics_count_worker_restart();
		LOG_EVENT(LOG_INFO, "worker replaced", LOG_I("worker", pid),
		    LOG_I("restarts", p->restarts));
	}
	return 0;
}

static void
log_exit(pid_t pid, int status, int expected)
{
	if (WIFSIGNALED(status))
		LOG_EVENT(expected ? LOG_INFO : LOG_ERROR, "worker exited",
		    LOG_I("worker", pid), LOG_I("signal", WTERMSIG(status)),
		    LOG_S("reason", strsignal(WTERMSIG(status))));
	else
		LOG_EVENT(expected && WEXITSTATUS(status) == 0 ? LOG_INFO : LOG_ERROR,
		    "worker exited", LOG_I("worker", pid),
		    LOG_I("status", WEXITSTATUS(status)));
}

/* A worker of slot i died without being asked to.  The cause decides the
 * backoff: one that died serving (a request killed it) is replaced at
 * once, so that one poisoned request pattern cannot take the pool's
 * capacity; one that died before it could accept backs off per slot, and
 * holds the pool's growth as long, since its replacement would die too. */
static void
worker_died(struct pool *p, unsigned i, int status, long long now)
{
	struct slot *s = &p->slots[i];
	int state = atomic_load_explicit(&board->slot[i].state, memory_order_relaxed);

	log_exit(s->pid, status, 0);
	s->pid = 0;
	s->replace = true;
	if (state != WS_STARTING) {
		s->backoff_ms = 0;
		s->respawn_at = now;
		return;
	}
	if (now - s->started >= PREFORK_STABLE_MS)
		s->backoff_ms = 0;
	else if (s->backoff_ms == 0)
		s->backoff_ms = PREFORK_BACKOFF_MIN_MS;
	else
		s->backoff_ms = (unsigned)min_u(s->backoff_ms * 2, PREFORK_BACKOFF_MAX_MS);
	s->respawn_at = now + s->backoff_ms;
	if (s->backoff_ms > 0) {
		p->hold_until = s->respawn_at;
		p->batch = 1;
	}
}

/* Collects every exited worker. */
static void
reap(struct pool *p)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		long long now = clock_ms();
		for (unsigned i = 0; i < p->pc->max_workers; i++) {
			struct slot *s = &p->slots[i];
			if (s->pid != pid)
				continue;
			if (s->retiring) {
				log_exit(pid, status, 1);
				metrics_count_worker_retired();
				s->pid = 0;
				s->retiring = false;
			} else {
				worker_died(p, i, status, now);
			}
			break;
		}
	}
}

/* Starts the replacements that are due. */
static void
replace_due(struct pool *p, long long now)
{
	for (unsigned i = 0; i < p->pc->max_workers; i++)
		if (p->slots[i].replace && p->slots[i].respawn_at <= now)
			(void)start_slot(p, i, now, true);
}

/* Connections in the listen queue: TCP_INFO's tcpi_unacked on a listening
 * socket (Linux); -1 when it cannot be read. */
static long
listen_queue(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof ti;

	memset(&ti, 0, sizeof ti);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
	    len < offsetof(struct tcp_info, tcpi_unacked) + sizeof ti.tcpi_unacked ||
	    ti.tcpi_state != TCP_LISTEN)
		return -1;
	return (long)ti.tcpi_unacked;
}

/* Reads the scoreboard into v and by_state (live workers by state). */
static void
scan(const struct pool *p, long long now, struct prefork_view *v, unsigned by_state[WS_COUNT])
{
	memset(v, 0, sizeof *v);
	memset(by_state, 0, WS_COUNT * sizeof by_state[0]);
	for (unsigned i = 0; i < p->pc->max_workers; i++) {
		const struct slot *s = &p->slots[i];
		struct board_slot *b = &board->slot[i];
		int st = atomic_load_explicit(&b->state, memory_order_relaxed);

		if (s->pid == 0) {
			v->starting += s->replace;
			continue;
		}
		if (s->retiring) {
			by_state[WS_DRAINING]++;
			continue;
		}
		v->live++;
		by_state[st >= 0 && st < WS_COUNT ? st : WS_UPSTREAM]++;
		if (st == WS_STARTING)
			v->starting++;
		if (st == WS_IDLE) {
			v->idle++;
			if (now - atomic_load_explicit(&b->idle_since, memory_order_relaxed) >=
			    PREFORK_RETIRE_IDLE_MS)
				v->idle_long++;
		}
	}
}

/* Retires n idle workers that have been idle long enough, the highest
 * slots first (the pool stays packed at the low end). */
static void
retire(struct pool *p, unsigned n, long long now)
{
	for (unsigned i = p->pc->max_workers; i-- > 0 && n > 0;) {
		struct slot *s = &p->slots[i];
		struct board_slot *b = &board->slot[i];
		if (s->pid == 0 || s->retiring ||
		    atomic_load_explicit(&b->state, memory_order_relaxed) != WS_IDLE ||
		    now - atomic_load_explicit(&b->idle_since, memory_order_relaxed) <
		    PREFORK_RETIRE_IDLE_MS)
			continue;
		s->retiring = true;
		kill(s->pid, SIGTERM);
		n--;
	}
}

/* One tick: grow, shrink, publish the ceiling, the pressure floor and the
 * gauges. */
static void
tick(struct pool *p, long long now)
{
	struct prefork_view v;
	struct prefork_plan plan;
	unsigned by_state[WS_COUNT];
	long q = listen_queue(p->listen_fd);
	long q2 = second_fd >= 0 ? listen_queue(second_fd) : 0;
	int pressure;

	scan(p, now, &v, by_state);
	if (q >= 0 && q2 > 0)
		q += q2;
	if (q < 0) {
		struct pollfd pfd = { .fd = p->listen_fd, .events = POLLIN };
		v.queue = poll(&pfd, 1, 0) > 0;   /* at least one waits */
	} else {
		v.queue = (unsigned)q;
	}
	v.batch = p->batch;
	prefork_plan(p->pc, &v, &plan);
	if (now < p->hold_until)
		plan.spawn = 0;
	p->batch = plan.next_batch;
	for (unsigned i = 0; i < p->pc->max_workers && plan.spawn > 0; i++)
		if (p->slots[i].pid == 0 && !p->slots[i].replace) {
			if (start_slot(p, i, now, false) != 0)
				break;
			plan.spawn--;
			by_state[WS_STARTING]++;
			v.live++;
		}
	retire(p, plan.retire, now);
	pressure = v.live >= p->pc->max_workers && v.idle == 0 && v.queue > 0;
	p->floor = prefork_floor(p->floor, pressure, now, &p->floor_since);
	atomic_store_explicit(&board->floor_bps, p->floor, memory_order_relaxed);
	atomic_store_explicit(&board->at_ceiling, v.live >= p->pc->max_workers && v.idle == 0,
	    memory_order_relaxed);
	metrics_set_pool(by_state, p->pc->max_workers, q);
}

static void
drain(struct pool *p, const sigset_t *set)
{
	long long deadline = clock_ms() + (long long)p->pc->drain_timeout_s * 1000;
	unsigned i, n = p->pc->max_workers, alive = 0;
	struct slot *slots = p->slots;

	for (i = 0; i < n; i++)
		if (slots[i].pid > 0) {
			kill(slots[i].pid, SIGTERM);
			alive++;
		}
	LOG_EVENT(LOG_INFO, "draining", LOG_I("workers", alive),
	    LOG_I("drain_timeout_s", p->pc->drain_timeout_s));
	while (alive > 0) {
		long long left = deadline - clock_ms();
		struct timespec ts;
		siginfo_t si;
		int status;
		pid_t pid;

		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			for (i = 0; i < n; i++)
				if (slots[i].pid == pid) {
					slots[i].pid = 0;
					alive--;
					log_exit(pid, status, 1);
				}
		}
		if (alive == 0)
			break;
		if (left <= 0) {
			for (i = 0; i < n; i++)
				if (slots[i].pid > 0) {
					LOG_EVENT(LOG_WARN, "drain timeout: killing worker",
					    LOG_I("worker", slots[i].pid));
					kill(slots[i].pid, SIGKILL);
				}
			while (waitpid(-1, &status, 0) > 0)
				;
			break;
		}
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (left % 1000) * 1000000;
		/* A second SIGTERM/SIGINT does not shorten the drain. */
		(void)sigtimedwait(set, &si, &ts);
	}
}

/* SIGHUP with something new: every live worker is asked to stop (it
 * finishes its request in flight) and leaves its slot when it exits; the
 * next tick forks replacements into free slots, from the parent's memory
 * as it is now. */
static void
renew(struct pool *p)
{
	unsigned n = 0;

	for (unsigned i = 0; i < p->pc->max_workers; i++) {
		struct slot *s = &p->slots[i];
		if (s->pid == 0 || s->retiring)
			continue;
		s->retiring = true;
		atomic_store_explicit(&board->slot[i].renew, 1, memory_order_relaxed);
		kill(s->pid, SIGTERM);
		n++;
	}
	LOG_EVENT(LOG_INFO, "workers renewed", LOG_I("workers", n));
}

/* Maps the scoreboard and forks the first workers. */
static int
pool_start(struct pool *p)
{
	unsigned n = p->pc->max_workers, first = min_u(p->pc->min_spare, n);

	p->slots = calloc(n, sizeof *p->slots);
	board_size = sizeof *board + n * sizeof board->slot[0];
	board = mmap(NULL, board_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p->slots == NULL || board == MAP_FAILED) {
		log_msg(LOG_ERROR, "cannot allocate the worker scoreboard");
		free(p->slots);
		board = NULL;
		return -1;
	}
	p->batch = 1;
	for (unsigned i = 0; i < first; i++)
		if (start_slot(p, i, clock_ms(), false) != 0)
			break;
	LOG_EVENT(LOG_INFO, "workers started", LOG_I("workers", first),
	    LOG_I("max_pool_size", n), LOG_I("min_spare_workers", p->pc->min_spare),
	    LOG_I("max_spare_workers", p->pc->max_spare));
	return 0;
}

int
prefork_run(int listen_fd, const struct prefork_config *pc, prefork_worker_fn fn, void *arg)
{
	struct pool p = { .pc = pc, .listen_fd = listen_fd, .fn = fn, .arg = arg };
	long long next_tick;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pool_start(&p) != 0)
		return 1;
	next_tick = clock_ms();
	for (;;) {
		long long t = clock_ms(), wait_ms;
		struct timespec ts;
		siginfo_t si;
		int sig;

		reap(&p);
		replace_due(&p, t);
		if (t >= next_tick) {
			tick(&p, t);
			next_tick = t + PREFORK_TICK_MS;
		}
		wait_ms = next_tick - clock_ms();
		if (wait_ms < 0)
			wait_ms = 0;
		ts.tv_sec = wait_ms / 1000;
		ts.tv_nsec = (wait_ms % 1000) * 1000000;
		sig = sigtimedwait(&set, &si, &ts);
		if (sig == SIGHUP) {
			if (pc->reload != NULL && pc->reload() != 0) {
				renew(&p);
				next_tick = clock_ms();     /* replacements at once */
			}
			continue;
		}
		if (sig == SIGTERM || sig == SIGINT) {
			LOG_EVENT(LOG_INFO, "shutting down", LOG_S("signal", strsignal(sig)));
			close(listen_fd);
			if (second_fd >= 0)
				close(second_fd);
			drain(&p, &set);
			free(p.slots);
			munmap(board, board_size);
			board = NULL;
			log_msg(LOG_INFO, "stopped");
			return 0;
		}
	}
}
