/*
 * loadgen.c - the project's HTTP/1.1 load generator (make bench-relay).
 *
 * Keeps C keep-alive connections busy with poll() on non-blocking sockets
 * (one thread by default, -t for more), one request in flight per
 * connection, and counts what comes back.  Three modes:
 *   plain      ordinary HTTP requests: the upstream, nginx, pass-through
 *   protected  protocol v1 requests: N client ids with P pairs each are
 *              paired through the relay first; every request is sealed as
 *              it is sent (its own seq, per pair in order) and every answer
 *              opened and checked (echo, meta, body) with the relay's own
 *              code (loadgen_mte.c over build/libmterelay.a)
 *   pair       POST /api/mte-pair of fresh pairs: pairings per second
 * A request is an error when its answer is not 2xx (status), fails
 * authentication (auth), is malformed HTTP or not a pairing answer
 * (invalid), the connection fails or is cut (conn), or no answer completes
 * within --timeout (timeout).  Latency is measured from the start of
 * sealing to the end of opening, over the successful requests.  Output: one
 * human line, then one JSON line.  Exit 0 when the run took place (errors
 * or not), 1 when set-up failed, 2 on a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "crypto/b64.h"
#include "crypto/rand.h"
#include "crypto/wipe.h"
#include "crypto/xwing.h"
#include "tests/bench/loadgen_http.h"
#include "tests/bench/loadgen_mte.h"

#define LG_HEADERS_MAX      16          /* -H options */
#define LG_CONNS_MAX        4096
#define LG_THREADS_MAX      64
#define LG_CLIENTS_MAX      4096
#define LG_PAIRS_MAX        1024        /* pairs per client */
#define LG_BODY_MAX         ((size_t)1 << 30)
#define LG_COLLECT_MAX      (256 * 1024) /* bytes of a pairing answer we keep */
#define LG_SCRATCH          65536       /* chunked-decoding output per step */
#define LG_RETRY_NS         10000000ull /* wait after a failed connect: 10 ms */
#define NS                  1000000000ull

enum mode { M_PLAIN, M_PROTECTED, M_PAIR };
static const char *const mode_name[] = { "plain", "protected", "pair" };

enum outcome { O_OK = -1, E_STATUS = 0, E_AUTH, E_INVALID, E_CONN, E_TIMEOUT, E_KINDS };
static const char *const error_name[E_KINDS] = { "status", "auth", "invalid", "conn", "timeout" };

struct options {
	const char *url;
	enum mode   mode;
	unsigned    conns, threads, clients, pairs, entries;
	double      duration, warmup;
	uint64_t    requests;           /* 0: run for duration */
	size_t      body_size;
	int         has_body;
	const char *method, *path;
	const char *headers[LG_HEADERS_MAX + 1];
	size_t      nheaders;
	int         clear_url, tamper, timeout_ms;
};

struct stats {
	uint64_t ok, err[E_KINDS], sent, abandoned, reconnects, warmup, pairings;
	uint64_t bytes_in, bytes_out, last_done;
	uint64_t *lat;
	size_t   nlat, cap;
	char     first_error[192];
};

enum conn_state { C_IDLE, C_CONNECTING, C_WRITING, C_READING, C_WAIT, C_DONE };
enum sink { S_DISCARD, S_COUNT, S_OPEN, S_COLLECT };

struct conn {
	int             fd;
	enum conn_state state;
	/* the request */
	char           *head;
	size_t          head_cap, head_len;
	uint8_t        *body;
	size_t          body_cap, body_len, written;
	uint64_t        t0, deadline, retry_at;
	int             measured;
	struct lg_sent  sent;
	/* the answer */
	char           *rbuf;
	size_t          rlen, rpos;
	int             have_head;
	struct lg_response resp;
	enum lg_body_framing framing;
	uint64_t        left;
	struct http_chunked chunked;
	enum sink       sink;
	enum outcome    verdict;
	const char     *why;
	char            why_buf[64];
	struct lg_open *open;
	uint8_t        *collect;
	size_t          collect_len;
	/* mode pair */
	char            pk64[LG_PK_B64_LEN + 1];
	char            pair_ids[PAIR_ENTRIES_MAX][LG_PAIR_ID_LEN + 1];
	const struct lg_client *client;
};

struct worker {
	const struct options   *o;
	const struct lg_target *t;
	const struct lg_request_shape *shape;
	struct conn    *conns;
	unsigned        nconns;
	struct lg_client *clients;
	unsigned        nclients, next_client;
	struct lg_pair *pairs;
	size_t          npairs, next_pair;
	uint8_t         scratch[LG_SCRATCH];
	struct stats    st;
	pthread_t       thread;
};

/* Shared by the workers: fixed before they start, except issued. */
static uint64_t t_measure, t_end;
static _Atomic uint64_t issued;
static const uint8_t *plain_body;   /* the request body plaintext */

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static void
die(int code, const char *what, const char *why)
{
	fprintf(stderr, "loadgen: %s%s%s\n", what, why ? ": " : "", why ? why : "");
	exit(code);
}

static void *
xmalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (p == NULL)
		die(1, "out of memory", NULL);
	return p;
}

/* ---- one request ---- */

static int is_head_method(const struct options *o) { return strcmp(o->method, "HEAD") == 0; }

static void
record_latency(struct stats *st, uint64_t ns)
{
	if (st->nlat == st->cap) {
		size_t nc = st->cap ? st->cap * 2 : 65536;
		uint64_t *nl = realloc(st->lat, nc * sizeof *nl);

		if (nl == NULL)
			die(1, "out of memory", NULL);
		st->lat = nl;
		st->cap = nc;
	}
	st->lat[st->nlat++] = ns;
}

static void
close_conn(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->open)
		lg_open_wipe(c->open);
}

static void start_request(struct worker *w, struct conn *c, uint64_t now);

/* The request on c ended with outcome k; the next one starts (or waits). */
static void
finish_request(struct worker *w, struct conn *c, enum outcome k, const char *why, uint64_t now)
{
	struct stats *st = &w->st;

	if (c->open)
		lg_open_wipe(c->open);
	if (!c->measured) {
		st->warmup++;
	} else if (k == O_OK) {
		st->ok++;
		if (w->o->mode == M_PAIR)
			st->pairings += w->o->entries;
		record_latency(st, now - c->t0);
		st->last_done = now;
	} else {
		st->err[k]++;
		st->last_done = now;
		if (st->first_error[0] == 0)
			snprintf(st->first_error, sizeof st->first_error, "%s: %s", error_name[k], why);
	}
	/* A complete answer (even a refused one) leaves the connection usable. */
	if (k == E_INVALID || k == E_CONN || k == E_TIMEOUT || !c->resp.keep_alive ||
	    c->state != C_READING)
		close_conn(c);
	c->state = C_IDLE;
	if (k == E_CONN && c->written == 0) {
		/* never reached the peer: do not spin on a refused connect */
		c->state = C_WAIT;
		c->retry_at = now + LG_RETRY_NS;
		return;
	}
	start_request(w, c, now);
}

/* Formats the next request into c->head / c->body. */
static int
build_request(struct worker *w, struct conn *c)
{
	const struct options *o = w->o;
	int n;

	switch (o->mode) {
	case M_PLAIN:
		return 0;       /* built once, in setup_conn */
	case M_PROTECTED: {
		struct lg_pair *p = &w->pairs[w->next_pair++ % w->npairs];

		return lg_seal_request(w->shape, p, c->head, c->head_cap, &c->head_len, c->body,
		    c->body_cap, &c->body_len, &c->sent);
	}
	case M_PAIR:
		c->client = &w->clients[w->next_client++ % w->nclients];
		for (unsigned i = 0; i < o->entries; i++)
			lg_fresh_pair_id(c->pair_ids[i]);
		n = lg_pairing_body((char *)c->body, c->body_cap, c->pk64, c->pair_ids, o->entries);
		if (n < 0)
			return -1;
		c->body_len = (size_t)n;
		n = snprintf(c->head, c->head_cap, "POST /api/mte-pair HTTP/1.1\r\nHost: %s\r\n"
		    "x-mte-relay: %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
		    w->t->host, c->client->signed_id, c->body_len);
		if (n < 0 || (size_t)n >= c->head_cap)
			return -1;
		c->head_len = (size_t)n;
		return 0;
	}
	return -1;
}

static void on_writable(struct worker *w, struct conn *c, uint64_t now);

static void
start_request(struct worker *w, struct conn *c, uint64_t now)
{
	const struct options *o = w->o;

	c->state = C_DONE;
	if (now >= t_end)
		return;
	c->measured = now >= t_measure;
	if (c->measured && o->requests && atomic_fetch_add(&issued, 1) >= o->requests)
		return;
	c->t0 = now;
	c->deadline = now + (uint64_t)o->timeout_ms * 1000000ull;
	c->written = 0;
	c->rlen = c->rpos = 0;
	c->have_head = 0;
	c->verdict = O_OK;
	c->why = "";
	c->collect_len = 0;
	memset(&c->resp, 0, sizeof c->resp);
	c->resp.keep_alive = true;
	if (build_request(w, c) != 0)
		die(1, "cannot build a request (sizes)", NULL);
	if (c->fd < 0) {
		int one = 1;

		c->fd = socket(w->t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c->fd < 0)
			die(1, "socket", strerror(errno));
		(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (c->measured)
			w->st.reconnects++;
		if (connect(c->fd, (const struct sockaddr *)&w->t->addr, w->t->addr_len) != 0) {
			if (errno != EINPROGRESS) {
				c->state = C_CONNECTING;
				finish_request(w, c, E_CONN, "connect failed", now);
				return;
			}
			c->state = C_CONNECTING;
			return;
		}
	}
	c->state = C_WRITING;
	on_writable(w, c, now);
}

/* A transport failure: the connection goes, the request counts as kind. */
static void
fail(struct worker *w, struct conn *c, enum outcome kind, const char *why, uint64_t now)
{
	close_conn(c);
	finish_request(w, c, kind, why, now);
}

static void
on_writable(struct worker *w, struct conn *c, uint64_t now)
{
	size_t total = c->head_len + c->body_len;

	if (c->state == C_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof err;

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
			fail(w, c, E_CONN, "connect failed", now);
			return;
		}
		c->state = C_WRITING;
	}
	while (c->written < total) {
		struct iovec iov[2];
		struct msghdr msg = { .msg_iov = iov };
		ssize_t n;

		if (c->written < c->head_len) {
			iov[0] = (struct iovec){ c->head + c->written, c->head_len - c->written };
			iov[1] = (struct iovec){ c->body, c->body_len };
			msg.msg_iovlen = c->body_len ? 2 : 1;
		} else {
			size_t off = c->written - c->head_len;

			iov[0] = (struct iovec){ c->body + off, c->body_len - off };
			msg.msg_iovlen = 1;
		}
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			fail(w, c, E_CONN, "connection failed while sending", now);
			return;
		}
		if (c->written == 0 && c->measured)
			w->st.sent++;
		c->written += (size_t)n;
		w->st.bytes_out += (uint64_t)n;
	}
	c->state = C_READING;
}

/* Takes body bytes of the answer (after any transfer coding). */
static void
sink(struct worker *w, struct conn *c, uint8_t *data, size_t len)
{
	switch (c->sink) {
	case S_OPEN:
		if (lg_open_feed(c->open, data, len, w->o->tamper, &c->why) != 0) {
			c->verdict = E_AUTH;
			c->sink = S_DISCARD;
		}
		break;
	case S_COLLECT:
		if (c->collect_len + len > LG_COLLECT_MAX) {
			c->verdict = E_INVALID;
			c->why = "pairing answer too large";
			c->sink = S_DISCARD;
			break;
		}
		memcpy(c->collect + c->collect_len, data, len);
		c->collect_len += len;
		break;
	default:
		break;
	}
}

/* The head of the answer arrived: decide what its body is for. */
static void
on_head(struct worker *w, struct conn *c)
{
	const struct options *o = w->o;
	int ok2xx = c->resp.status >= 200 && c->resp.status <= 299;

	c->framing = lg_body_framing(&c->resp, is_head_method(o));
	c->left = c->resp.content_length;
	http_chunked_init(&c->chunked);
	c->sink = S_DISCARD;
	if (o->mode == M_PROTECTED) {
		if (c->resp.relay_count == 0 && !ok2xx) {
			c->verdict = E_STATUS;
			c->why = "a clear answer with that status";
		} else if (lg_open_head(c->open, &c->sent, &c->resp, is_head_method(o), o->tamper,
		    &c->why) != 0) {
			c->verdict = E_AUTH;
		} else {
			c->sink = S_OPEN;
		}
	} else if (o->mode == M_PAIR) {
		c->sink = S_COLLECT;
	} else {
		c->sink = S_COUNT;
	}
}

/* The answer ended: the last checks, then the outcome. */
static void
on_answer_end(struct worker *w, struct conn *c, uint64_t now)
{
	int ok2xx = c->resp.status >= 200 && c->resp.status <= 299;

	if (c->rpos != c->rlen) {
		fail(w, c, E_INVALID, "bytes after the answer", now);
		return;
	}
	if (c->verdict == O_OK && c->sink == S_OPEN && lg_open_finish(c->open, &c->why) != 0)
		c->verdict = E_AUTH;
	if (c->verdict == O_OK && !ok2xx) {
		c->verdict = E_STATUS;
		c->why = "status not 2xx";
	}
	if (c->verdict == O_OK && c->sink == S_COLLECT &&
	    lg_pairing_check(c->collect, c->collect_len, c->pair_ids, w->o->entries, &c->why) != 0)
		c->verdict = E_INVALID;
	if (c->verdict == E_STATUS) {
		snprintf(c->why_buf, sizeof c->why_buf, "status %d", c->resp.status);
		c->why = c->why_buf;
	}
	finish_request(w, c, c->verdict, c->why, now);
}

/* Parses what is in rbuf; returns 1 when the answer ended (or failed). */
static int
process(struct worker *w, struct conn *c, uint64_t now)
{
	while (!c->have_head) {
		int hl = lg_parse_response_head(c->rbuf + c->rpos, c->rlen - c->rpos, &c->resp);

		if (hl == HTTP_MALFORMED) {
			fail(w, c, E_INVALID, "malformed answer head", now);
			return 1;
		}
		if (hl == HTTP_INCOMPLETE) {
			if (c->rlen == LG_RESPONSE_HEAD_MAX) {
				if (c->rpos == 0) {
					fail(w, c, E_INVALID, "answer head too large", now);
					return 1;
				}
				memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
				c->rlen -= c->rpos;
				c->rpos = 0;
			}
			return 0;
		}
		c->rpos += (size_t)hl;
		if (c->resp.status >= 100 && c->resp.status <= 199 && c->resp.status != 101)
			continue;       /* an interim answer: the real one follows */
		c->have_head = 1;
		on_head(w, c);
		if (c->framing == LG_BODY_NONE || (c->framing == LG_BODY_LENGTH && c->left == 0)) {
			on_answer_end(w, c, now);
			return 1;
		}
	}
	while (c->rpos < c->rlen) {
		size_t avail = c->rlen - c->rpos, used = 0, made = 0;
		int rc;

		switch (c->framing) {
		case LG_BODY_LENGTH:
			if (avail > c->left)
				avail = (size_t)c->left;
			sink(w, c, (uint8_t *)c->rbuf + c->rpos, avail);
			c->rpos += avail;
			c->left -= avail;
			if (c->left == 0) {
				on_answer_end(w, c, now);
				return 1;
			}
			break;
		case LG_BODY_CHUNKED:
			rc = http_chunked_decode(&c->chunked, c->rbuf + c->rpos, avail, &used,
			    (char *)w->scratch, sizeof w->scratch, &made);
			sink(w, c, w->scratch, made);
			c->rpos += used;
			if (rc == HTTP_MALFORMED) {
				fail(w, c, E_INVALID, "malformed chunked body", now);
				return 1;
			}
			if (rc == 1) {
				on_answer_end(w, c, now);
				return 1;
			}
			break;
		default:
			sink(w, c, (uint8_t *)c->rbuf + c->rpos, avail);
			c->rpos += avail;
			break;
		}
	}
	c->rpos = c->rlen = 0;
	return 0;
}

static void
on_readable(struct worker *w, struct conn *c, uint64_t now)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->rbuf + c->rlen, LG_RESPONSE_HEAD_MAX - c->rlen, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			fail(w, c, E_CONN, "connection failed while reading", now);
			return;
		}
		if (n == 0) {
			if (c->have_head && c->framing == LG_BODY_CLOSE) {
				c->resp.keep_alive = false;
				on_answer_end(w, c, now);
			} else {
				fail(w, c, E_CONN, "connection cut before the end of the answer", now);
			}
			return;
		}
		c->rlen += (size_t)n;
		w->st.bytes_in += (uint64_t)n;
		if (process(w, c, now))
			return;
	}
}

/* ---- the loop of one worker ---- */

static int
in_flight(const struct conn *c)
{
	return c->state == C_CONNECTING || c->state == C_WRITING || c->state == C_READING;
}

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct pollfd *pfd = xmalloc(w->nconns * sizeof *pfd);
	uint64_t now = now_ns();
	unsigned i;

	for (i = 0; i < w->nconns; i++)
		start_request(w, &w->conns[i], now);
	for (;;) {
		uint64_t wake = t_end;
		int live = 0, timeout_ms;

		now = now_ns();
		if (now >= t_end) {
			for (i = 0; i < w->nconns; i++)
				if (in_flight(&w->conns[i]) && w->conns[i].measured)
					w->st.abandoned++;
			break;
		}
		for (i = 0; i < w->nconns; i++) {
			struct conn *c = &w->conns[i];

			if (in_flight(c) && now >= c->deadline)
				fail(w, c, E_TIMEOUT, "no answer within --timeout", now);
			if (c->state == C_WAIT && now >= c->retry_at)
				start_request(w, c, now);
			pfd[i].fd = -1;
			pfd[i].events = 0;
			pfd[i].revents = 0;
			if (in_flight(c)) {
				pfd[i].fd = c->fd;
				pfd[i].events = c->state == C_READING ? POLLIN : POLLOUT;
				if (c->deadline < wake)
					wake = c->deadline;
			}
			if (c->state == C_WAIT && c->retry_at < wake)
				wake = c->retry_at;
			live += in_flight(c) || c->state == C_WAIT;
		}
		if (!live)
			break;
		timeout_ms = wake <= now ? 0 : (int)((wake - now + 999999) / 1000000);
		if (timeout_ms > 1000)
			timeout_ms = 1000;
		if (poll(pfd, w->nconns, timeout_ms) < 0 && errno != EINTR)
			die(1, "poll", strerror(errno));
		now = now_ns();
		for (i = 0; i < w->nconns; i++) {
			struct conn *c = &w->conns[i];

			if (pfd[i].fd < 0 || pfd[i].revents == 0 || c->fd != pfd[i].fd)
				continue;
			if (c->state == C_READING)
				on_readable(w, c, now);
			else if (c->state == C_CONNECTING || c->state == C_WRITING)
				on_writable(w, c, now);
		}
	}
	for (i = 0; i < w->nconns; i++)
		close_conn(&w->conns[i]);
	free(pfd);
	return NULL;
}

/* ---- set-up ---- */

static int
has_content_type(const struct options *o)
{
	for (size_t i = 0; i < o->nheaders; i++)
		if (strncasecmp(o->headers[i], "content-type:", 13) == 0)
			return 1;
	return 0;
}

static void
setup_conn(struct worker *w, struct conn *c)
{
	const struct options *o = w->o;
	size_t extra = 0, i;

	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->rbuf = xmalloc(LG_RESPONSE_HEAD_MAX);
	for (i = 0; i < o->nheaders; i++)
		extra += strlen(o->headers[i]) + 2;
	switch (o->mode) {
	case M_PLAIN: {
		int n;

		c->head_cap = 256 + strlen(o->method) + strlen(o->path) + strlen(w->t->host) + extra;
		c->head = xmalloc(c->head_cap);
		n = snprintf(c->head, c->head_cap, "%s %s HTTP/1.1\r\nHost: %s\r\n", o->method, o->path,
		    w->t->host);
		for (i = 0; i < o->nheaders; i++)
			n += snprintf(c->head + n, c->head_cap - (size_t)n, "%s\r\n", o->headers[i]);
		if (o->has_body && !has_content_type(o))
			n += snprintf(c->head + n, c->head_cap - (size_t)n,
			    "Content-Type: application/octet-stream\r\n");
		if (o->has_body)
			n += snprintf(c->head + n, c->head_cap - (size_t)n, "Content-Length: %zu\r\n",
			    o->body_size);
		n += snprintf(c->head + n, c->head_cap - (size_t)n, "\r\n");
		c->head_len = (size_t)n;
		/* the body is the same every time: point at it */
		c->body = (uint8_t *)plain_body;
		c->body_len = o->has_body ? o->body_size : 0;
		break;
	}
	case M_PROTECTED:
		lg_request_caps(w->shape, &c->head_cap, &c->body_cap);
		c->head = xmalloc(c->head_cap);
		c->body = xmalloc(c->body_cap);
		c->open = xmalloc(sizeof *c->open);
		break;
	case M_PAIR: {
		uint8_t seed[XWING_SEED_LEN], pk[XWING_PK_LEN];

		/* One key per connection: the relay's work (encapsulation, a
		 * fresh pair in the store) is the same for any key. */
		rand_bytes(seed, sizeof seed);
		xwing_keygen(pk, seed);
		crypto_wipe(seed, sizeof seed);
		b64url_encode(c->pk64, sizeof c->pk64, pk, sizeof pk);
		c->head_cap = 512 + strlen(w->t->host);
		c->head = xmalloc(c->head_cap);
		c->body_cap = PAIR_ENTRIES_MAX * LG_PAIR_ENTRY_MAX + 16;
		c->body = xmalloc(c->body_cap);
		c->collect = xmalloc(LG_COLLECT_MAX);
		break;
	}
	}
}

static void
setup_worker(struct worker *w, unsigned index)
{
	const struct options *o = w->o;
	unsigned c0 = index * o->conns / o->threads, c1 = (index + 1) * o->conns / o->threads;
	unsigned k0 = index * o->clients / o->threads, k1 = (index + 1) * o->clients / o->threads;
	const char *why;
	unsigned i;

	if (o->mode != M_PLAIN) {
		w->nclients = k1 - k0;
		w->clients = xmalloc(w->nclients * sizeof *w->clients);
		for (i = 0; i < w->nclients; i++)
			if (lg_client_new(w->t, o->timeout_ms, &w->clients[i], &why) != 0)
				die(1, "HEAD /api/mte-relay", why);
	}
	if (o->mode == M_PROTECTED) {
		w->npairs = (size_t)w->nclients * o->pairs;
		w->pairs = xmalloc(w->npairs * sizeof *w->pairs);
		for (i = 0; i < w->nclients; i++) {
			size_t done = 0;

			while (done < o->pairs) {
				size_t n = o->pairs - done > PAIR_ENTRIES_MAX ? PAIR_ENTRIES_MAX : o->pairs - done;

				if (lg_pair_setup(w->t, o->timeout_ms, &w->clients[i],
				    &w->pairs[(size_t)i * o->pairs + done], n, &why) != 0)
					die(1, "POST /api/mte-pair", why);
				done += n;
			}
		}
	}
	w->nconns = c1 - c0;
	w->conns = xmalloc(w->nconns * sizeof *w->conns);
	for (i = 0; i < w->nconns; i++)
		setup_conn(w, &w->conns[i]);
}

/* Frees what setup_worker and the run allocated; pair keys are wiped. */
static void
free_worker(struct worker *w)
{
	unsigned i;

	for (i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];

		free(c->rbuf);
		free(c->head);
		if (w->o->mode != M_PLAIN)
			free(c->body);      /* plain: the shared body */
		if (c->open)
			crypto_wipe(c->open, sizeof *c->open);
		free(c->open);
		free(c->collect);
	}
	free(w->conns);
	if (w->pairs)
		crypto_wipe(w->pairs, w->npairs * sizeof *w->pairs);
	free(w->pairs);
	free(w->clients);
	free(w->st.lat);
}

/* ---- options ---- */

static void
usage(int code)
{
	fprintf(code ? stderr : stdout,
	    "usage: loadgen -u URL [options]\n"
	    "  -u, --url URL          http://host[:port][/path] (the path is the default --path)\n"
	    "  -m, --mode MODE        plain (default) | protected | pair\n"
	    "  -c, --connections N    keep-alive connections, one request in flight each (default 4)\n"
	    "  -t, --threads N        threads sharing the connections (default 1)\n"
	    "  -d, --duration S       seconds of measurement (default 5)\n"
	    "  -n, --requests N       measure exactly N requests instead of a duration\n"
	    "  -w, --warmup S         seconds of requests before measuring, not counted (default 0)\n"
	    "  -b, --body BYTES       a request body of BYTES (suffix k or M; bytes 'a'..'z' repeated)\n"
	    "  -X, --method M         default GET, POST with --body\n"
	    "  -p, --path P           request path and query (protected: sealed in meta)\n"
	    "  -H, --header 'N: V'    a request field (protected: sealed in meta); repeatable\n"
	    "      --clients N        protected, pair: client ids (default 4)\n"
	    "      --pairs P          protected: pairs per client id (default 4)\n"
	    "      --entries E        pair: entries per pairing request (default 1)\n"
	    "      --clear-url        protected: the URL in the clear (no flag u)\n"
	    "      --timeout MS       per request (default 10000)\n"
	    "      --tamper WHAT      protected: flip a bit of every answer's sealed meta or body\n"
	    "                         before opening it (WHAT: meta | body); every answer must then\n"
	    "                         count as an auth error\n");
	exit(code);
}

static uint64_t
parse_count(const char *s, const char *opt, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || (*end && strcmp(end, "k") && strcmp(end, "K") && strcmp(end, "M")) ||
	    *s == '-')
		die(2, opt, "not a number");
	if (*end == 'k' || *end == 'K')
		v *= 1024;
	else if (*end == 'M')
		v *= 1024 * 1024;
	if (v < min || v > max)
		die(2, opt, "out of range");
	return v;
}

static double
parse_seconds(const char *s, const char *opt)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !(v >= 0 && v <= 86400))
		die(2, opt, "not a number of seconds (0..86400)");
	return v;
}

static void
parse_options(int argc, char **argv, struct options *o)
{
	enum { O_CLIENTS = 256, O_PAIRS, O_ENTRIES, O_CLEAR_URL, O_TIMEOUT, O_TAMPER };
	static const struct option longs[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "mode", required_argument, NULL, 'm' },
		{ "connections", required_argument, NULL, 'c' },
		{ "threads", required_argument, NULL, 't' },
		{ "duration", required_argument, NULL, 'd' },
		{ "requests", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "body", required_argument, NULL, 'b' },
		{ "method", required_argument, NULL, 'X' },
		{ "path", required_argument, NULL, 'p' },
		{ "header", required_argument, NULL, 'H' },
		{ "clients", required_argument, NULL, O_CLIENTS },
		{ "pairs", required_argument, NULL, O_PAIRS },
		{ "entries", required_argument, NULL, O_ENTRIES },
		{ "clear-url", no_argument, NULL, O_CLEAR_URL },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "tamper", required_argument, NULL, O_TAMPER },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*o = (struct options){ .mode = M_PLAIN, .conns = 4, .threads = 1, .clients = 4, .pairs = 4,
	    .entries = 1, .duration = 5, .timeout_ms = 10000 };
	while ((ch = getopt_long(argc, argv, "u:m:c:t:d:n:w:b:X:p:H:h", longs, NULL)) != -1) {
		switch (ch) {
		case 'u': o->url = optarg; break;
		case 'm':
			if (!strcmp(optarg, "plain")) o->mode = M_PLAIN;
			else if (!strcmp(optarg, "protected")) o->mode = M_PROTECTED;
			else if (!strcmp(optarg, "pair")) o->mode = M_PAIR;
			else die(2, "--mode", "plain, protected or pair");
			break;
		case 'c': o->conns = (unsigned)parse_count(optarg, "--connections", 1, LG_CONNS_MAX); break;
		case 't': o->threads = (unsigned)parse_count(optarg, "--threads", 1, LG_THREADS_MAX); break;
		case 'd': o->duration = parse_seconds(optarg, "--duration"); break;
		case 'n': o->requests = parse_count(optarg, "--requests", 1, UINT64_MAX / 2); break;
		case 'w': o->warmup = parse_seconds(optarg, "--warmup"); break;
		case 'b':
			o->body_size = (size_t)parse_count(optarg, "--body", 0, LG_BODY_MAX);
			o->has_body = 1;
			break;
		case 'X': o->method = optarg; break;
		case 'p': o->path = optarg; break;
		case 'H':
			if (o->nheaders == LG_HEADERS_MAX)
				die(2, "--header", "too many");
			o->headers[o->nheaders++] = optarg;
			break;
		case O_CLIENTS: o->clients = (unsigned)parse_count(optarg, "--clients", 1, LG_CLIENTS_MAX); break;
		case O_PAIRS: o->pairs = (unsigned)parse_count(optarg, "--pairs", 1, LG_PAIRS_MAX); break;
		case O_ENTRIES:
			o->entries = (unsigned)parse_count(optarg, "--entries", 1, PAIR_ENTRIES_MAX);
			break;
		case O_CLEAR_URL: o->clear_url = 1; break;
		case O_TIMEOUT: o->timeout_ms = (int)parse_count(optarg, "--timeout", 1, 3600000); break;
		case O_TAMPER:
			if (!strcmp(optarg, "meta")) o->tamper = LG_TAMPER_META;
			else if (!strcmp(optarg, "body")) o->tamper = LG_TAMPER_BODY;
			else die(2, "--tamper", "meta or body");
			break;
		case 'h': usage(0); break;
		default: usage(2);
		}
	}
	if (optind != argc || o->url == NULL)
		usage(2);
	if (o->mode == M_PAIR && (o->method || o->has_body))
		die(2, "--method/--body", "not with --mode pair (always a POST of pairing entries)");
	if (o->mode == M_PAIR)
		o->method = "POST";
	if (o->method == NULL)
		o->method = o->has_body ? "POST" : "GET";
	if (!http_is_token(o->method, strlen(o->method)))
		die(2, "--method", "not a token");
	if (o->conns < o->threads)
		die(2, "--connections", "fewer than --threads");
	if (o->mode != M_PLAIN && o->clients < o->threads)
		die(2, "--clients", "fewer than --threads");
	if (o->tamper && o->mode != M_PROTECTED)
		die(2, "--tamper", "only with --mode protected");
	if (o->requests == 0 && o->duration <= 0)
		die(2, "--duration", "must be positive without --requests");
	for (size_t i = 0; i < o->nheaders; i++) {
		const char *h = o->headers[i], *colon = strchr(h, ':');

		if (colon == NULL || !http_is_token(h, (size_t)(colon - h)) ||
		    !http_is_field_value(colon + 1, strlen(colon + 1)))
			die(2, "--header", "not 'Name: value'");
	}
}

/* ---- report ---- */

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct_ms(const uint64_t *lat, size_t n, double q)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(q * (double)n);
	return (double)lat[i < n ? i : n - 1] / 1e6;
}

static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* s as a JSON string (our own messages: ASCII; quotes and backslashes escaped). */
static void
json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar((unsigned char)*s >= 0x20 ? *s : '?');
	}
	putchar('"');
}

/* cpu: CPU seconds per second of the run (1.00 = one core busy). */
static void
report(const struct options *o, const char *host, struct worker *ws, double wall, double cpu)
{
	struct stats all = { 0 };
	uint64_t errors = 0;
	unsigned i, k;
	double rps, mean = 0;

	for (i = 0; i < o->threads; i++) {
		struct stats *s = &ws[i].st;

		all.ok += s->ok;
		for (k = 0; k < E_KINDS; k++)
			all.err[k] += s->err[k];
		all.sent += s->sent;
		all.abandoned += s->abandoned;
		all.reconnects += s->reconnects;
		all.warmup += s->warmup;
		all.pairings += s->pairings;
		all.bytes_in += s->bytes_in;
		all.bytes_out += s->bytes_out;
		if (all.first_error[0] == 0)
			memcpy(all.first_error, s->first_error, sizeof all.first_error);
		all.nlat += s->nlat;
	}
	all.lat = xmalloc(all.nlat * sizeof *all.lat);
	all.nlat = 0;
	for (i = 0; i < o->threads; i++) {
		if (ws[i].st.nlat)
			memcpy(all.lat + all.nlat, ws[i].st.lat, ws[i].st.nlat * sizeof *all.lat);
		all.nlat += ws[i].st.nlat;
	}
	qsort(all.lat, all.nlat, sizeof *all.lat, cmp_u64);
	for (size_t j = 0; j < all.nlat; j++)
		mean += (double)all.lat[j];
	mean = all.nlat ? mean / (double)all.nlat / 1e6 : 0;
	for (k = 0; k < E_KINDS; k++)
		errors += all.err[k];
	rps = wall > 0 ? (double)all.ok / wall : 0;

	printf("loadgen %s %s http://%s%s: %llu ok, %llu errors in %.2f s = %.1f req/s",
	    mode_name[o->mode], o->method, host, o->mode == M_PAIR ? "/api/mte-pair" : o->path,
	    (unsigned long long)all.ok, (unsigned long long)errors, wall, rps);
	if (o->mode == M_PAIR)
		printf(" (%.1f pairings/s)", wall > 0 ? (double)all.pairings / wall : 0);
	printf("; latency p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms; c=%u t=%u; errors: ",
	    pct_ms(all.lat, all.nlat, 0.5), pct_ms(all.lat, all.nlat, 0.99),
	    pct_ms(all.lat, all.nlat, 0.999), o->conns, o->threads);
	for (k = 0; k < E_KINDS; k++)
		printf("%s%s %llu", k ? ", " : "", error_name[k], (unsigned long long)all.err[k]);
	printf("%s%s\n", all.first_error[0] ? "; first: " : "", all.first_error);

	printf("{\"mode\":\"%s\",\"url\":", mode_name[o->mode]);
	json_string(o->url);
	printf(",\"method\":\"%s\",\"path\":", o->method);
	json_string(o->mode == M_PAIR ? "/api/mte-pair" : o->path);
	printf(",\"body\":%zu,\"connections\":%u,\"threads\":%u,\"clients\":%u,\"pairs\":%u,"
	    "\"entries\":%u,\"seconds\":%.6f,\"requests\":%llu,\"ok\":%llu,\"errors\":%llu,"
	    "\"error_kinds\":{", o->has_body ? o->body_size : 0, o->conns, o->threads,
	    o->mode == M_PLAIN ? 0 : o->clients, o->mode == M_PROTECTED ? o->pairs : 0,
	    o->mode == M_PAIR ? o->entries : 0, wall, (unsigned long long)(all.ok + errors),
	    (unsigned long long)all.ok, (unsigned long long)errors);
	for (k = 0; k < E_KINDS; k++)
		printf("%s\"%s\":%llu", k ? "," : "", error_name[k], (unsigned long long)all.err[k]);
	printf("},\"rps\":%.3f,\"pairings\":%llu,\"pairings_per_s\":%.3f,"
	    "\"latency_ms\":{\"mean\":%.4f,\"p50\":%.4f,\"p99\":%.4f,\"p999\":%.4f,\"max\":%.4f},"
	    "\"sent\":%llu,\"abandoned\":%llu,\"reconnects\":%llu,\"warmup_requests\":%llu,"
	    "\"bytes_in\":%llu,\"bytes_out\":%llu,\"cpu\":%.3f,\"first_error\":",
	    rps, (unsigned long long)all.pairings, wall > 0 ? (double)all.pairings / wall : 0, mean,
	    pct_ms(all.lat, all.nlat, 0.5), pct_ms(all.lat, all.nlat, 0.99),
	    pct_ms(all.lat, all.nlat, 0.999), all.nlat ? (double)all.lat[all.nlat - 1] / 1e6 : 0,
	    (unsigned long long)all.sent, (unsigned long long)all.abandoned,
	    (unsigned long long)all.reconnects, (unsigned long long)all.warmup,
	    (unsigned long long)all.bytes_in, (unsigned long long)all.bytes_out, cpu);
	json_string(all.first_error);
	printf("}\n");
	free(all.lat);
}

int
main(int argc, char **argv)
{
	struct options o;
	struct lg_target t;
	struct lg_request_shape shape = { 0 };
	struct worker *ws;
	const char *why;
	static char meta[META_PLAINTEXT_MAX + 1];
	const char *meta_headers[LG_HEADERS_MAX + 1];
	size_t nmeta = 0;
	uint64_t start, last = 0;
	double cpu0, wall;
	unsigned i;

	signal(SIGPIPE, SIG_IGN);
	parse_options(argc, argv, &o);
	if (lg_target_parse(&t, o.url, &why) != 0)
		die(2, "--url", why);
	if (o.path == NULL)
		o.path = t.path;
	if (o.path[0] != '/' || strlen(o.path) >= LG_PATH_MAX || strpbrk(o.path, " \t\r\n\"\\"))
		die(2, "--path", "must start with / and hold no space, quote or backslash");
	if (o.has_body) {
		uint8_t *b = xmalloc(o.body_size);

		for (size_t j = 0; j < o.body_size; j++)
			b[j] = (uint8_t)('a' + j % 26);
		plain_body = b;
	}
	if (o.mode == M_PROTECTED) {
		int n;

		if (o.has_body && !has_content_type(&o))
			meta_headers[nmeta++] = "content-type: application/octet-stream";
		for (i = 0; i < o.nheaders; i++)
			meta_headers[nmeta++] = o.headers[i];
		n = lg_request_meta(meta, sizeof meta, o.path, !o.clear_url, meta_headers, nmeta);
		if (n < 0)
			die(2, "--header/--path", "the request meta cannot hold them");
		shape = (struct lg_request_shape){ .method = o.method, .host = t.host, .url = o.path,
		    .seal_url = !o.clear_url, .meta = meta, .meta_len = (size_t)n,
		    .body = plain_body, .body_len = o.body_size, .has_body = o.has_body };
	}

	ws = xmalloc(o.threads * sizeof *ws);
	for (i = 0; i < o.threads; i++) {
		ws[i].o = &o;
		ws[i].t = &t;
		ws[i].shape = &shape;
		setup_worker(&ws[i], i);
	}

	start = now_ns();
	t_measure = start + (uint64_t)(o.warmup * 1e9);
	t_end = o.requests ? UINT64_MAX : t_measure + (uint64_t)(o.duration * 1e9);
	cpu0 = cpu_seconds();
	for (i = 0; i < o.threads; i++)
		if (pthread_create(&ws[i].thread, NULL, worker_run, &ws[i]) != 0)
			die(1, "pthread_create", NULL);
	for (i = 0; i < o.threads; i++) {
		pthread_join(ws[i].thread, NULL);
		if (ws[i].st.last_done > last)
			last = ws[i].st.last_done;
	}
	if (o.requests)
		wall = last > t_measure ? (double)(last - t_measure) / 1e9 : 0;
	else
		wall = (double)(t_end - t_measure) / 1e9;
	report(&o, t.host, ws, wall, (cpu_seconds() - cpu0) / ((double)(now_ns() - start) / 1e9));
	for (i = 0; i < o.threads; i++)
		free_worker(&ws[i]);
	free(ws);
	free((void *)plain_body);
	return 0;
}
