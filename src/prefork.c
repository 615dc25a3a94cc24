/* prefork.c - listener, worker pool, supervision and drain (see prefork.h). */
#include "prefork.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
static int worker_null_fd = -1;

/* Workers the parent has replaced, for its log lines (metrics count them too). */
static unsigned long restarts;

int
prefork_stopping(void)
{
	return worker_stop != 0;
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
	errno = saved;
}

int
prefork_accept(int listen_fd, char *peer, size_t peer_cap)
{
	sigset_t open_mask;
	struct pollfd pfd = { .fd = listen_fd, .events = POLLIN };

	/* SIGTERM stays blocked except inside ppoll, so a stop request can
	 * never slip in between the check and the wait. */
	sigprocmask(SIG_BLOCK, NULL, &open_mask);
	sigdelset(&open_mask, SIGTERM);
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		int fd;

		if (worker_stop)
			return -1;
		if (ppoll(&pfd, 1, NULL, &open_mask) < 0) {
			if (errno == EINTR)
				continue;
			log_msg(LOG_ERROR, "worker poll failed: %s", strerror(errno));
			return -1;
		}
		fd = accept4(listen_fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
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
		return fd;
	}
}

struct slot {
	pid_t     pid;          /* 0: empty */
	long long started;      /* ms */
	long long respawn_at;   /* ms; when pid == 0 */
	unsigned  backoff_ms;
};

static pid_t
spawn(int listen_fd, prefork_worker_fn fn, void *arg)
{
	pid_t pid = fork();

	if (pid < 0) {
		log_msg(LOG_ERROR, "fork failed: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		struct sigaction sa;
		sigset_t mask;

		worker_listen_fd = listen_fd;
		worker_null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
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
		fn(listen_fd, arg);
		_exit(0);
	}
	return pid;
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

static void
drain(struct slot *slots, unsigned n, unsigned drain_timeout_s, const sigset_t *set)
{
	long long deadline = clock_ms() + (long long)drain_timeout_s * 1000;
	unsigned i, alive = 0;

	for (i = 0; i < n; i++)
		if (slots[i].pid > 0) {
			kill(slots[i].pid, SIGTERM);
			alive++;
		}
	LOG_EVENT(LOG_INFO, "draining", LOG_I("workers", alive),
	    LOG_I("drain_timeout_s", drain_timeout_s));
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

int
prefork_run(int listen_fd, unsigned workers, unsigned drain_timeout_s,
    prefork_worker_fn fn, void *arg)
{
	struct slot *slots = calloc(workers, sizeof *slots);
	sigset_t set;
	unsigned i;

	if (slots == NULL) {
		log_msg(LOG_ERROR, "out of memory");
		return 1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	for (i = 0; i < workers; i++) {
		slots[i].pid = spawn(listen_fd, fn, arg);
		slots[i].started = clock_ms();
		slots[i].backoff_ms = 0;
		if (slots[i].pid < 0) {
			slots[i].pid = 0;
			slots[i].respawn_at = clock_ms() + PREFORK_BACKOFF_MIN_MS;
		}
	}
	LOG_EVENT(LOG_INFO, "workers started", LOG_I("workers", workers));

	for (;;) {
		long long t = clock_ms(), wait_ms = -1;
		struct timespec ts;
		siginfo_t si;
		int sig, status;
		pid_t pid;

		for (i = 0; i < workers; i++) {
			if (slots[i].pid != 0)
				continue;
			if (slots[i].respawn_at <= t) {
				pid = spawn(listen_fd, fn, arg);
				if (pid > 0) {
					slots[i].pid = pid;
					slots[i].started = t;
					restarts++;
					metrics_count_worker_restart();
					LOG_EVENT(LOG_INFO, "worker replaced", LOG_I("worker", pid),
					    LOG_I("restarts", restarts));
				} else {
					slots[i].respawn_at = t + PREFORK_BACKOFF_MAX_MS;
				}
			}
			if (slots[i].pid == 0 &&
			    (wait_ms < 0 || slots[i].respawn_at - t < wait_ms))
				wait_ms = slots[i].respawn_at - t;
		}
		if (wait_ms >= 0) {
			ts.tv_sec = wait_ms / 1000;
			ts.tv_nsec = (wait_ms % 1000) * 1000000;
			sig = sigtimedwait(&set, &si, &ts);
		} else {
			sig = sigwaitinfo(&set, &si);
		}
		if (sig < 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT) {
			LOG_EVENT(LOG_INFO, "shutting down", LOG_S("signal", strsignal(sig)));
			close(listen_fd);
			drain(slots, workers, drain_timeout_s, &set);
			free(slots);
			log_msg(LOG_INFO, "stopped");
			return 0;
		}
		if (sig != SIGCHLD)
			continue;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			for (i = 0; i < workers; i++) {
				if (slots[i].pid != pid)
					continue;
				t = clock_ms();
				log_exit(pid, status, 0);
				slots[i].pid = 0;
				/* Quick deaths back off exponentially; a stable worker resets it. */
				if (t - slots[i].started >= PREFORK_STABLE_MS)
					slots[i].backoff_ms = 0;
				else if (slots[i].backoff_ms == 0)
					slots[i].backoff_ms = PREFORK_BACKOFF_MIN_MS;
				else if (slots[i].backoff_ms < PREFORK_BACKOFF_MAX_MS / 2)
					slots[i].backoff_ms *= 2;
				else
					slots[i].backoff_ms = PREFORK_BACKOFF_MAX_MS;
				slots[i].respawn_at = t + slots[i].backoff_ms;
			}
		}
	}
}
