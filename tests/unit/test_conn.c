/* test_conn.c - the connection loop end to end: a forked child serves one
 * socket (socketpair, or loopback TCP where TCP behaviour matters) with
 * conn_serve and a test handler; the test is the client.  Covers
 * keep-alive, pipelining, streamed Content-Length and chunked bodies,
 * 100-continue, body limits, timeouts, error response shapes, HEAD,
 * HTTP/1.0, draining, hooks, SIGPIPE and stopping. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conn.h"
#include "http.h"

#define SAFETY_MS 20000         /* a hung server fails the test instead of hanging it */

/* ---- server side (runs in the child) ---- */

static unsigned done_calls;
static int stop_flag;

static int test_stopping(void)
{
	return stop_flag;
}

/* busy: other connections wait for this worker (set by /busy, or from a
 * moment set by /busy-soon) */
static int busy_flag;
static struct timespec busy_at;

static int test_busy(void)
{
	struct timespec now;

	if (busy_flag)
		return 1;
	if (busy_at.tv_sec == 0)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > busy_at.tv_sec ||
	    (now.tv_sec == busy_at.tv_sec && now.tv_nsec >= busy_at.tv_nsec);
}

static int always_busy(void)
{
	return 1;
}

static size_t hook_fields(void *arg, const struct http_request *req, int status,
    struct http_field *out, size_t cap)
{
	(void)arg;
	(void)status;
	if (cap < 2)
		return 0;
	out[0] = (struct http_field){ "X-Hook", "yes" };
	out[1] = (struct http_field){ "X-Hook-Req", req != NULL ? "parsed" : "none" };
	return 2;
}

static void hook_done(void *arg, struct conn *c, const struct http_request *req)
{
	(void)arg;
	(void)c;
	(void)req;
	done_calls++;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}
#define FNV_INIT 0xcbf29ce484222325ull

static void respond_text(struct conn *c, int status, const char *text)
{
	const struct http_field f[] = { { "Content-Type", "text/plain" } };
	if (conn_respond_head(c, status, f, 1, (int64_t)strlen(text)) != 0 ||
	    conn_respond_body(c, text, strlen(text)) != 0 ||
	    conn_respond_end(c) != 0)
		return;
}

static int path_is(const struct http_request *req, const char *p)
{
	return req->path.len == strlen(p) && memcmp(req->path.ptr, p, req->path.len) == 0;
}

/* ---- handlers at the limits: the size comes in a request field ---- */

/* The number in the request's field name, 0 when absent. */
static size_t req_number(const struct http_request *req, const char *name)
{
	const struct http_header *h = http_header_get(req, name);
	return h != NULL ? (size_t)strtoull(h->value.ptr, NULL, 10) : 0;
}

static void respond_ok_after_head(struct conn *c, const struct http_field *f, size_t n)
{
	/* a head conn refuses: no response, so conn answers 500 */
	if (conn_respond_head(c, 200, f, n, 2) != 0)
		return;
	if (conn_respond_body(c, "ok", 2) == 0)
		conn_respond_end(c);
}

/* /pad: one field "X-Pad" of X-Pad: n bytes of value */
static void respond_padded(struct conn *c, const struct http_request *req)
{
	static char pad[CONN_RESPONSE_HEAD_MAX + 2];
	size_t n = req_number(req, "X-Pad");
	if (n >= sizeof pad)
		_exit(8);
	memset(pad, 'p', n);
	pad[n] = '\0';
	const struct http_field f[] = { { "X-Pad", pad } };
	respond_ok_after_head(c, f, 1);
}

/* /fields: X-Fields: n fields "X-F-<i>: v" */
static void respond_fields(struct conn *c, const struct http_request *req)
{
	static char names[CONN_RESPONSE_FIELDS_MAX + 1][16];
	static struct http_field f[CONN_RESPONSE_FIELDS_MAX + 1];
	size_t n = req_number(req, "X-Fields");
	if (n > CONN_RESPONSE_FIELDS_MAX + 1)
		_exit(8);
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], sizeof names[i], "X-F-%zu", i);
		f[i] = (struct http_field){ names[i], "v" };
	}
	respond_ok_after_head(c, f, n);
}

/* /errlen: a 503 whose message is X-Len: n times 'a', then "\n" when the
 * request has X-Newline */
static void respond_error_of(struct conn *c, const struct http_request *req)
{
	static char msg[2 * CONN_ERROR_BODY_MAX];
	size_t n = req_number(req, "X-Len");
	if (n + 2 > sizeof msg)
		_exit(8);
	memset(msg, 'a', n);
	msg[n] = '\0';
	if (http_header_get(req, "X-Newline") != NULL)
		strcpy(msg + n, "\n");
	conn_respond_error(c, 503, msg, NULL, 0);
}

/* m[0..n) = "m":"xx...x" (n >= 6 bytes in all), NUL-terminated */
static void make_members(char *m, size_t n)
{
	memcpy(m, "\"m\":\"", 5);
	memset(m + 5, 'x', n - 6);
	m[n - 1] = '"';
	m[n] = '\0';
}

/* /members: a 429 with JSON members of X-Len: n bytes */
static void respond_members(struct conn *c, const struct http_request *req)
{
	static char m[2 * CONN_ERROR_MEMBERS_MAX];
	size_t n = req_number(req, "X-Len");
	if (n < 6 || n + 1 > sizeof m)
		_exit(8);
	make_members(m, n);
	conn_respond_error_members(c, 429, "limited", m, NULL, 0);
}

/* The scoreboard states conn reported (conn_config.state), one letter each. */
static char states_seen[64];

static void handler(struct conn *c, const struct http_request *req, void *arg)
{
	char text[256];
	(void)arg;
	if (path_is(req, "/states")) {
		respond_text(c, 200, states_seen);
		return;
	}
	if (path_is(req, "/hello")) {
		respond_text(c, 200, "hello");
	} else if (path_is(req, "/echo")) {
		/* reads the body in odd-sized pieces; answers its length and hash */
		static char buf[7919];
		uint64_t len = 0, h = FNV_INIT, known = 0;
		int has_known = conn_body_known_length(c, &known);
		ssize_t n;
		while ((n = conn_body_read(c, buf, sizeof buf)) > 0) {
			len += (uint64_t)n;
			h = fnv1a(h, buf, (size_t)n);
		}
		if (n < 0)
			return;         /* conn answers with conn_body_error() */
		if (conn_body_read(c, buf, sizeof buf) != 0)
			_exit(3);       /* the end must stay the end */
		snprintf(text, sizeof text, "len=%llu sum=%016llx known=%d/%llu",
		    (unsigned long long)len, (unsigned long long)h, has_known,
		    (unsigned long long)known);
		respond_text(c, 200, text);
	} else if (path_is(req, "/noread")) {
		respond_text(c, 200, "ok");
	} else if (path_is(req, "/huge")) {
		/* 64 MiB: more than any socket buffer holds for a peer that reads nothing */
		static char big[1 << 16];
		memset(big, 'h', sizeof big);
		if (conn_respond_head(c, 200, NULL, 0, (int64_t)sizeof big * 1024) != 0)
			return;
		for (int i = 0; i < 1024; i++)
			if (conn_respond_body(c, big, sizeof big) != 0)
				_exit(0);   /* gave up on the slow reader: what the test wants */
		_exit(4);
	} else if (path_is(req, "/noresp")) {
		return;
	} else if (path_is(req, "/error")) {
		const struct http_field extra[] = { { "X-Extra", "1" } };
		conn_respond_error(c, 404, "no \"such\"\\thing\n", extra, 1);
	} else if (path_is(req, "/longerr")) {
		static char msg[1200];
		for (size_t i = 0; i + 2 < sizeof msg; i += 2)
			memcpy(msg + i, "\xc3\xa9", 2);       /* U+00E9, 600 times */
		msg[sizeof msg - 1] = '\0';
		conn_respond_error(c, 503, msg, NULL, 0);
	} else if (path_is(req, "/stream")) {
		static char big[100000];
		memset(big, 'z', sizeof big);
		if (conn_respond_head(c, 200, NULL, 0, HTTP_LENGTH_CHUNKED) != 0)
			return;
		for (int i = 0; i < 10; i++) {
			int n = snprintf(text, sizeof text, "piece-%d;", i);
			if (conn_respond_body(c, text, (size_t)n) != 0)
				return;
		}
		if (conn_respond_body(c, big, sizeof big) != 0)
			return;
		conn_respond_end(c);
	} else if (path_is(req, "/head")) {
		/* HEAD: announced length, no body */
		if (conn_respond_head(c, 200, NULL, 0, 1234) == 0)
			conn_respond_end(c);
	} else if (path_is(req, "/notmod")) {
		const struct http_field f[] = { { "ETag", "\"x\"" } };
		if (conn_respond_head(c, 304, f, 1, 0) == 0 &&
		    conn_respond_body(c, "ignored", 7) == 0)
			conn_respond_end(c);
	} else if (path_is(req, "/nocontent")) {
		if (conn_respond_head(c, 204, NULL, 0, HTTP_LENGTH_CHUNKED) == 0)
			conn_respond_end(c);
	} else if (path_is(req, "/info")) {
		static char sink[100];
		while (conn_body_read(c, sink, sizeof sink) > 0)
			;
		const struct conn_info *in = conn_info(c);
		snprintf(text, sizeof text, "id=%s done=%u in=%llu", in->id, done_calls,
		    (unsigned long long)in->bytes_in);
		respond_text(c, 200, text);
	} else if (path_is(req, "/stop")) {
		stop_flag = 1;
		respond_text(c, 200, "stopping");
	} else if (path_is(req, "/busy")) {
		busy_flag = 1;
		respond_text(c, 200, "busy");
	} else if (path_is(req, "/busy-soon")) {
		clock_gettime(CLOCK_MONOTONIC, &busy_at);
		busy_at.tv_sec += 1;   /* after this response, before the idle grace ends */
		respond_text(c, 200, "busy soon");
	} else if (path_is(req, "/short")) {
		/* announces 10 bytes, sends 3: the connection must close */
		if (conn_respond_head(c, 200, NULL, 0, 10) == 0 &&
		    conn_respond_body(c, "abc", 3) == 0)
			conn_respond_end(c);
	} else if (path_is(req, "/toolong")) {
		if (conn_respond_head(c, 200, NULL, 0, 2) != 0)
			_exit(4);
		if (conn_respond_body(c, "abc", 3) != -1)
			_exit(5);
		conn_respond_body(c, "ab", 2);
		conn_respond_end(c);
	} else if (path_is(req, "/badfield")) {
		const struct http_field f[] = { { "X-Evil", "a\r\nSet-Cookie: x" } };
		if (conn_respond_head(c, 200, f, 1, 0) != -1)
			_exit(6);
		respond_text(c, 200, "refused");
	} else if (path_is(req, "/pad")) {
		respond_padded(c, req);
	} else if (path_is(req, "/fields")) {
		respond_fields(c, req);
	} else if (path_is(req, "/errlen")) {
		respond_error_of(c, req);
	} else if (path_is(req, "/members")) {
		respond_members(c, req);
	} else {
		conn_respond_error(c, 404, "not found", NULL, 0);
	}
}

static const struct conn_config default_cfg = {
	.header_timeout_s = 10,
	.idle_timeout_s = 10,
	.max_body_size = 0,
	.response_fields = hook_fields,
	.request_done = hook_done,
	.stopping = test_stopping,
	.busy = test_busy,
};

static int fcntl_closed(int fd)
{
	return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

static pid_t spawn(int server_fd, int client_fd, const struct conn_config *cfg)
{
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		static struct conn c;
		close(client_fd);
		conn_serve(&c, server_fd, cfg, handler, NULL);
		/* conn_serve closed the socket */
		_exit(fcntl_closed(server_fd) ? 0 : 7);
	}
	close(server_fd);
	return pid;
}

/* ---- client side ---- */

struct client {
	int    fd;
	pid_t  pid;
	char  *buf;
	size_t len, cap;
};

static struct client *start(const struct conn_config *cfg)
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct client *cl = calloc(1, sizeof *cl);
	cr_assert_not_null(cl);
	cl->cap = 1 << 16;
	cl->buf = malloc(cl->cap);
	cl->fd = sv[0];
	cl->pid = spawn(sv[1], sv[0], cfg);
	return cl;
}

static struct client *start_tcp(const struct conn_config *cfg)
{
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(lfd, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof a;
	cr_assert_eq(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
	cr_assert_eq(listen(lfd, 1), 0);
	cr_assert_eq(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
	int cfd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(cfd, (struct sockaddr *)&a, sizeof a), 0);
	int sfd = accept(lfd, NULL, NULL);
	cr_assert_geq(sfd, 0);
	close(lfd);
	struct client *cl = calloc(1, sizeof *cl);
	cr_assert_not_null(cl);
	cl->cap = 1 << 16;
	cl->buf = malloc(cl->cap);
	cl->fd = cfd;
	cl->pid = spawn(sfd, cfd, cfg);
	return cl;
}

/* Closes the client side and checks that the server exited normally. */
static void finish(struct client *cl)
{
	int st;
	close(cl->fd);
	cr_assert_eq(waitpid(cl->pid, &st, 0), cl->pid);
	cr_assert(WIFEXITED(st), "server died (signal %d)", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	cr_assert_eq(WEXITSTATUS(st), 0, "server exit %d", WEXITSTATUS(st));
	free(cl->buf);
	free(cl);
}

static void send_all(struct client *cl, const void *p, size_t n)
{
	const char *b = p;
	while (n > 0) {
		ssize_t w = send(cl->fd, b, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		cr_assert_gt(w, 0, "send: %s", strerror(errno));
		b += w;
		n -= (size_t)w;
	}
}

static void send_str(struct client *cl, const char *s)
{
	send_all(cl, s, strlen(s));
}

/* Reads more into cl->buf; returns bytes read, 0 at EOF. */
static size_t fill(struct client *cl)
{
	if (cl->len == cl->cap) {
		cl->cap *= 2;
		cl->buf = realloc(cl->buf, cl->cap);
		cr_assert_not_null(cl->buf);
	}
	struct pollfd p = { .fd = cl->fd, .events = POLLIN };
	int r = poll(&p, 1, SAFETY_MS);
	cr_assert_eq(r, 1, "server sent nothing for %d ms", SAFETY_MS);
	ssize_t n = recv(cl->fd, cl->buf + cl->len, cl->cap - cl->len, 0);
	if (n < 0 && errno == ECONNRESET)
		n = 0;
	cr_assert_geq(n, 0, "recv: %s", strerror(errno));
	cl->len += (size_t)n;
	return (size_t)n;
}

static void drop(struct client *cl, size_t n)
{
	memmove(cl->buf, cl->buf + n, cl->len - n);
	cl->len -= n;
}

struct resp {
	int    status;
	char   head[16384];
	char  *body;
	size_t body_len;
};

/* The value of field name in r->head (NUL-terminated copy), or NULL. */
static const char *field(const struct resp *r, const char *name)
{
	static char v[1024];
	const char *p = strstr(r->head, "\r\n");
	size_t nl = strlen(name);
	while (p != NULL && p[2] != '\r') {
		p += 2;
		const char *e = strstr(p, "\r\n");
		if ((size_t)(e - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
			const char *s = p + nl + 1;
			while (*s == ' ')
				s++;
			snprintf(v, sizeof v, "%.*s", (int)(e - s), s);
			return v;
		}
		p = e;
	}
	return NULL;
}

/* Reads one response; no_body for HEAD requests. */
static void read_resp(struct client *cl, struct resp *r, bool no_body)
{
	char *end;
	memset(r->head, 0, sizeof r->head);
	r->body = NULL;
	r->body_len = 0;
	for (;;) {
		end = cl->len >= 4 ? memmem(cl->buf, cl->len, "\r\n\r\n", 4) : NULL;
		if (end != NULL)
			break;
		cr_assert_gt(fill(cl), 0, "EOF before a response head");
	}
	size_t hl = (size_t)(end - cl->buf) + 4;
	cr_assert_lt(hl, sizeof r->head);
	memcpy(r->head, cl->buf, hl);
	drop(cl, hl);
	cr_assert_eq(strncmp(r->head, "HTTP/1.1 ", 9), 0, "status line: %.40s", r->head);
	r->status = atoi(r->head + 9);
	/* the reason is the standard one */
	char line[128];
	snprintf(line, sizeof line, "HTTP/1.1 %03d %s\r\n", r->status, http_status_reason(r->status));
	cr_assert_eq(strncmp(r->head, line, strlen(line)), 0, "status line: %.60s", r->head);

	if (no_body || r->status == 204 || r->status == 304 || r->status < 200)
		return;
	const char *te = field(r, "Transfer-Encoding");
	const char *clen = field(r, "Content-Length");
	if (te != NULL) {
		cr_assert_str_eq(te, "chunked");
		cr_assert_null(field(r, "Content-Length"));
		struct http_chunked st;
		http_chunked_init(&st);
		size_t cap = 1 << 16;
		r->body = malloc(cap);
		for (;;) {
			if (cl->len > 0) {
				size_t used, got;
				if (cap - r->body_len < 4096)
					r->body = realloc(r->body, cap *= 2);
				int x = http_chunked_decode(&st, cl->buf, cl->len, &used,
				    r->body + r->body_len, cap - r->body_len, &got);
				drop(cl, used);
				r->body_len += got;
				cr_assert_neq(x, -1, "bad chunked response");
				if (x == 1)
					return;
				if (got > 0 || used > 0)
					continue;
			}
			cr_assert_gt(fill(cl), 0, "EOF inside a chunked response");
		}
	} else if (clen != NULL) {
		size_t n = strtoull(clen, NULL, 10);
		while (cl->len < n)
			cr_assert_gt(fill(cl), 0, "EOF inside a response body");
		r->body = malloc(n + 1);
		memcpy(r->body, cl->buf, n);
		r->body[n] = '\0';
		r->body_len = n;
		drop(cl, n);
	} else {
		/* close-delimited */
		while (fill(cl) > 0)
			;
		r->body = malloc(cl->len + 1);
		memcpy(r->body, cl->buf, cl->len);
		r->body[cl->len] = '\0';
		r->body_len = cl->len;
		cl->len = 0;
	}
}

static void free_resp(struct resp *r)
{
	free(r->body);
	r->body = NULL;
}

/* The server closes: nothing more arrives, then EOF. */
static void expect_eof(struct client *cl)
{
	cr_assert_eq(cl->len, 0, "unexpected bytes: %.40s", cl->buf);
	cr_assert_eq(fill(cl), 0, "unexpected bytes after the last response: %.40s", cl->buf);
}

static void expect_json_error(const struct resp *r, int status, const char *msg)
{
	char want[512];
	cr_assert_eq(r->status, status, "status %d, want %d", r->status, status);
	cr_assert_str_eq(field(r, "Content-Type"), "application/json");
	snprintf(want, sizeof want, "{\"error\":\"%s\",\"code\":%d}", msg, status);
	cr_assert_not_null(r->body);
	cr_assert_str_eq(r->body, want);
	cr_assert_str_eq(field(r, "X-Hook"), "yes");
}

/* ---- tests ---- */

Test(conn, keep_alive_100_requests)
{
	struct client *cl = start(&default_cfg);
	struct resp r;
	for (int i = 0; i < 100; i++) {
		send_str(cl, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
		read_resp(cl, &r, false);
		cr_assert_eq(r.status, 200, "request %d", i);
		cr_assert_str_eq(r.body, "hello");
		cr_assert_null(field(&r, "Connection"));
		cr_assert_not_null(field(&r, "Date"));
		cr_assert_str_eq(field(&r, "X-Hook-Req"), "parsed");
		free_resp(&r);
	}
	/* 100 requests logged through the done hook, ids are 16 hex chars */
	send_str(cl, "GET /info HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(cl, &r, false);
	char id[17];
	unsigned done;
	unsigned long long in;
	cr_assert_eq(sscanf(r.body, "id=%16s done=%u in=%llu", id, &done, &in), 3, "%s", r.body);
	cr_assert_eq(strlen(id), 16);
	cr_assert_eq(strspn(id, "0123456789abcdef"), 16);
	cr_assert_eq(done, 100);
	cr_assert_eq(in, strlen("GET /info HTTP/1.1\r\nHost: t\r\n\r\n"));
	free_resp(&r);
	finish(cl);
}

Test(conn, keep_alive_over_tcp)
{
	struct client *cl = start_tcp(&default_cfg);
	struct resp r;
	for (int i = 0; i < 100; i++) {
		send_str(cl, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
		read_resp(cl, &r, false);
		cr_assert_eq(r.status, 200);
		cr_assert_str_eq(r.body, "hello");
		free_resp(&r);
	}
	finish(cl);
}

Test(conn, info_counts_request_bytes)
{
	struct client *cl = start(&default_cfg);
	struct resp r;
	const char *reqs[] = {
		"POST /info HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789",
		"POST /info HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n",
	};
	/* both in one write: each request counts its own bytes only */
	char both[512];
	snprintf(both, sizeof both, "%s%s", reqs[0], reqs[1]);
	send_str(cl, both);
	for (int i = 0; i < 2; i++) {
		read_resp(cl, &r, false);
		unsigned long long in = 0;
		const char *p = strstr(r.body, " in=");
		cr_assert_not_null(p);
		cr_assert_eq(sscanf(p, " in=%llu", &in), 1);
		cr_assert_eq(in, strlen(reqs[i]), "request %d: %llu", i, in);
		free_resp(&r);
	}
	finish(cl);
}

Test(conn, pipelined_requests_in_one_write)
{
	struct client *cl = start(&default_cfg);
	struct resp r;
	send_str(cl, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
	    "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nabcde"
	    "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
	    "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	read_resp(cl, &r, false);
	cr_assert_str_eq(r.body, "hello");
	free_resp(&r);
	char want[128];
	read_resp(cl, &r, false);
	snprintf(want, sizeof want, "len=5 sum=%016llx known=1/5",
	    (unsigned long long)fnv1a(FNV_INIT, "abcde", 5));
	cr_assert_str_eq(r.body, want);
	free_resp(&r);
	read_resp(cl, &r, false);
	snprintf(want, sizeof want, "len=3 sum=%016llx known=0/0",
	    (unsigned long long)fnv1a(FNV_INIT, "abc", 3));
	cr_assert_str_eq(r.body, want);
	free_resp(&r);
	read_resp(cl, &r, false);
	cr_assert_str_eq(r.body, "hello");
	cr_assert_str_eq(field(&r, "Connection"), "close");
	free_resp(&r);
	expect_eof(cl);
	finish(cl);
}

static unsigned char pattern(size_t i)
{
	return (unsigned char)((i * 131) ^ (i >> 13));
}

static char *make_body(size_t n, uint64_t *hash)
{
	char *b = malloc(n);
	cr_assert_not_null(b);
	for (size_t i = 0; i < n; i++)
		b[i] = (char)pattern(i);
	*hash = fnv1a(FNV_INIT, b, n);
	return b;
}

Test(conn, content_length_body_streamed)
{
	const size_t n = 5u << 20;
	uint64_t h;
	char *body = make_body(n, &h);
	struct client *cl = start(&default_cfg);
	char head[128], want[128];
	snprintf(head, sizeof head, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", n);
	send_str(cl, head);
	send_all(cl, body, n);
	struct resp r;
	read_resp(cl, &r, false);
	snprintf(want, sizeof want, "len=%zu sum=%016llx known=1/%zu", n, (unsigned long long)h, n);
	cr_assert_str_eq(r.body, want);
	free_resp(&r);
	/* still alive */
	send_str(cl, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(cl, &r, false);
	cr_assert_str_eq(r.body, "hello");
	free_resp(&r);
	free(body);
	finish(cl);
}

Test(conn, chunked_body_streamed)
{
	const size_t n = 3u << 20;
	uint64_t h;
	char *body = make_body(n, &h);
	static const size_t sizes[] = { 1, 100, 4096, 65536, 100000, 7, 30000 };
	struct client *cl = start(&default_cfg);
	send_str(cl, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
	size_t off = 0, k = 0;
	while (off < n) {
		size_t c = sizes[k++ % (sizeof sizes / sizeof sizes[0])];
		if (c > n - off)
			c = n - off;
		char line[64];
		snprintf(line, sizeof line, k % 3 ? "%zx\r\n" : "%zX;ext=\"v\"\r\n", c);
		send_str(cl, line);
		send_all(cl, body + off, c);
		send_str(cl, "\r\n");
		off += c;
	}
	send_str(cl, "0\r\nX-Trailer: t\r\n\r\n");
	struct resp r;
	char want[128];
	read_resp(cl, &r, false);
	snprintf(want, sizeof want, "len=%zu sum=%016llx known=0/0", n, (unsigned long long)h);
	cr_assert_str_eq(r.body, want);
	free_resp(&r);
	send_str(cl, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(cl, &r, false);
	cr_assert_str_eq(r.body, "hello");
	free_resp(&r);
	free(body);
	finish(cl);
}

Test(conn, expect_100_continue)
{
	struct client *cl = start(&default_cfg);
	send_str(cl, "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
	/* the interim response comes before any body byte is sent */
	struct resp r;
	read_resp(cl, &r, false);
	cr_assert_eq(r.status, 100);
	cr_assert_str_eq(r.head, "HTTP/1.1 100 Continue\r\n\r\n");
	send_str(cl, "wxyz");
	read_resp(cl, &r, false);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(strncmp(r.body, "len=4 ", 6), 0, "%s", r.body);
	free_resp(&r);
	/* a handler that answers without reading gets no 100, and the
	 * connection closes since the client may or may not send the body */
	send_str(cl, "POST /noread HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
	read_resp(cl, &r, false);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "ok");
	cr_assert_str_eq(field(&r, "Connection"), "close");
	free_resp(&r);
	expect_eof(cl);
	finish(cl);
}

static const struct conn_config limited_cfg = {
	.header_timeout_s = 10,
	.idle_timeout_s = 10,
	.max_body_size = 1000,
	.response_fields = hook_fields,
};

Test(conn, body_size_limit_content_length)
{
	struct client *cl = start(&limited_cfg);
	char body[1001];
	memset(body, 'b', sizeof body);
	struct resp r;
	send_str(cl, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n");
	send_all(cl, body, 1000);
	read_resp(cl, &r, false);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(strncmp(r.body, "len=1000 ", 9), 0);
	free_resp(&r);
	/* limit + 1 is answered from the head, before the body is read */
	send_str(cl, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n");
	read_resp(cl, &r, false);
	expect_json_error(&r, 413, "request body too large");
	cr_assert_str_eq(field(&r, "Connection"), "close");
	free_resp(&r);
	send_all(cl, body, 1001);
	expect_eof(cl);
	finish(cl);
}

static void chunked_of(struct client *cl, size_t total)
{
	char body[600];
	memset(body, 'c', sizeof body);
	send_str(cl, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
	while (total > 0) {
		size_t c = total > 500 ? 500 : total;
		char line[32];
		snprintf(line, sizeof line, "%zx\r\n", c);
		send_str(cl, line);
		send_all(cl, body, c);
		send_str(cl, "\r\n");
		total -= c;
	}
	send_str(cl, "0\r\n\r\n");
}

Test(conn, body_size_limit_chunked)
{
	struct client *cl = start(&limited_cfg);
	struct resp r;
	chunked_of(cl, 1000);
	read_resp(cl, &r, false);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(strncmp(r.body, "len=1000 ", 9), 0);
	free_resp(&r);
	chunked_of(cl, 1001);
	read_resp(cl, &r, false);
	expect_json_error(&r, 413, "Content Too Large");
	free_resp(&r);
	expect_eof(cl);
	finish(cl);
}

Test(conn, malformed_chunked_body_is_400)
{
	struct client *cl = start(&default_cfg);
	struct resp r;
	send_str(cl, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhelloX\r\n0\r\n\r\n");
	read_resp(cl, &r, false);
	expect_json_error(&r, 400, "Bad Request");
	free_resp(&r);
	expect_eof(cl);
	finish(cl);
}

static const struct conn_config fast_cfg = {
	.header_timeout_s = 1,
	.idle_timeout_s = 1,
	.response_fields = hook_fields,
};

Test(conn, header_timeout_is_408)
{
	struct client *cl = start(&fast_cfg);
	send_str(cl, "GET /hello HTTP/1.1\r\nHo");
	struct resp r;
	read_resp(cl, &r, false);
	expect_json_error(&r, 408, "request head not received in time");
	cr_assert_str_eq(field(&r, "Connection"), "close");
	cr_assert_str_eq(field(&r, "X-Hook-Req"), "none");
	free_resp(&r);
	expect_eof(cl);
	finish(cl);
}

Test(conn, idle_timeout_closes_silently)
{
	struct client *cl = start(&fast_cfg);
	send_str(cl, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
	struct resp r;
	read_resp(cl, &r, false);
	cr_assert_eq(r.status, 200);
	free_resp(&r);
	expect_eof(cl);        /* no 408: the connection was between requests */
	finish(cl);
}

Test(conn, body_stall_is_408)
{
	struct client *cl = start(&fast_cfg);
	send_str(cl, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
	struct resp r;
	read_resp(cl, &r, false);
	expect_json_error(&r, 408, "Request Timeout");
	free_resp(&r);
	expect_eof(cl);
	finish(cl);
}

static void check_parse_error(const char *req, size_t len, int status, const char *msg)
{
	struct client *cl = start(&default_cfg);
	send_all(cl, req, len);
	struct resp r;
	read_resp(cl, &r, false);
	expect_json_error(&r, status, msg);
	cr_assert_str_eq(field(&r, "Connection"), "close");
	cr_assert_str_eq(field(&r, "X-Hook-Req"), "none");
	free_resp(&r);
	expect_eof(cl);
	finish(cl);
}

Test(conn, parse_errors_answer_json_and_close)
{
	check_parse_error("GET / HTTP/1.1\nHost: t\r\n\r\n", 26, 400, "bare LF in request head");
	check_parse_error("GET / HTTP/2.0\r\nHost: t\r\n\r\n", 27, 505, "HTTP version not supported");
	const char *te = "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
	check_parse_error(te, strlen(te), 501, "unsupported Transfer-Encoding");
	const char *cl = "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
	check_parse_error(cl, strlen(cl), 400, "Content-Length with Transfer-Encoding");
}

Test(conn, oversized_heads_answer_without_waiting)
{
	/* 414 and 431 come while the head is still incomplete */
	size_t n = HTTP_REQUEST_LINE_MAX + 100;
	char *line = malloc(n);
	memcpy(line, "GET /", 5);
	memset(line + 5, 'a', n - 5);
	check_parse_error(line, n, 414, "request line too long");
	free(line);

	n = HTTP_HEADERS_MAX + 1000;
	char *head = malloc(n);
	size_t p = (size_t)sprintf(head, "GET / HTTP/1.1\r\nHost: t\r\nX-Big: ");
	memset(head + p, 'v', n - p);
	check_parse_error(head, n, 431, "request head too large");
	free(head);
}

/* A complete request head for path of exactly n bytes (one big X-Big field). */
static char *head_of(const char *path, size_t n)
{
	char *head = malloc(n + 1);
	cr_assert_not_null(head);
	int p = snprintf(head, n + 1, "GET %s HTTP/1.1\r\nHost: t\r\nX-Big: ", path);
	cr_assert(p > 0 && (size_t)p + 5 < n);
	memset(head + p, 'v', n - (size_t)p - 4);
	memcpy(head + n - 4, "\r\n\r\n", 4);
	head[n] = '\0';
	return head;
}

Test(conn, request_head_limit_through_a_connection)
{
	static const char next[] = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";
	struct client *cl = start(&default_cfg);
	struct resp r;
	unsigned long long in = 0;

	/* exactly HTTP_HEADERS_MAX bytes, with a pipelined request behind it in
	 * the same write (the buffer then holds more than the limit): served,
	 * the head counted whole, and the next request still parses */
	char *head = head_of("/info", HTTP_HEADERS_MAX);
	size_t n = strlen(head);
	char *both = malloc(n + sizeof next);
	memcpy(both, head, n);
	memcpy(both + n, next, sizeof next);
	send_all(cl, both, n + sizeof next - 1);
	read_resp(cl, &r, false);
	cr_assert_eq(r.status, 200);
	const char *p = strstr(r.body, " in=");
	cr_assert_not_null(p, "%s", r.body);
	cr_assert_eq(sscanf(p, " in=%llu", &in), 1);
	cr_assert_eq(in, (unsigned long long)HTTP_HEADERS_MAX);
	cr_assert_null(field(&r, "Connection"));
	free_resp(&r);
	read_resp(cl, &r, false);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "hello");
	free_resp(&r);
	finish(cl);
	free(both);
	free(head);

	/* one byte more, the head complete: 431 and close */
	head = head_of("/info", HTTP_HEADERS_MAX + 1);
	check_parse_error(head, HTTP_HEADERS_MAX + 1, 431, "request head too large");
	free(head);
}

Test(conn, handler_error_and_missing_response)
{
	struct client *cl = start(&default_cfg);
	struct resp r;
	send_str(cl, "GET /error HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(cl, &r, false);
	expect_json_error(&r, 404, "no \\\"such\\\"\\\\thing\\u000a");
	cr_assert_str_eq(field(&r, "X-Extra"), "1");
	cr_assert_null(field(&r, "Connection"), "no body left unread: keep-alive");
	free_resp(&r);
	send_str(cl, "GET /badfield HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(cl, &r, false);
	cr_assert_str_eq(r.body, "refused");
	cr_assert_null(field(&r, "X-Evil"));
	cr_assert_null(field(&r, "Set-Cookie"));
	free_resp(&r);
	send_str(cl, "GET /noresp HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(cl, &r, false);
	expect_json_error(&r, 500, "no response");
	free_resp(&r);
	expect_eof(cl);
	finish(cl);
}

/* 1 when s[0..n) is well-formed UTF-8 (no overlong/surrogate checks needed here) */
static int utf8_complete(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t need = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
		if (need == 0 || i + need > n)
			return 0;
		for (size_t k = 1; k < need; k++)
			if (((unsigned char)s[i + k] & 0xc0) != 0x80)
				return 0;
		i += need;
	}
	return 1;
}

Test(conn, long_error_message_is_cut_cleanly)
{
	struct client *cl = start(&default_cfg);
	struct resp r;
	send_str(cl, "GET /longerr HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(cl, &r, false);
	cr_assert_eq(r.status, 503);
	cr_assert_lt(r.body_len, CONN_ERROR_BODY_MAX);
	cr_assert_eq(strncmp(r.body, "{\"error\":\"\xc3\xa9", 12), 0);
	const char *tail = "\",\"code\":503}";
	cr_assert_str_eq(r.body + r.body_len - strlen(tail), tail);
	cr_assert(utf8_complete(r.body, r.body_len), "cut inside a UTF-8 sequence");
	free_resp(&r);
	finish(cl);
}

/* The room for the escaped message in a CONN_ERROR_BODY_MAX body: what the
 * prefix {"error":", this 503's tail and the NUL leave, so that the body at
 * the limit is CONN_ERROR_BODY_MAX - 1 bytes. */
#define ERROR_PREFIX    "{\"error\":\""
#define ERROR_TAIL_503  "\",\"code\":503}"
#define ERROR_MSG_ROOM  (CONN_ERROR_BODY_MAX - 1 - (sizeof ERROR_PREFIX - 1) - (sizeof ERROR_TAIL_503 - 1))

/* GET /errlen for a message of n 'a's (then "\n" when newline); the
 * response in r, checked to be a 503 whose message is want_a 'a's followed
 * by want_tail (the escaped "\n" or ""). */
static void expect_error_message(struct client *cl, size_t n, bool newline,
    size_t want_a, const char *want_tail)
{
	char req[128];
	struct resp r;
	char *want = malloc(CONN_ERROR_BODY_MAX * 2);
	cr_assert_not_null(want);

	snprintf(req, sizeof req, "GET /errlen HTTP/1.1\r\nHost: t\r\nX-Len: %zu\r\n%s\r\n",
	    n, newline ? "X-Newline: 1\r\n" : "");
	send_str(cl, req);
	read_resp(cl, &r, false);
	cr_assert_eq(r.status, 503);
	cr_assert_leq(r.body_len, CONN_ERROR_BODY_MAX);
	memcpy(want, ERROR_PREFIX, sizeof ERROR_PREFIX - 1);
	memset(want + sizeof ERROR_PREFIX - 1, 'a', want_a);
	snprintf(want + sizeof ERROR_PREFIX - 1 + want_a, CONN_ERROR_BODY_MAX,
	    "%s\",\"code\":503}", want_tail);
	cr_assert_str_eq(r.body, want, "message of %zu bytes", n);
	cr_assert_eq(r.body_len, strlen(want));
	cr_assert_null(field(&r, "Connection"), "no body unread: kept alive");
	free_resp(&r);
	free(want);
}

Test(conn, error_body_limit_keeps_or_cuts_the_message)
{
	struct client *cl = start(&default_cfg);

	/* the longest message kept whole: the body fills the limit */
	cr_assert_eq(sizeof ERROR_PREFIX - 1 + ERROR_MSG_ROOM + sizeof ERROR_TAIL_503 - 1,
	    (size_t)CONN_ERROR_BODY_MAX - 1);
	expect_error_message(cl, ERROR_MSG_ROOM, false, ERROR_MSG_ROOM, "");
	/* one byte longer: cut by that byte, the JSON still whole */
	expect_error_message(cl, ERROR_MSG_ROOM + 1, false, ERROR_MSG_ROOM, "");
	/* an escape ("\n": 6 bytes) that fits exactly is kept; one byte later
	 * it is left out whole, never split */
	expect_error_message(cl, ERROR_MSG_ROOM - 6, true, ERROR_MSG_ROOM - 6, "\\u000a");
	expect_error_message(cl, ERROR_MSG_ROOM - 5, true, ERROR_MSG_ROOM - 5, "");
	finish(cl);
}

/* GET path with the size n in request field name; the response in r. */
static void sized_request(struct client *cl, const char *path, const char *name, size_t n,
    struct resp *r)
{
	char req[128];
	snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n%s: %zu\r\n\r\n", path, name, n);
	send_str(cl, req);
	read_resp(cl, r, false);
}

/* GET /members with members of n bytes; the 429 body in r. */
static void members_request(struct client *cl, size_t n, struct resp *r)
{
	sized_request(cl, "/members", "X-Len", n, r);
}

Test(conn, error_members_limit)
{
	struct client *cl = start(&default_cfg);
	struct resp r;
	char m[CONN_ERROR_MEMBERS_MAX + 2];
	char want[CONN_ERROR_BODY_MAX];

	/* members of exactly CONN_ERROR_MEMBERS_MAX bytes: in the body, after "code" */
	make_members(m, CONN_ERROR_MEMBERS_MAX);
	snprintf(want, sizeof want, "{\"error\":\"limited\",\"code\":429,%s}", m);
	members_request(cl, CONN_ERROR_MEMBERS_MAX, &r);
	cr_assert_eq(r.status, 429);
	cr_assert_str_eq(r.body, want);
	free_resp(&r);
	/* one byte more: left out, the answer itself unchanged */
	members_request(cl, CONN_ERROR_MEMBERS_MAX + 1, &r);
	expect_json_error(&r, 429, "limited");
	free_resp(&r);
	finish(cl);
}

Test(conn, response_framing_errors_close)
{
	struct client *cl = start(&default_cfg);
	struct resp r;
	/* more than announced is refused; the right amount then goes out */
	send_str(cl, "GET /toolong HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(cl, &r, false);
	cr_assert_eq(r.body_len, 2);
	cr_assert_str_eq(r.body, "ab");
	free_resp(&r);
	/* a short body can only be signalled by closing */
	send_str(cl, "GET /short HTTP/1.1\r\nHost: t\r\n\r\n");
	char *end;
	while ((end = memmem(cl->buf, cl->len, "\r\n\r\n", 4)) == NULL)
		cr_assert_gt(fill(cl), 0);
	while (fill(cl) > 0)
		;
	cr_assert_eq(cl->len, (size_t)(end - cl->buf) + 4 + 3);
	cl->len = 0;
	finish(cl);
}

/* GET /pad for an X-Pad field of n bytes (with "Connection: close" when close). */
static void pad_request(struct client *cl, size_t n, bool closing)
{
	char req[160];
	snprintf(req, sizeof req, "GET /pad HTTP/1.1\r\nHost: t\r\nX-Pad: %zu\r\n%s\r\n",
	    n, closing ? "Connection: close\r\n" : "");
	send_str(cl, req);
}

/* Reads a response head of any size (read_resp holds 16 KiB) and its
 * 2-byte body "ok"; returns the head's length. */
static size_t read_big_ok(struct client *cl)
{
	char *end;
	while ((end = cl->len >= 4 ? memmem(cl->buf, cl->len, "\r\n\r\n", 4) : NULL) == NULL)
		cr_assert_gt(fill(cl), 0, "EOF before a response head");
	size_t hl = (size_t)(end - cl->buf) + 4;
	cr_assert_eq(strncmp(cl->buf, "HTTP/1.1 200 OK\r\n", 17), 0, "status line: %.40s", cl->buf);
	cr_assert_not_null(memmem(cl->buf, hl, "\r\nContent-Length: 2\r\n", 21));
	cr_assert_null(memmem(cl->buf, hl, "\r\nConnection:", 13));
	drop(cl, hl);
	while (cl->len < 2)
		cr_assert_gt(fill(cl), 0, "EOF inside a response body");
	cr_assert_eq(memcmp(cl->buf, "ok", 2), 0);
	drop(cl, 2);
	return hl;
}

Test(conn, response_head_limit_counts_every_byte)
{
	struct client *cl = start(&default_cfg);
	struct resp r;

	/* a small head measures what comes around X-Pad's value: the status
	 * line, the hook's fields, Date, Content-Length, the empty line */
	pad_request(cl, 1, false);
	read_resp(cl, &r, false);
	cr_assert_eq(r.status, 200);
	cr_assert_not_null(field(&r, "Date"));
	cr_assert_str_eq(field(&r, "X-Hook"), "yes");
	cr_assert_str_eq(field(&r, "Content-Length"), "2");
	size_t pad = 1 + CONN_RESPONSE_HEAD_MAX - strlen(r.head);
	free_resp(&r);
	/* a head of exactly CONN_RESPONSE_HEAD_MAX bytes: sent, kept alive */
	pad_request(cl, pad, false);
	cr_assert_eq(read_big_ok(cl), CONN_RESPONSE_HEAD_MAX);
	send_str(cl, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(cl, &r, false);
	cr_assert_str_eq(r.body, "hello");
	free_resp(&r);
	/* one byte more: conn_respond_head refuses it, conn answers 500 */
	pad_request(cl, pad + 1, false);
	read_resp(cl, &r, false);
	expect_json_error(&r, 500, "no response");
	cr_assert_str_eq(field(&r, "Connection"), "close");
	free_resp(&r);
	expect_eof(cl);
	finish(cl);

	/* the "Connection: close" conn adds counts as well: the pad that just
	 * fit no longer does */
	cl = start(&default_cfg);
	pad_request(cl, pad, true);
	read_resp(cl, &r, false);
	expect_json_error(&r, 500, "no response");
	free_resp(&r);
	expect_eof(cl);
	finish(cl);
}

/* Fields of a response head, the framing ones left out (conn writes them
 * outside the CONN_RESPONSE_FIELDS_MAX count). */
static size_t count_fields(const char *head)
{
	size_t n = 0;
	const char *p = strstr(head, "\r\n");
	while (p != NULL && p[2] != '\r') {
		p += 2;
		if (strncasecmp(p, "Content-Length:", 15) != 0 &&
		    strncasecmp(p, "Transfer-Encoding:", 18) != 0 &&
		    strncasecmp(p, "Connection:", 11) != 0)
			n++;
		p = strstr(p, "\r\n");
	}
	return n;
}

/* GET /fields for n handler fields; the response in r. */
static void fields_request(struct client *cl, size_t n, struct resp *r)
{
	sized_request(cl, "/fields", "X-Fields", n, r);
}

Test(conn, response_fields_limit_counts_hook_and_date)
{
	struct client *cl = start(&default_cfg);
	struct resp r;
	char last[32];

	/* the handler's fields, the hook's two (X-Hook, X-Hook-Req) and Date:
	 * exactly CONN_RESPONSE_FIELDS_MAX */
	size_t n = CONN_RESPONSE_FIELDS_MAX - 3;
	fields_request(cl, n, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(count_fields(r.head), CONN_RESPONSE_FIELDS_MAX);
	cr_assert_str_eq(field(&r, "X-Hook"), "yes");
	cr_assert_str_eq(field(&r, "X-Hook-Req"), "parsed");
	cr_assert_not_null(field(&r, "Date"));
	snprintf(last, sizeof last, "X-F-%zu", n - 1);
	cr_assert_str_eq(field(&r, last), "v");
	free_resp(&r);
	/* the most the handler can add: all but Date's place; the hook is
	 * offered no room (and adds nothing) */
	n = CONN_RESPONSE_FIELDS_MAX - 1;
	fields_request(cl, n, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(count_fields(r.head), CONN_RESPONSE_FIELDS_MAX);
	cr_assert_null(field(&r, "X-Hook"));
	cr_assert_not_null(field(&r, "Date"));
	snprintf(last, sizeof last, "X-F-%zu", n - 1);
	cr_assert_str_eq(field(&r, last), "v");
	free_resp(&r);
	/* one more: refused, conn answers 500 */
	fields_request(cl, CONN_RESPONSE_FIELDS_MAX, &r);
	expect_json_error(&r, 500, "no response");
	cr_assert_str_eq(field(&r, "Connection"), "close");
	free_resp(&r);
	expect_eof(cl);
	finish(cl);
}

Test(conn, chunked_response_and_head)
{
	struct client *cl = start(&default_cfg);
	struct resp r;
	send_str(cl, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(cl, &r, false);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(field(&r, "Transfer-Encoding"), "chunked");
	cr_assert_eq(r.body_len, 80 + 100000);
	cr_assert_eq(memcmp(r.body, "piece-0;piece-1;", 16), 0);
	free_resp(&r);
	send_str(cl, "HEAD /head HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(cl, &r, true);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(field(&r, "Content-Length"), "1234");
	free_resp(&r);
	send_str(cl, "HEAD /stream HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(cl, &r, true);
	cr_assert_eq(r.status, 200);
	cr_assert_null(field(&r, "Transfer-Encoding"));
	free_resp(&r);
	send_str(cl, "HEAD /error HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(cl, &r, true);
	cr_assert_eq(r.status, 404);
	free_resp(&r);
	send_str(cl, "GET /notmod HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(cl, &r, true);
	cr_assert_eq(r.status, 304);
	cr_assert_null(field(&r, "Content-Length"));
	cr_assert_str_eq(field(&r, "ETag"), "\"x\"");
	send_str(cl, "GET /nocontent HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(cl, &r, true);
	cr_assert_eq(r.status, 204);
	cr_assert_null(field(&r, "Content-Length"));
	cr_assert_null(field(&r, "Transfer-Encoding"));
	/* nothing was sent for the HEAD, 304 and 204 bodies: the next response
	 * is intact */
	send_str(cl, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(cl, &r, false);
	cr_assert_str_eq(r.body, "hello");
	free_resp(&r);
	finish(cl);
}

Test(conn, http10_framing)
{
	struct client *cl = start(&default_cfg);
	struct resp r;
	send_str(cl, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	read_resp(cl, &r, false);
	cr_assert_str_eq(r.body, "hello");
	cr_assert_str_eq(field(&r, "Connection"), "keep-alive");
	free_resp(&r);
	/* unknown length for a 1.0 client: close-delimited, never chunked */
	send_str(cl, "GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	read_resp(cl, &r, false);
	cr_assert_null(field(&r, "Transfer-Encoding"));
	cr_assert_str_eq(field(&r, "Connection"), "close");
	cr_assert_eq(r.body_len, 80 + 100000);
	free_resp(&r);
	finish(cl);

	cl = start(&default_cfg);
	send_str(cl, "GET /hello HTTP/1.0\r\n\r\n");
	read_resp(cl, &r, false);
	cr_assert_str_eq(r.body, "hello");
	cr_assert_str_eq(field(&r, "Connection"), "close");
	free_resp(&r);
	expect_eof(cl);
	finish(cl);
}

/* POST /noread with a body of n bytes announced; the body only when send_body. */
static void post_noread(struct client *cl, size_t n, bool send_body)
{
	char head[128];
	snprintf(head, sizeof head, "POST /noread HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", n);
	send_str(cl, head);
	if (send_body) {
		char *body = calloc(1, n);
		cr_assert_not_null(body);
		send_all(cl, body, n);
		free(body);
	}
}

Test(conn, drain_limit_exact_keeps_alive_one_more_closes)
{
	struct client *cl = start(&default_cfg);
	struct resp r;

	/* exactly CONN_DRAIN_MAX unread: drained, kept alive; the next request
	 * is answered (an undrained byte would be parsed as its head) */
	post_noread(cl, CONN_DRAIN_MAX, true);
	read_resp(cl, &r, false);
	cr_assert_str_eq(r.body, "ok");
	cr_assert_null(field(&r, "Connection"));
	free_resp(&r);
	send_str(cl, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(cl, &r, false);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "hello");
	free_resp(&r);
	/* CONN_DRAIN_MAX + 1: announced close, then closed */
	post_noread(cl, CONN_DRAIN_MAX + 1, false);
	read_resp(cl, &r, false);
	cr_assert_str_eq(r.body, "ok");
	cr_assert_str_eq(field(&r, "Connection"), "close");
	free_resp(&r);
	expect_eof(cl);
	finish(cl);
}

Test(conn, early_413_survives_unread_body_over_tcp)
{
	/* the 413 reaches a client that is still sending its body (conn closes
	 * with a lingering close; note that Linux keeps received data on a
	 * reset, so this passes without it too: other stacks do not) */
	struct client *cl = start_tcp(&limited_cfg);
	send_str(cl, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n");
	char *body = calloc(1, 65536);
	for (int i = 0; i < 2; i++)
		(void)send(cl->fd, body, 65536, MSG_NOSIGNAL | MSG_DONTWAIT);
	struct resp r;
	read_resp(cl, &r, false);
	expect_json_error(&r, 413, "request body too large");
	free_resp(&r);
	free(body);
	finish(cl);
}

Test(conn, peer_gone_does_not_kill_worker)
{
	/* the client leaves while a large response is being written: EPIPE,
	 * never SIGPIPE */
	struct client *cl = start(&default_cfg);
	for (int i = 0; i < 5; i++)
		send_str(cl, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
	finish(cl);

	/* and while the body is being read */
	cl = start(&default_cfg);
	send_str(cl, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc");
	shutdown(cl->fd, SHUT_WR);
	cr_assert_eq(fill(cl), 0, "no response to a request cut short");
	finish(cl);
}

Test(conn, stopping_finishes_request_then_closes)
{
	struct client *cl = start(&default_cfg);
	struct resp r;
	send_str(cl, "GET /stop HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(cl, &r, false);
	cr_assert_str_eq(r.body, "stopping");
	cr_assert_str_eq(field(&r, "Connection"), "close");
	free_resp(&r);
	expect_eof(cl);
	finish(cl);
}

Test(conn, busy_response_announces_close)
{
	struct client *cl = start(&default_cfg);
	struct resp r;
	send_str(cl, "GET /busy HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(cl, &r, false);
	cr_assert_str_eq(r.body, "busy");
	cr_assert_str_eq(field(&r, "Connection"), "close");
	free_resp(&r);
	expect_eof(cl);
	finish(cl);
}

Test(conn, busy_never_cuts_a_new_connection)
{
	struct conn_config cfg = default_cfg;
	struct client *cl;
	struct resp r;

	cfg.busy = always_busy;
	cl = start(&cfg);
	/* Longer than CONN_IDLE_YIELD_MS before the first byte: still served. */
	usleep((CONN_IDLE_YIELD_MS + 500) * 1000);
	send_str(cl, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(cl, &r, false);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(field(&r, "Connection"), "close", "busy: no keep-alive promised");
	free_resp(&r);
	expect_eof(cl);
	finish(cl);
}

Test(conn, busy_closes_an_idle_kept_alive_connection)
{
	struct conn_config cfg = default_cfg;
	struct client *cl;
	struct resp r;
	struct pollfd pfd;

	cfg.idle_timeout_s = 120;   /* the idle timeout cannot be what closes it */
	cl = start(&cfg);
	send_str(cl, "GET /busy-soon HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(cl, &r, false);
	cr_assert_eq(r.status, 200);
	cr_assert_null(field(&r, "Connection"), "not busy yet: kept alive");
	free_resp(&r);
	/* Busy from 1 s on, then idle for CONN_IDLE_YIELD_MS: closed long
	 * before the 120 s idle timeout (the bound is generous on purpose). */
	pfd.fd = cl->fd;
	pfd.events = POLLIN;
	cr_assert_eq(poll(&pfd, 1, 30000), 1, "the idle connection was not yielded");
	expect_eof(cl);
	finish(cl);
}

/* The rate guard: 1000 B/s averaged over 500 ms of waiting on the peer. */
static const struct conn_config rate_cfg = {
	.header_timeout_s = 10,
	.idle_timeout_s = 30,
	.response_fields = hook_fields,
	.min_rate_bps = 1000,
	.rate_window_ms = 500,
};

Test(conn, slow_body_below_the_minimum_rate_is_408)
{
	struct client *cl = start(&rate_cfg);
	struct resp r;

	send_str(cl, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n");
	/* 1 byte every 100 ms, well inside the 30 s idle timeout: about 10 B/s */
	for (int i = 0; i < 20; i++) {
		struct pollfd p = { .fd = cl->fd, .events = POLLIN };
		if (poll(&p, 1, 100) == 1)
			break;      /* the answer came */
		send_str(cl, "x");
	}
	read_resp(cl, &r, false);
	expect_json_error(&r, 408, "Request Timeout");
	free_resp(&r);
	expect_eof(cl);
	finish(cl);
}

Test(conn, body_above_the_minimum_rate_is_served)
{
	struct client *cl = start(&rate_cfg);
	struct resp r;
	char piece[200];

	memset(piece, 'y', sizeof piece);
	send_str(cl, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n\r\n");
	for (int i = 0; i < 10; i++) {      /* 200 bytes every 50 ms: about 4000 B/s */
		send_all(cl, piece, sizeof piece);
		usleep(50000);
	}
	read_resp(cl, &r, false);
	cr_assert_eq(r.status, 200);
	cr_assert(strstr(r.body, "len=2000") != NULL, "%s", r.body);
	free_resp(&r);
	finish(cl);
}

Test(conn, a_peer_that_does_not_read_is_dropped)
{
	struct client *cl = start(&rate_cfg);
	struct pollfd p;
	int st;

	send_str(cl, "GET /huge HTTP/1.1\r\nHost: t\r\n\r\n");
	/* Read nothing: the worker must give up long before the 30 s idle timeout. */
	for (int i = 0; i < 100; i++) {
		if (waitpid(cl->pid, &st, WNOHANG) == cl->pid) {
			cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the handler saw the write fail");
			close(cl->fd);
			free(cl->buf);
			free(cl);
			return;
		}
		p.fd = -1;
		poll(&p, 0, 100);
	}
	cr_assert_fail("the server still writes to a peer that reads nothing after 10 s");
}

Test(conn, leading_crlf_between_requests)
{
	/* a client that sends CRLF after a body (RFC 9112 2.2) */
	struct client *cl = start(&default_cfg);
	struct resp r;
	send_str(cl, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi\r\n"
	    "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(cl, &r, false);
	cr_assert_eq(strncmp(r.body, "len=2 ", 6), 0);
	free_resp(&r);
	read_resp(cl, &r, false);
	cr_assert_str_eq(r.body, "hello");
	free_resp(&r);
	finish(cl);
}

/* ---- the pool's hooks: states, the pressure floor, the head deadline ---- */

static void record_state(enum conn_state st)
{
	size_t n = strlen(states_seen);
	if (n + 1 < sizeof states_seen)
		states_seen[n] = "RQHWK"[st];
}

static const struct conn_config state_cfg = {
	.header_timeout_s = 10,
	.idle_timeout_s = 10,
	.state = record_state,
};

Test(conn, states_are_reported_once_per_change)
{
	struct client *cl = start(&state_cfg);
	struct resp r;

	/* reading, then the request; kept alive, then the next request */
	send_str(cl, "GET /states HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(cl, &r, false);
	cr_assert_str_eq(r.body, "RQ");
	free_resp(&r);
	send_str(cl, "GET /states HTTP/1.1\r\nHost: t\r\n\r\n");
	read_resp(cl, &r, false);
	cr_assert_str_eq(r.body, "RQKQ");
	free_resp(&r);
	finish(cl);
}

static unsigned floor_bps;
static const char *gave_way_phase;

static unsigned test_floor(void)
{
	return floor_bps;
}

static void test_gave_way(void *arg, struct conn *c, const char *phase, unsigned rate,
    unsigned floor)
{
	(void)arg;
	(void)c;
	if (rate < floor)
		gave_way_phase = phase;
}

static size_t gave_way_fields(void *arg, const struct http_request *req, int status,
    struct http_field *out, size_t cap)
{
	(void)arg;
	(void)req;
	(void)status;
	if (cap < 2)
		return 0;
	out[0] = (struct http_field){ "X-Hook", "yes" };
	if (gave_way_phase == NULL)
		return 1;
	out[1] = (struct http_field){ "X-Gave-Way", gave_way_phase };
	return 2;
}

static const struct conn_config pressure_cfg = {
	.header_timeout_s = 10,
	.idle_timeout_s = 30,
	.response_fields = gave_way_fields,
	.pressure_floor = test_floor,
	.gave_way = test_gave_way,
};

/* Sends piece every ms until the server answers or closes (at most n times). */
static void trickle(struct client *cl, const char *piece, int n, int ms)
{
	for (int i = 0; i < n; i++) {
		struct pollfd p = { .fd = cl->fd, .events = POLLIN };
		if (poll(&p, 1, ms) == 1)
			return;
		send_all(cl, piece, strlen(piece));
	}
}

Test(conn, under_pressure_a_slow_head_gives_way_with_408)
{
	floor_bps = 4096;       /* set before the fork: the server's copy */
	struct client *cl = start(&pressure_cfg);
	struct resp r;

	send_str(cl, "GET /hello HTTP/1.1\r\n");
	trickle(cl, "X", 100, 100);         /* about 10 B/s: far below the floor */
	read_resp(cl, &r, false);
	expect_json_error(&r, 408, "request too slow while the relay is busy");
	cr_assert_str_eq(field(&r, "X-Gave-Way"), "head");
	free_resp(&r);
	expect_eof(cl);
	finish(cl);
}

Test(conn, under_pressure_a_silent_new_connection_is_closed)
{
	floor_bps = 4096;
	struct client *cl = start(&pressure_cfg);
	expect_eof(cl);         /* nothing sent: closed without a response */
	finish(cl);
}

/* A POST of length bytes whose body comes 200 bytes every 50 ms (about
 * 4,000 B/s) with the pool's floor at floor; the response in r. */
static struct client *post_at_4000_bps(unsigned floor, unsigned length, struct resp *r)
{
	char piece[201], head[128];

	floor_bps = floor;      /* set before the fork: the server's copy */
	memset(piece, 'y', 200);
	piece[200] = '\0';
	snprintf(head, sizeof head, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %u\r\n\r\n",
	    length);
	struct client *cl = start(&pressure_cfg);
	send_str(cl, head);
	trickle(cl, piece, length / 200, 50);
	read_resp(cl, r, false);
	return cl;
}

Test(conn, under_pressure_a_body_below_the_floor_gives_way)
{
	struct resp r;
	/* 4,000 B/s passes CONN_MIN_RATE_BPS (body_above_the_minimum_rate_is_served)
	 * but not a floor of 64 KiB/s */
	struct client *cl = post_at_4000_bps(65536, 100000, &r);

	cr_assert_eq(r.status, 408);
	cr_assert_str_eq(field(&r, "X-Gave-Way"), "body");
	free_resp(&r);
	expect_eof(cl);
	finish(cl);
}

Test(conn, without_pressure_the_same_body_is_served)
{
	struct resp r;
	struct client *cl = post_at_4000_bps(0, 4000, &r);

	cr_assert_eq(r.status, 200);
	cr_assert_null(field(&r, "X-Gave-Way"));
	free_resp(&r);
	finish(cl);
}

static const struct conn_config head_deadline_cfg = {
	.header_timeout_s = 2,
	.idle_timeout_s = 10,
	.response_fields = hook_fields,
};

/* The first request's head has one deadline from the accept: a peer that
 * waits, then sends its head in pieces, does not get a fresh header timeout
 * from its first byte. */
Test(conn, first_head_deadline_runs_from_the_accept)
{
	struct client *cl = start(&head_deadline_cfg);
	struct pollfd p = { .fd = cl->fd, .events = POLLIN };
	struct resp r;

	cr_assert_eq(poll(&p, 1, 1500), 0);
	send_str(cl, "GET /hello HTTP/1.1\r\n");
	/* the rest only if the server has not answered within the next 1.5 s */
	if (poll(&p, 1, 1500) == 0)
		send_str(cl, "Host: t\r\n\r\n");
	read_resp(cl, &r, false);
	expect_json_error(&r, 408, "request head not received in time");
	free_resp(&r);
	expect_eof(cl);
	finish(cl);
}
