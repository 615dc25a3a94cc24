/*
 * conn.c - the connection loop: read a head, dispatch, respond, repeat.
 *
 * See conn.h for the contracts.  Layout of the read buffer during a request:
 *
 *   rbuf[0 .. head_len)   the request head; the parsed slices point here, so
 *                         it stays put until the handler has returned
 *   rbuf[rpos .. rend)    received, not yet used: body bytes, then pipelined
 *                         requests
 *
 * Between requests the unused bytes move to the front.  The write buffer
 * holds only a response head that waits to leave with the first body bytes
 * (one segment instead of two, and no Nagle/delayed-ACK stall).
 */
#include "conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "clock.h"
#include "crypto/rand.h"
#include "hex.h"
#include "json.h"

#define POLL_SLICE_MS   250     /* how often a wait re-checks cfg->stopping and cfg->busy */

/* ---- time ---- */

/* Deadline for a timeout in seconds from now; 0 = none (INT64_MAX). */
static int64_t
deadline_after(unsigned seconds)
{
	return seconds == 0 ? INT64_MAX : clock_ms() + (int64_t)seconds * 1000;
}

static int
stopping(const struct conn *c)
{
	return c->cfg->stopping != NULL && c->cfg->stopping();
}

/* A stop that closes a wait: a worker renewed by SIGHUP still serves the
 * first request of a connection it accepted (its client just connected);
 * checked at each wake-up, since the signal may come during the wait. */
static int
stop_waiting(const struct conn *c)
{
	return stopping(c) && !(c->first_head && c->cfg->renewing != NULL && c->cfg->renewing());
}

static int
busy(const struct conn *c)
{
	return c->cfg->busy != NULL && c->cfg->busy();
}

enum wait_result { WAIT_READY, WAIT_TIMEOUT, WAIT_STOP, WAIT_ERROR, WAIT_SLOW };

static void
set_state(struct conn *c, enum conn_state st)
{
	if (c->state == (int)st || c->cfg->state == NULL)
		return;
	c->state = (int)st;
	c->cfg->state(st);
}

/* ---- the transport: the plain socket, or cfg->transport (TLS) ---- */

static ssize_t
io_recv(struct conn *c, void *buf, size_t len)
{
	const struct conn_transport *t = c->cfg->transport;
	return t != NULL ? t->recv(c->cfg->transport_arg, buf, len) :
	    recv(c->fd, buf, len, MSG_DONTWAIT);
}

static ssize_t
io_send(struct conn *c, struct iovec *iov, int cnt)
{
	const struct conn_transport *t = c->cfg->transport;
	if (t != NULL)
		return t->send(c->cfg->transport_arg, iov, cnt);
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)cnt };
	return sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* 0 when nothing the transport accepted waits to leave; -1 with errno. */
static int
io_flush(struct conn *c)
{
	const struct conn_transport *t = c->cfg->transport;
	return t != NULL ? t->flush(c->cfg->transport_arg) : 0;
}

/* While lingering, conn reads the socket itself (bytes to discard). */
static short
io_events(const struct conn *c, short events)
{
	const struct conn_transport *t = c->cfg->transport;
	return t != NULL && !c->lingering ? t->events(c->cfg->transport_arg, events) : events;
}

static bool
io_pending(const struct conn *c)
{
	const struct conn_transport *t = c->cfg->transport;
	return t != NULL && !c->lingering && t->pending(c->cfg->transport_arg);
}

/* ---- the pressure floor ----
 * Under pressure (the pool full, connections waiting) the pool publishes a
 * floor in bytes per second.  A request whose peer, after
 * CONN_PRESSURE_GRACE_MS of waiting on it, has moved fewer bytes per second
 * of that waiting gives way; the floor rises while the pressure lasts, so
 * the slowest peers go first.  Without pressure nothing changes. */
static bool
too_slow(struct conn *c, short events, int64_t waited_now)
{
	unsigned floor = c->cfg->pressure_floor != NULL ? c->cfg->pressure_floor() : 0;
	uint64_t waited = c->peer_wait_ms + (uint64_t)(waited_now > 0 ? waited_now : 0);

	if (floor == 0 || waited < CONN_PRESSURE_GRACE_MS)
		return false;
	uint64_t rate = c->peer_bytes * 1000 / waited;
	if (rate >= floor)
		return false;
	if (c->cfg->gave_way != NULL)
		c->cfg->gave_way(c->cfg->hook_arg, c,
		    events == POLLOUT ? "response" : c->have_req ? "body" : "head",
		    (unsigned)rate, floor);
	return true;
}

/* Waits for events on the socket until deadline (monotonic ms).  With
 * check_stop, gives up when the worker is asked to stop, or, from yield_at
 * on, when other connections wait for this worker.  peer: a wait on the
 * client within a request (scoreboard state, pressure floor). */
static enum wait_result
wait_fd_loop(struct conn *c, short events, int64_t deadline,
    bool check_stop, int64_t yield_at, bool peer)
{
	int64_t start = clock_ms();

	/* Plaintext the transport already holds needs no wait. */
	if (events == POLLIN && io_pending(c))
		return WAIT_READY;
	for (;;) {
		if (check_stop && stop_waiting(c))
			return WAIT_STOP;
		int64_t now = clock_ms();
		if (check_stop && now >= yield_at && busy(c))
			return WAIT_STOP;
		if (peer && too_slow(c, events, now - start))
			return WAIT_SLOW;
		if (now >= deadline)
			return WAIT_TIMEOUT;
		int64_t left = deadline - now;
		int timeout = left > POLL_SLICE_MS ? POLL_SLICE_MS : (int)left;
		struct pollfd pfd = { .fd = c->fd, .events = io_events(c, events) };
		int r = poll(&pfd, 1, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return WAIT_ERROR;
		}
		if (r > 0)
			return WAIT_READY;  /* POLLHUP/POLLERR too: the I/O call reports it */
	}
}

static enum wait_result
wait_fd(struct conn *c, short events, int64_t deadline,
    bool check_stop, int64_t yield_at, bool peer)
{
	if (!peer)
		return wait_fd_loop(c, events, deadline, check_stop, yield_at, false);
	int64_t start = clock_ms();
	set_state(c, events == POLLOUT ? CONN_WRITING : CONN_READING);
	enum wait_result w = wait_fd_loop(c, events, deadline, check_stop, yield_at, true);
	int64_t waited = clock_ms() - start;
	c->peer_wait_ms += waited > 0 ? (uint64_t)waited : 0;
	if (c->in_handler)
		set_state(c, CONN_HANDLING);
	return w;
}

/* ---- the transfer-rate guard ----
 * A worker serves one connection at a time, so a peer that sends its body or
 * reads the response a byte at a time would hold it for as long as each byte
 * comes within the idle timeout.  The time spent waiting for the peer within
 * a request is summed; each time it reaches the rate window, the bytes moved
 * meanwhile must average at least the minimum rate, else the transfer fails.
 * Only waiting counts, so a slow upstream never makes a client look slow. */

static unsigned
rate_window_ms(const struct conn *c)
{
	return c->cfg->rate_window_ms ? c->cfg->rate_window_ms : CONN_RATE_WINDOW_MS;
}

/* The deadline of the next wait: the idle timeout or the end of the window. */
static int64_t
rate_deadline(const struct conn *c)
{
	int64_t idle = deadline_after(c->cfg->idle_timeout_s);
	int64_t window = clock_ms() + (int64_t)(rate_window_ms(c) - c->rate_wait_ms);
	return window < idle ? window : idle;
}

/* Adds a wait that began at start; false when the window closed too slow. */
static bool
rate_account(struct conn *c, int64_t start)
{
	unsigned min = c->cfg->min_rate_bps ? c->cfg->min_rate_bps : CONN_MIN_RATE_BPS;
	int64_t waited = clock_ms() - start;

	c->rate_wait_ms += waited > 0 ? (uint64_t)waited : 0;
	if (c->rate_wait_ms < rate_window_ms(c))
		return true;
	bool ok = c->rate_bytes * 1000 >= (uint64_t)min * c->rate_wait_ms;
	c->rate_wait_ms = 0;
	c->rate_bytes = 0;
	return ok;
}

/* ---- writing ---- */

/* After a write that could not proceed (errno): true to try again, false
 * when the connection is dead (error, stall, too slow). */
static bool
send_wait(struct conn *c)
{
	if (errno == EINTR)
		return true;
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		int64_t start = clock_ms();
		enum wait_result w = wait_fd(c, POLLOUT, rate_deadline(c), false, INT64_MAX, true);
		bool rate = rate_account(c, start);
		if (rate && (w == WAIT_READY ||
		    (w == WAIT_TIMEOUT && c->rate_wait_ms == 0)))
			return true;   /* ready, or only the rate window ended */
	}
	c->dead = true;
	return false;
}

/* Writes all of iov[0..cnt) (modifies iov).  Each stall is bounded by the
 * idle timeout.  On failure the connection is dead. */
static int
send_iov(struct conn *c, struct iovec *iov, int cnt)
{
	if (c->dead)
		return -1;
	while (cnt > 0) {
		if (iov->iov_len == 0) {
			iov++;
			cnt--;
			continue;
		}
		ssize_t n = io_send(c, iov, cnt);
		if (n < 0) {
			if (send_wait(c))
				continue;
			return -1;
		}
		c->info.bytes_out += (uint64_t)n;
		c->rate_bytes += (uint64_t)n;
		c->peer_bytes += (uint64_t)n;
		size_t left = (size_t)n;
		while (cnt > 0 && left >= iov->iov_len) {
			left -= iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + left;
			iov->iov_len -= left;
		}
	}
	/* What a transport accepted leaves now, not with the next write. */
	while (io_flush(c) != 0)
		if (!send_wait(c))
			return -1;
	return 0;
}

/* Sends the held head (if any) followed by up to three more pieces. */
static int
send_pieces(struct conn *c, const void *a, size_t alen,
    const void *b, size_t blen, const void *d, size_t dlen)
{
	struct iovec iov[4] = {
		{ c->obuf, c->olen },
		{ (void *)a, alen },
		{ (void *)b, blen },
		{ (void *)d, dlen },
	};
	c->olen = 0;
	return send_iov(c, iov, 4);
}

/* "Date: Sun, 06 Nov 1994 08:49:37 GMT" value (RFC 9110 5.6.7), locale-free. */
static void
format_date(char *out, size_t cap)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	/* Made once per second: the same text serves every answer of that second. */
	static time_t cached_sec = (time_t)-1;
	static char   cached[64];
	time_t t = time(NULL);
	struct tm tm;

	if (t != cached_sec) {
		if (gmtime_r(&t, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 ||
		    tm.tm_mon < 0 || tm.tm_mon > 11)
			snprintf(cached, sizeof cached, "Thu, 01 Jan 1970 00:00:00 GMT");
		else
			snprintf(cached, sizeof cached, "%s, %02d %s %04d %02d:%02d:%02d GMT",
			    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
			    tm.tm_hour, tm.tm_min, tm.tm_sec);
		cached_sec = t;
	}
	size_t n = strlen(cached);
	if (n >= cap)
		n = cap - 1;
	memcpy(out, cached, n);
	out[n] = '\0';
}

/* Formats the head into obuf.  with_hook = false is the fallback used when
 * the hook's fields do not fit or are invalid. */
static int
format_head(struct conn *c, int status, const struct http_field *fields,
    size_t n, int64_t framing, enum http_connection connection, bool with_hook)
{
	struct http_field all[CONN_RESPONSE_FIELDS_MAX];
	char date[64];
	size_t k = 0;

	if (n > CONN_RESPONSE_FIELDS_MAX - 1)
		return -1;
	for (size_t i = 0; i < n; i++)
		all[k++] = fields[i];
	if (with_hook && c->cfg->response_fields != NULL) {
		size_t cap = CONN_RESPONSE_FIELDS_MAX - 1 - k;
		size_t h = c->cfg->response_fields(c->cfg->hook_arg,
		    c->have_req ? &c->req : NULL, status, all + k, cap);
		if (h > cap)
			return -1;
		k += h;
	}
	format_date(date, sizeof date);
	all[k++] = (struct http_field){ "Date", date };
	return http_format_response_head(c->obuf, CONN_RESPONSE_HEAD_MAX, status,
	    all, k, framing, connection);
}

static int
respond_head(struct conn *c, int status, const struct http_field *fields,
    size_t n, int64_t content_length, bool fallback)
{
	if (c->dead || c->status != 0 || status < 200 || status > 999)
		return -1;
	if (content_length < 0 && content_length != HTTP_LENGTH_CHUNKED)
		return -1;

	int minor = c->have_req ? c->req.minor_version : 1;
	bool no_body = c->head_request || status == 204 || status == 304;
	int64_t framing;
	bool chunked = false, has_length = false;

	if (no_body) {
		/* HEAD announces the length a GET would get; 204 and 304 carry
		 * none (a 304's would have to be the 200's, which is unknown here). */
		framing = (c->head_request && status != 204 && status != 304 &&
		    content_length >= 0) ? content_length : HTTP_LENGTH_NONE;
	} else if (content_length >= 0) {
		framing = content_length;
		has_length = true;
	} else if (minor >= 1) {
		framing = HTTP_LENGTH_CHUNKED;
		chunked = true;
	} else {
		framing = HTTP_LENGTH_NONE;     /* HTTP/1.0: close-delimited */
		c->close_after = true;
	}
	/* An unread body that cannot be drained later: close instead. */
	if (!c->body_done && (c->continue_pending || c->body_chunked ||
	    c->body_left > CONN_DRAIN_MAX))
		c->close_after = true;
	if (stopping(c) || busy(c))
		c->close_after = true;

	enum http_connection connection = c->close_after ? HTTP_CONNECTION_CLOSE :
	    minor == 0 ? HTTP_CONNECTION_KEEP_ALIVE : HTTP_CONNECTION_NONE;
	int len = format_head(c, status, fields, n, framing, connection, true);
	if (len < 0 && fallback)
		len = format_head(c, status, fields, n, framing, connection, false);
	if (len < 0)
		return -1;
	c->olen = (size_t)len;
	c->status = status;
	c->info.status = status;
	c->resp_no_body = no_body;
	c->resp_chunked = chunked;
	c->resp_has_length = has_length;
	c->resp_left = has_length ? (uint64_t)content_length : 0;
	c->resp_ended = false;
	return 0;
}

int
conn_respond_head(struct conn *c, int status, const struct http_field *fields,
    size_t n, int64_t content_length)
{
	return respond_head(c, status, fields, n, content_length, false);
}

int
conn_respond_body(struct conn *c, const void *buf, size_t len)
{
	if (c->dead || c->status == 0 || c->resp_ended)
		return -1;
	if (len == 0 || c->resp_no_body)
		return 0;
	if (c->resp_has_length) {
		if (len > c->resp_left)
			return -1;      /* nothing sent: the framing is still intact */
		c->resp_left -= len;
	}
	if (c->resp_chunked) {
		char size[24];
		int sn = snprintf(size, sizeof size, "%zx\r\n", len);
		return send_pieces(c, size, (size_t)sn, buf, len, "\r\n", 2);
	}
	return send_pieces(c, buf, len, NULL, 0, NULL, 0);
}

int
conn_flush(struct conn *c)
{
	if (c->dead)
		return -1;
	return c->olen > 0 ? send_pieces(c, NULL, 0, NULL, 0, NULL, 0) : 0;
}

int
conn_respond_end(struct conn *c)
{
	if (c->dead || c->status == 0)
		return -1;
	if (c->resp_ended)
		return 0;
	c->resp_ended = true;
	if (c->resp_has_length && c->resp_left > 0) {
		/* Short body: closing is the only way the client can tell. */
		c->close_after = true;
		send_pieces(c, NULL, 0, NULL, 0, NULL, 0);
		return -1;
	}
	if (c->resp_chunked && !c->resp_no_body)
		return send_pieces(c, "0\r\n\r\n", 5, NULL, 0, NULL, 0);
	return send_pieces(c, NULL, 0, NULL, 0, NULL, 0);
}

/* Appends s JSON-escaped to out (cap bytes, NUL kept); cuts at the end. */
static size_t
json_escape(char *out, size_t cap, size_t len, const char *s)
{
	const size_t start = len;
	for (; *s != '\0'; s++) {
		char tmp[JSON_ESCAPE_MAX];
		size_t n = json_escape_byte(tmp, (unsigned char)*s);
		if (len + n >= cap) {
			/* cut: drop a UTF-8 sequence the cut may have split */
			size_t k = len;
			while (k > start && ((unsigned char)out[k - 1] & 0xc0) == 0x80)
				k--;
			if (k > start && (unsigned char)out[k - 1] >= 0xc0) {
				unsigned char lead = (unsigned char)out[k - 1];
				size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
				if (len - (k - 1) < need)
					len = k - 1;
			}
			break;
		}
		memcpy(out + len, tmp, n);
		len += n;
	}
	out[len] = '\0';
	return len;
}

/* {"error":"<msg>","code":<status>[,<members>]}: msg is the only text
 * escaped here.  The tail is made first, so that the message gets every
 * byte of cap the tail leaves (cap - 1 bytes in all, NUL kept). */
static size_t
error_body(char body[CONN_ERROR_BODY_MAX], size_t cap, int status, const char *msg,
    const char *members)
{
	static const char prefix[] = "{\"error\":\"";
	char tail[sizeof "\",\"code\":-2147483648," + CONN_ERROR_MEMBERS_MAX + 1];
	size_t len, tlen, mlen = members != NULL ? strnlen(members, CONN_ERROR_MEMBERS_MAX + 1) : 0;

	if (mlen > CONN_ERROR_MEMBERS_MAX)
		mlen = 0;
	tlen = (size_t)snprintf(tail, sizeof tail, "\",\"code\":%d%s%.*s}", status,
	    mlen ? "," : "", (int)mlen, mlen ? members : "");
	if (cap < sizeof prefix + tlen) {       /* not for CONN_ERROR_BODY_MAX */
		if (cap > 0)
			body[0] = '\0';
		return 0;
	}
	memcpy(body, prefix, sizeof prefix - 1);
	len = json_escape(body, cap - tlen, sizeof prefix - 1, msg != NULL ? msg : "");
	memcpy(body + len, tail, tlen + 1);
	return len + tlen;
}

size_t
conn_error_body(char body[CONN_ERROR_BODY_MAX], size_t cap, int status, const char *msg)
{
	return error_body(body, cap, status, msg, NULL);
}

static int
respond_error(struct conn *c, int status, const char *msg, const char *members,
    const struct http_field *extra, size_t n, bool fallback)
{
	char body[CONN_ERROR_BODY_MAX];
	struct http_field fields[CONN_RESPONSE_FIELDS_MAX];
	size_t len;

	if (n > CONN_RESPONSE_FIELDS_MAX - 1)
		return -1;
	len = error_body(body, sizeof body, status, msg, members);

	for (size_t i = 0; i < n; i++)
		fields[i] = extra[i];
	fields[n] = (struct http_field){ "Content-Type", "application/json" };
	if (status >= 400 && !c->body_done)
		c->close_after = true;
	if (respond_head(c, status, fields, n + 1, (int64_t)len, fallback) != 0)
		return -1;
	if (conn_respond_body(c, body, len) != 0)
		return -1;
	return conn_respond_end(c);
}

int
conn_respond_error(struct conn *c, int status, const char *msg,
    const struct http_field *extra, size_t n)
{
	return respond_error(c, status, msg, NULL, extra, n, false);
}

int
conn_respond_error_members(struct conn *c, int status, const char *msg,
    const char *members, const struct http_field *extra, size_t n)
{
	return respond_error(c, status, msg, members, extra, n, false);
}

/* An error conn answers on its own: JSON body, then close. */
static void
send_error(struct conn *c, int status, const char *detail)
{
	c->close_after = true;
	if (c->status == 0)
		(void)respond_error(c, status, detail, NULL, NULL, 0, true);
}

void
conn_set_close(struct conn *c)
{
	c->close_after = true;
}

int
conn_responded(const struct conn *c)
{
	return c->status != 0;
}

const struct conn_info *
conn_info(const struct conn *c)
{
	return &c->info;
}

/* ---- reading the body ---- */

int
conn_body_known_length(const struct conn *c, uint64_t *len)
{
	if (c->body_chunked)
		return 0;
	*len = c->have_req && c->req.has_content_length ? c->req.content_length : 0;
	return 1;
}

int
conn_body_error(const struct conn *c)
{
	return c->body_error;
}

static ssize_t
body_fail(struct conn *c, int status)
{
	c->body_error = status;
	c->close_after = true;
	return -1;
}

/* Receives into dst; > 0 bytes, or -1 after setting the body error. */
static ssize_t
body_recv(struct conn *c, char *dst, size_t cap)
{
	for (;;) {
		int64_t start = clock_ms();
		enum wait_result w = wait_fd(c, POLLIN, rate_deadline(c), false, INT64_MAX, true);
		if (w == WAIT_SLOW)
			return body_fail(c, 408);           /* gave way under pressure */
		if (!rate_account(c, start))
			return body_fail(c, 408);           /* too slow on average */
		if (w == WAIT_TIMEOUT && c->rate_wait_ms == 0)
			continue;                           /* only the rate window ended */
		if (w == WAIT_TIMEOUT)
			return body_fail(c, 408);
		if (w != WAIT_READY) {
			c->dead = true;
			return body_fail(c, 499);
		}
		ssize_t n = io_recv(c, dst, cap);
		if (n > 0) {
			c->rate_bytes += (uint64_t)n;
			c->peer_bytes += (uint64_t)n;
			return n;
		}
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		c->dead = true;         /* peer gone before the end of the body */
		return body_fail(c, 499);
	}
}

static void
send_continue(struct conn *c)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	c->continue_pending = false;
	/* A final head the handler accepted but conn still holds back (sent
	 * with the first body bytes) is not on the wire yet: 100 may still go
	 * first.  An upstream that answers before it reads the body (the
	 * handler then pulls the body while the head waits) would otherwise
	 * wait on a client that waits for the 100 (the outbound mode, which
	 * always asks for it). */
	if (c->status != 0 && c->info.bytes_out > 0)
		return;
	struct iovec iov = { (void *)cont, sizeof cont - 1 };
	(void)send_iov(c, &iov, 1);
}

static ssize_t
body_read_length(struct conn *c, char *buf, size_t cap)
{
	size_t want = cap;
	if (want > c->body_left)
		want = (size_t)c->body_left;
	ssize_t n;
	if (c->rpos < c->rend) {
		n = (ssize_t)(c->rend - c->rpos < want ? c->rend - c->rpos : want);
		memcpy(buf, c->rbuf + c->rpos, (size_t)n);
		c->rpos += (size_t)n;
	} else {
		/* Nothing buffered: straight into the caller's buffer, never past
		 * the body (the next request must stay in the socket). */
		n = body_recv(c, buf, want);
		if (n < 0)
			return -1;
	}
	c->body_left -= (uint64_t)n;
	c->info.bytes_in += (uint64_t)n;
	if (c->body_left == 0)
		c->body_done = true;
	return n;
}

static ssize_t
body_read_chunked(struct conn *c, char *buf, size_t cap)
{
	for (;;) {
		if (c->rpos < c->rend) {
			size_t used, got;
			int r = http_chunked_decode(&c->chunked, c->rbuf + c->rpos,
			    c->rend - c->rpos, &used, buf, cap, &got);
			c->rpos += used;
			c->info.bytes_in += used;
			if (c->cfg->max_body_size != 0 &&
			    c->chunked.declared > c->cfg->max_body_size)
				return body_fail(c, 413);
			if (r == HTTP_MALFORMED)
				return body_fail(c, c->chunked.error);
			if (r == 1)
				c->body_done = true;
			if (got > 0 || r == 1)
				return (ssize_t)got;
		}
		/* All buffered bytes are consumed: refill after the head. */
		if (c->rpos == c->rend) {
			c->rpos = c->head_len;
			c->rend = c->head_len;
		} else if (c->rend == sizeof c->rbuf) {
			memmove(c->rbuf + c->head_len, c->rbuf + c->rpos, c->rend - c->rpos);
			c->rend -= c->rpos - c->head_len;
			c->rpos = c->head_len;
		}
		ssize_t n = body_recv(c, c->rbuf + c->rend, sizeof c->rbuf - c->rend);
		if (n < 0)
			return -1;
		c->rend += (size_t)n;
	}
}

ssize_t
conn_body_read(struct conn *c, void *buf, size_t cap)
{
	if (!c->have_req || c->body_error != 0 || cap == 0)
		return -1;
	if (c->body_done)
		return 0;
	if (c->continue_pending)
		send_continue(c);
	if (c->dead)
		return body_fail(c, 499);
	return c->body_chunked ? body_read_chunked(c, buf, cap) :
	    body_read_length(c, buf, cap);
}

/* ---- the loop ---- */

/*
 * Request ids: a random 64-bit start drawn once per process (a forked child
 * draws its own), then counted up.  Unique within a process, unrelated
 * across processes, and no getrandom(2) per request; they identify log
 * lines, they protect nothing.
 */
static uint64_t request_id_next;
static int      request_id_fork_hook;

static void
request_id_forget(void)
{
	request_id_next = 0;
}

static uint64_t
next_request_id(void)
{
	if (request_id_next == 0) {
		if (!request_id_fork_hook)
			request_id_fork_hook = pthread_atfork(NULL, NULL, request_id_forget) == 0;
		while (request_id_next == 0)
			rand_bytes(&request_id_next, sizeof request_id_next);
	}
	return request_id_next++;
}

static void
new_request(struct conn *c)
{
	uint8_t id[8];
	uint64_t v;

	if (c->rpos > 0) {
		memmove(c->rbuf, c->rbuf + c->rpos, c->rend - c->rpos);
		c->rend -= c->rpos;
		c->rpos = 0;
	}
	c->have_req = false;
	c->rate_wait_ms = 0;
	c->rate_bytes = 0;
	c->peer_wait_ms = 0;
	c->peer_bytes = 0;
	c->head_request = false;
	c->head_len = 0;
	c->body_left = 0;
	c->body_chunked = false;
	c->body_done = true;
	c->continue_pending = false;
	c->body_error = 0;
	c->status = 0;
	c->resp_chunked = c->resp_no_body = c->resp_has_length = false;
	c->resp_ended = false;
	c->resp_left = 0;
	c->olen = 0;
	memset(&c->info, 0, sizeof c->info);
	v = next_request_id();
	for (int i = 7; i >= 0; i--, v >>= 8)
		id[i] = (uint8_t)v;
	hex_encode(c->info.id, id, sizeof id);
	c->info.id[2 * sizeof id] = '\0';
}

enum head_result { HEAD_OK, HEAD_CLOSE, HEAD_ERROR };

/*
 * Reads until a request head parses.  HEAD_CLOSE: close silently (peer gone,
 * idle timeout, stopping, nothing received).  HEAD_ERROR: answered (408,
 * parse error) or died mid-head; *started tells whether bytes arrived.
 */
static enum head_result
read_head(struct conn *c, bool first, bool *started)
{
	const struct conn_config *cfg = c->cfg;
	unsigned wait_s = cfg->idle_timeout_s;
	if (first && cfg->header_timeout_s != 0 &&
	    (wait_s == 0 || cfg->header_timeout_s < wait_s))
		wait_s = cfg->header_timeout_s;
	int64_t deadline = deadline_after(wait_s);
	int64_t idle_since = clock_ms();
	bool parse = c->rend > 0;
	/* The first request: one deadline from the accept for the whole head. */
	int64_t head_deadline = first && cfg->header_timeout_s != 0 ?
	    c->accepted_ms + (int64_t)cfg->header_timeout_s * 1000 : INT64_MAX;

	*started = false;
	if (c->rend > 0) {
		*started = true;
		clock_gettime(CLOCK_MONOTONIC, &c->info.started);
		deadline = deadline_after(cfg->header_timeout_s);
	}
	for (;;) {
		if (parse) {
			/* Re-parsing only when a line may have completed (or a
			 * limit may have been crossed) bounds the work per head. */
			int r = http_parse_request(c->rbuf, c->rend, &c->req);
			if (r > 0) {
				c->head_len = (size_t)r;
				c->rpos = (size_t)r;
				c->info.bytes_in += (uint64_t)r;
				return HEAD_OK;
			}
			if (r == HTTP_MALFORMED) {
				c->info.bytes_in += c->rend;
				c->rpos = c->rend;
				send_error(c, c->req.error, c->req.error_detail);
				return HEAD_ERROR;
			}
			parse = false;
		}
		/* An idle kept-alive connection yields its worker to waiting
		 * ones after a grace period; a new connection never does.  Its
		 * wait is not on a request, so no pressure floor applies. */
		bool peer = first || *started;
		if (!peer)
			set_state(c, CONN_KEEPALIVE);
		c->first_head = first;
		enum wait_result w = wait_fd(c, POLLIN, deadline, !*started,
		    first ? INT64_MAX : idle_since + CONN_IDLE_YIELD_MS, peer);
		if (w == WAIT_SLOW && !*started)
			return HEAD_CLOSE;
		if (w == WAIT_SLOW) {
			c->info.bytes_in += c->rend;
			send_error(c, 408, "request too slow while the relay is busy");
			return HEAD_ERROR;
		}
		if (w == WAIT_TIMEOUT && *started) {
			c->info.bytes_in += c->rend;
			send_error(c, 408, "request head not received in time");
			return HEAD_ERROR;
		}
		c->first_head = false;
		if (w != WAIT_READY)
			return *started ? HEAD_ERROR : HEAD_CLOSE;
		size_t room = sizeof c->rbuf - c->rend;
		ssize_t n = io_recv(c, c->rbuf + c->rend, room);
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (n <= 0) {
			c->dead = true;
			c->info.bytes_in += c->rend;
			return *started ? HEAD_ERROR : HEAD_CLOSE;
		}
		if (!*started) {
			*started = true;
			clock_gettime(CLOCK_MONOTONIC, &c->info.started);
			deadline = deadline_after(cfg->header_timeout_s);
			if (head_deadline < deadline)
				deadline = head_deadline;
		}
		size_t old = c->rend;
		c->rend += (size_t)n;
		c->peer_bytes += (uint64_t)n;
		parse = memchr(c->rbuf + old, '\n', (size_t)n) != NULL ||
		    old / 4096 != c->rend / 4096 || c->rend > HTTP_HEADERS_MAX;
	}
}

/* Reads and discards the rest of the request body, up to CONN_DRAIN_MAX. */
static void
drain_body(struct conn *c)
{
	char sink[4096];
	uint64_t drained = 0;
	while (!c->body_done && !c->dead && c->body_error == 0) {
		ssize_t n = conn_body_read(c, sink, sizeof sink);
		if (n <= 0)
			break;
		drained += (uint64_t)n;
		if (drained > CONN_DRAIN_MAX)
			break;
	}
	if (!c->body_done)
		c->close_after = true;
}

/*
 * Closes after a response the peer may still be sending to: half-close,
 * then read what comes for CONN_LINGER_MS, so that the kernel does not
 * answer unread input with a reset that destroys the response in flight.
 */
static void
linger_close(struct conn *c)
{
	char sink[4096];
	size_t total = 0;
	int64_t deadline = clock_ms() + CONN_LINGER_MS;
	if (c->cfg->transport != NULL)
		c->cfg->transport->finish(c->cfg->transport_arg);   /* close_notify */
	c->lingering = true;
	if (shutdown(c->fd, SHUT_WR) == 0) {
		while (total <= CONN_DRAIN_MAX &&
		    wait_fd(c, POLLIN, deadline, false, INT64_MAX, false) == WAIT_READY) {
			ssize_t n = recv(c->fd, sink, sizeof sink, MSG_DONTWAIT);
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0)
				break;
			total += (size_t)n;
		}
	}
}

static void
serve_request(struct conn *c, conn_handler_fn fn, void *arg)
{
	struct http_request *req = &c->req;

	c->have_req = true;
	c->head_request = req->method.len == 4 && memcmp(req->method.ptr, "HEAD", 4) == 0;
	c->close_after = !req->keep_alive || stopping(c);
	if (req->chunked) {
		c->body_chunked = true;
		c->body_done = false;
		http_chunked_init(&c->chunked);
	} else {
		c->body_left = req->has_content_length ? req->content_length : 0;
		c->body_done = c->body_left == 0;
	}
	c->continue_pending = req->expect_continue && !c->body_done;

	if (c->cfg->max_body_size != 0 && req->has_content_length &&
	    req->content_length > c->cfg->max_body_size) {
		send_error(c, 413, "request body too large");
		return;
	}
	set_state(c, CONN_REQUEST);
	c->state = CONN_HANDLING;
	c->in_handler = true;
	fn(c, req, arg);
	c->in_handler = false;
	if (c->dead)
		return;
	if (c->status == 0) {
		if (c->body_error != 0)
			send_error(c, c->body_error, http_status_reason(c->body_error));
		else
			send_error(c, 500, "no response");
		return;
	}
	if (!c->resp_ended) {
		/* A response the handler did not finish: cut it so the client
		 * can tell (a last chunk would make it look complete). */
		c->resp_ended = true;
		(void)send_pieces(c, NULL, 0, NULL, 0, NULL, 0);
		c->close_after = true;
		return;
	}
	if (c->body_error != 0)
		c->close_after = true;
	if (!c->body_done && !c->close_after)
		drain_body(c);
}

void
conn_serve(struct conn *c, int fd, const struct conn_config *cfg,
    conn_handler_fn fn, void *arg)
{
	int one = 1;
	bool first = true;

	c->fd = fd;
	c->cfg = cfg;
	c->rpos = c->rend = 0;
	c->dead = false;
	c->close_after = false;
	c->accepted_ms = clock_ms();
	c->state = -1;
	c->in_handler = false;
	c->lingering = false;
	c->first_head = false;
	set_state(c, CONN_READING);
	/* Not a TCP socket (tests use socketpairs): nothing to do. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (cfg->transport != NULL && cfg->transport->start(cfg->transport_arg, fd) != 0) {
		close(fd);
		c->fd = -1;
		return;
	}

	for (;;) {
		bool started;
		new_request(c);
		if (!first && stopping(c))
			break;
		enum head_result h = read_head(c, first, &started);
		first = false;
		if (h == HEAD_OK)
			serve_request(c, fn, arg);
		if (started && cfg->request_done != NULL)
			cfg->request_done(cfg->hook_arg, c, c->have_req ? &c->req : NULL);
		if (h != HEAD_OK || c->dead || c->close_after)
			break;
	}
	if (!c->dead && c->status != 0)
		linger_close(c);
	else if (!c->dead && cfg->transport != NULL)
		cfg->transport->finish(cfg->transport_arg);
	if (cfg->transport != NULL)
		cfg->transport->end(cfg->transport_arg);
	close(fd);
	c->fd = -1;
}
