/* loadgen_http.c - see loadgen_http.h. */
#include "tests/bench/loadgen_http.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

int
lg_target_parse(struct lg_target *t, const char *url, const char **why)
{
	const char *p, *host, *host_end, *port = "80", *port_end = NULL, *path;
	char hostz[LG_HOST_MAX], portz[8];
	struct addrinfo hints, *res = NULL;
	size_t host_len, port_len;

	memset(t, 0, sizeof *t);
	if (strncmp(url, "http://", 7) != 0) {
		*why = "the URL must start with http:// (no TLS)";
		return -1;
	}
	p = url + 7;
	path = p + strcspn(p, "/?#");
	if (*path == '#' || *path == '?') {
		*why = "the URL needs a path before its query";
		return -1;
	}
	if (*p == '[') {
		host = p + 1;
		host_end = memchr(host, ']', (size_t)(path - host));
		if (host_end == NULL) {
			*why = "unclosed [ in the URL's host";
			return -1;
		}
		p = host_end + 1;
	} else {
		host = p;
		host_end = memchr(p, ':', (size_t)(path - p));
		if (host_end == NULL)
			host_end = path;
		p = host_end;
	}
	if (p < path) {
		if (*p != ':' || p + 1 == path) {
			*why = "bad port in the URL";
			return -1;
		}
		port = p + 1;
		port_end = path;
	}
	host_len = (size_t)(host_end - host);
	port_len = port_end ? (size_t)(port_end - port) : strlen(port);
	if (host_len == 0 || host_len >= sizeof hostz || port_len >= sizeof portz ||
	    strspn(port, "0123456789") < port_len) {
		*why = "bad host or port in the URL";
		return -1;
	}
	memcpy(hostz, host, host_len);
	hostz[host_len] = 0;
	memcpy(portz, port, port_len);
	portz[port_len] = 0;
	if ((size_t)(path - (url + 7)) >= sizeof t->host) {
		*why = "the URL's authority is too long";
		return -1;
	}
	memcpy(t->host, url + 7, (size_t)(path - (url + 7)));
	if (*path == 0)
		path = "/";
	if (strlen(path) >= sizeof t->path) {
		*why = "the URL's path is too long";
		return -1;
	}
	strcpy(t->path, path);

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(hostz, portz, &hints, &res) != 0 || res == NULL) {
		*why = "cannot resolve the URL's host";
		return -1;
	}
	memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
	t->addr_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int
is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* 1 when the comma-separated list v[0..n) holds token tok (case ignored). */
static int
list_has(const char *v, size_t n, const char *tok)
{
	size_t i = 0, tl = strlen(tok);

	while (i < n) {
		size_t s, e;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && http_name_eq(v + s, tl, tok))
			return 1;
	}
	return 0;
}

static int
parse_content_length(const char *v, size_t n, uint64_t *out)
{
	uint64_t x = 0;
	size_t i;

	if (n == 0 || n > 19)
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	*out = x;
	return 0;
}

/* Applies one field to r: the framing fields and the relay's two. */
static int
apply_field(struct lg_response *r, const char *name, size_t nl, const char *v, size_t vl,
            bool *conn_close, bool *conn_keep)
{
	if (http_name_eq(name, nl, "content-length")) {
		uint64_t x;

		if (parse_content_length(v, vl, &x) != 0 ||
		    (r->has_content_length && r->content_length != x))
			return -1;
		r->has_content_length = true;
		r->content_length = x;
	} else if (http_name_eq(name, nl, "transfer-encoding")) {
		if (r->chunked || vl != 7 || !http_name_eq(v, vl, "chunked"))
			return -1;
		r->chunked = true;
	} else if (http_name_eq(name, nl, "connection")) {
		*conn_close = *conn_close || list_has(v, vl, "close");
		*conn_keep = *conn_keep || list_has(v, vl, "keep-alive");
	} else if (http_name_eq(name, nl, "x-mte-relay")) {
		r->relay = (struct http_slice){ v, vl };
		r->relay_count++;
	} else if (http_name_eq(name, nl, "x-mte-relay-eh")) {
		r->relay_eh = (struct http_slice){ v, vl };
		r->relay_eh_count++;
	}
	return 0;
}

int
lg_parse_response_head(const char *buf, size_t len, struct lg_response *r)
{
	size_t i = 0, fields = 0;
	bool conn_close = false, conn_keep = false;

	memset(r, 0, sizeof *r);
	/* Status line: HTTP/1.x SP 3DIGIT [SP reason] CRLF */
	{
		static const char proto[] = "HTTP/1.";
		size_t k;

		for (k = 0; k < 7; k++) {
			if (k >= len)
				return HTTP_INCOMPLETE;
			if (buf[k] != proto[k])
				return HTTP_MALFORMED;
		}
		for (k = 7; k < 12; k++) {
			int ok;

			if (k >= len)
				return HTTP_INCOMPLETE;
			ok = (k == 8) ? buf[k] == ' '
			    : (k == 7 || k >= 9) ? (buf[k] >= '0' && buf[k] <= '9') : 0;
			if (!ok)
				return HTTP_MALFORMED;
		}
		r->minor_version = buf[7] - '0';
		r->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
		if (r->status < 100)
			return HTTP_MALFORMED;
		i = 12;
		if (i < len && buf[i] == ' ') {
			for (i++; i < len && buf[i] != '\r' && buf[i] != '\n'; i++)
				if ((unsigned char)buf[i] < 0x20 && buf[i] != '\t')
					return HTTP_MALFORMED;
		}
		if (i + 1 >= len)
			return len >= LG_RESPONSE_HEAD_MAX ? HTTP_MALFORMED : HTTP_INCOMPLETE;
		if (buf[i] != '\r' || buf[i + 1] != '\n')
			return HTTP_MALFORMED;
		i += 2;
	}
	/* Field lines, then the empty line. */
	for (;;) {
		size_t name, nl, vs, ve;

		if (i >= LG_RESPONSE_HEAD_MAX)
			return HTTP_MALFORMED;
		if (i + 1 >= len)
			return HTTP_INCOMPLETE;
		if (buf[i] == '\r') {
			if (buf[i + 1] != '\n')
				return HTTP_MALFORMED;
			i += 2;
			break;
		}
		if (++fields > LG_RESPONSE_FIELDS_MAX)
			return HTTP_MALFORMED;
		name = i;
		while (i < len && is_tchar((unsigned char)buf[i]))
			i++;
		if (i >= len)
			return HTTP_INCOMPLETE;
		if (i == name || buf[i] != ':')
			return HTTP_MALFORMED;
		nl = i - name;
		for (i++; i < len && (buf[i] == ' ' || buf[i] == '\t'); i++)
			;
		vs = i;
		for (; i < len && buf[i] != '\r' && buf[i] != '\n'; i++)
			if (((unsigned char)buf[i] < 0x20 && buf[i] != '\t') || buf[i] == 0x7f)
				return HTTP_MALFORMED;
		if (i + 1 >= len)
			return len >= LG_RESPONSE_HEAD_MAX ? HTTP_MALFORMED : HTTP_INCOMPLETE;
		if (buf[i] != '\r' || buf[i + 1] != '\n')
			return HTTP_MALFORMED;
		ve = i;
		while (ve > vs && (buf[ve - 1] == ' ' || buf[ve - 1] == '\t'))
			ve--;
		if (apply_field(r, buf + name, nl, buf + vs, ve - vs, &conn_close, &conn_keep) != 0)
			return HTTP_MALFORMED;
		i += 2;
	}
	if (r->chunked && r->has_content_length)
		return HTTP_MALFORMED;
	r->keep_alive = r->minor_version >= 1 ? !conn_close : (conn_keep && !conn_close);
	r->head_len = i;
	return (int)i;
}

enum lg_body_framing
lg_body_framing(const struct lg_response *r, int head_request)
{
	if (head_request || r->status < 200 || r->status == 204 || r->status == 304)
		return LG_BODY_NONE;
	if (r->chunked)
		return LG_BODY_CHUNKED;
	if (r->has_content_length)
		return LG_BODY_LENGTH;
	return LG_BODY_CLOSE;
}

/* ---- the blocking exchange of the set-up steps ---- */

static int
wait_fd(int fd, short ev, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int rc;

	do
		rc = poll(&p, 1, timeout_ms);
	while (rc < 0 && errno == EINTR);
	return rc > 0 ? 0 : -1;
}

static int
body_append(struct lg_answer *a, size_t *cap, const void *d, size_t n)
{
	if (a->body_len + n > LG_EXCHANGE_BODY_MAX)
		return -1;
	if (a->body_len + n + 1 > *cap) {
		size_t nc = *cap ? *cap : 4096;
		uint8_t *nb;

		while (nc < a->body_len + n + 1)
			nc *= 2;
		nb = realloc(a->body, nc);
		if (nb == NULL)
			return -1;
		a->body = nb;
		*cap = nc;
	}
	memcpy(a->body + a->body_len, d, n);
	a->body_len += n;
	a->body[a->body_len] = 0;
	return 0;
}

/* The state of one lg_exchange answer's body. */
struct exchange {
	struct lg_answer    *a;
	size_t               cap;       /* bytes allocated for a->body */
	enum lg_body_framing framing;
	uint64_t             left;      /* LG_BODY_LENGTH: bytes still to come */
	struct http_chunked  chunked;
	bool                 done;
};

static int
send_all(int fd, const char *req, size_t len, int timeout_ms, const char **why)
{
	size_t sent = 0;

	while (sent < len) {
		ssize_t w;

		*why = "timed out sending";
		if (wait_fd(fd, POLLOUT, timeout_ms) != 0)
			return -1;
		w = send(fd, req + sent, len - sent, MSG_NOSIGNAL);
		*why = "connection cut while sending";
		if (w <= 0 && !(w < 0 && errno == EINTR))
			return -1;
		if (w > 0)
			sent += (size_t)w;
	}
	return 0;
}

/* Takes body bytes in[0..n): *used of them are consumed. */
static int
take_body(struct exchange *x, const char *in, size_t n, size_t *used, const char **why)
{
	char out[16384];
	size_t made = 0;
	int rc;

	*why = "answer body too large";
	*used = n;
	switch (x->framing) {
	case LG_BODY_LENGTH:
		if (n > x->left)
			*used = n = (size_t)x->left;
		x->left -= n;
		x->done = x->left == 0;
		return body_append(x->a, &x->cap, in, n);
	case LG_BODY_CHUNKED:
		rc = http_chunked_decode(&x->chunked, in, n, used, out, sizeof out, &made);
		if (body_append(x->a, &x->cap, out, made) != 0)
			return -1;
		*why = "malformed chunked answer body";
		x->done = rc == 1;
		return rc == HTTP_MALFORMED ? -1 : 0;
	default:
		return body_append(x->a, &x->cap, in, n);
	}
}

int
lg_exchange(const struct lg_target *t, const char *req, size_t len, int head_request,
            int timeout_ms, struct lg_answer *a, const char **why)
{
	char *buf = malloc(LG_RESPONSE_HEAD_MAX);
	struct exchange x = { .a = a };
	size_t have = 0, off = 0;
	int fd = -1, rc = -1, hl = HTTP_INCOMPLETE;

	memset(a, 0, sizeof *a);
	http_chunked_init(&x.chunked);
	*why = "out of memory";
	if (buf == NULL)
		return -1;
	fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	*why = "cannot connect";
	if (fd < 0 || connect(fd, (const struct sockaddr *)&t->addr, t->addr_len) != 0 ||
	    send_all(fd, req, len, timeout_ms, why) != 0)
		goto out;
	while (!x.done) {
		ssize_t r;

		*why = "timed out reading";
		if (wait_fd(fd, POLLIN, timeout_ms) != 0)
			goto out;
		r = recv(fd, buf + have, LG_RESPONSE_HEAD_MAX - have, 0);
		if (r < 0 && errno == EINTR)
			continue;
		*why = r < 0 ? "connection error" : "connection cut before the end of the answer";
		if (r < 0 || (r == 0 && (hl <= 0 || x.framing != LG_BODY_CLOSE)))
			goto out;
		if (r == 0)
			break;
		have += (size_t)r;
		if (hl <= 0) {
			hl = lg_parse_response_head(buf, have, &a->resp);
			*why = "malformed answer head";
			if (hl == HTTP_MALFORMED)
				goto out;
			if (hl == HTTP_INCOMPLETE)
				continue;
			*why = "out of memory";
			if ((a->head = malloc((size_t)hl)) == NULL)
				goto out;
			memcpy(a->head, buf, (size_t)hl);
			(void)lg_parse_response_head(a->head, (size_t)hl, &a->resp);
			x.framing = lg_body_framing(&a->resp, head_request);
			x.left = a->resp.content_length;
			x.done = x.framing == LG_BODY_NONE || (x.framing == LG_BODY_LENGTH && x.left == 0);
			off = (size_t)hl;
		}
		while (!x.done && off < have) {
			size_t used;

			if (take_body(&x, buf + off, have - off, &used, why) != 0)
				goto out;
			off += used;
		}
		if (off == have)
			off = have = 0;     /* the head is copied out: the buffer is free again */
	}
	if (a->body == NULL && body_append(a, &x.cap, "", 0) != 0)
		goto out;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	if (rc != 0)
		lg_answer_free(a);
	return rc;
}

void
lg_answer_free(struct lg_answer *a)
{
	free(a->head);
	free(a->body);
	memset(a, 0, sizeof *a);
}
