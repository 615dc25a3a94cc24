/* healthcheck.c - `--healthcheck`: GET /api/mte-echo on our own port (see
 * healthcheck.h).  Blocking I/O bounded by poll(2) against one deadline. */
#include "healthcheck.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "limits.h"
#include "tls.h"

/* Waits for events on fd until the deadline; 0 when ready, -1 on timeout. */
static int
wait_for(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events, .revents = 0 };
	int64_t left;
	int n;

	for (;;) {
		left = deadline - clock_ms();
		if (left <= 0)
			return -1;
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* A non-blocking connect to addr:port; the socket, or -1 with why set. */
static int
connect_to(const char *addr, unsigned port, int64_t deadline, const char **why)
{
	struct sockaddr_storage ss;
	socklen_t sl, el = sizeof(int);
	int fd, family, soerr = 0;

	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((unsigned short)port);
		sl = sizeof(struct sockaddr_in6);
	} else if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((unsigned short)port);
		sl = sizeof(struct sockaddr_in);
	} else {
		*why = "BIND is not an address";
		return -1;
	}
	ss.ss_family = (sa_family_t)family;
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*why = strerror(errno);
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS) {
		*why = strerror(errno);
		close(fd);
		return -1;
	}
	if (wait_for(fd, POLLOUT, deadline) != 0) {
		*why = "connect timed out";
		close(fd);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &el) != 0 || soerr != 0) {
		*why = strerror(soerr != 0 ? soerr : errno);
		close(fd);
		return -1;
	}
	return fd;
}

int
healthcheck_run(const char *bind_addr, unsigned port, int tls, FILE *err)
{
	/* The listener takes IPv4 on "::" (or falls back to 0.0.0.0). */
	const char *addr = strcmp(bind_addr, "::") == 0 || strcmp(bind_addr, "0.0.0.0") == 0 ?
	    "127.0.0.1" : bind_addr;
	int64_t deadline = clock_ms() + (int64_t)HEALTHCHECK_TIMEOUT_S * 1000;
	const char *why = NULL;
	char req[128], line[64];
	size_t sent = 0, got = 0;
	int fd, n;

	n = snprintf(req, sizeof req, "GET /api/mte-echo HTTP/1.1\r\nHost: %s%s%s:%u\r\n"
	    "Connection: close\r\n\r\n", strchr(addr, ':') ? "[" : "", addr,
	    strchr(addr, ':') ? "]" : "", port);
	if (n < 0 || (size_t)n >= sizeof req) {
		fputs("healthcheck: BIND is too long\n", err);
		return 1;
	}
	if ((fd = connect_to(addr, port, deadline, &why)) < 0) {
		fprintf(err, "healthcheck: cannot connect to %s port %u: %s\n", addr, port, why);
		return 1;
	}
	if (tls) {
		long r = tls_probe(fd, req, (size_t)n, line, sizeof line - 1, 13, deadline, &why);
		got = r > 0 ? (size_t)r : 0;
		sent = (size_t)n;
		if (why == NULL && got < 13)
			why = "connection closed before a status line";
	}
	while (sent < (size_t)n && why == NULL) {
		ssize_t w = send(fd, req + sent, (size_t)n - sent, MSG_NOSIGNAL);
		if (w > 0)
			sent += (size_t)w;
		else if (w < 0 && errno != EINTR && errno != EAGAIN)
			why = strerror(errno);
		else if (w < 0 && errno == EAGAIN && wait_for(fd, POLLOUT, deadline) != 0)
			why = "timed out";
	}
	/* "HTTP/1.1 200 " is all that is read: the status decides. */
	while (why == NULL && got < 13) {
		ssize_t r = recv(fd, line + got, sizeof line - 1 - got, 0);
		if (r > 0)
			got += (size_t)r;
		else if (r == 0)
			why = "connection closed before a status line";
		else if (errno != EINTR && errno != EAGAIN)
			why = strerror(errno);
		else if (errno == EAGAIN && wait_for(fd, POLLIN, deadline) != 0)
			why = "no answer in time";
	}
	close(fd);
	if (why != NULL) {
		fprintf(err, "healthcheck: %s port %u: %s\n", addr, port, why);
		return 1;
	}
	line[got] = '\0';
	if (memcmp(line, "HTTP/1.", 7) != 0 || memcmp(line + 8, " 200 ", 5) != 0) {
		line[strcspn(line, "\r\n")] = '\0';
		for (char *p = line; *p; p++)
			if (*p < 0x20 || *p > 0x7e)
				*p = '?';
		fprintf(err, "healthcheck: %s port %u answered: %.40s\n", addr, port, line);
		return 1;
	}
	return 0;
}
