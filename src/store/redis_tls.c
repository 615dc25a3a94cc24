/* redis_tls.c - TCP with deadlines and a BearSSL TLS client, the Redis
 * connection's transport (see redis_tls.h). */
#include "store/redis_tls.h"
#include "clock.h"
#include "crypto/rand.h"
#include "crypto/wipe.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Waits until fd is ready for events or deadline_ms passes.  0 when ready
 * (or in error: the next read/write reports it), -1 with errno ETIMEDOUT. */
static int
wait_fd(int fd, short events, int64_t deadline_ms)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int64_t left = deadline_ms - clock_ms();
		int n;

		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

int
tls_tcp_connect(const char *host, uint16_t port, int64_t deadline_ms, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char service[8];
	int rc, fd = -1, last = ECONNREFUSED, one = 1;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(service, sizeof service, "%u", (unsigned)port);
	rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", host,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		socklen_t len = sizeof rc;

		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			last = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno != EINPROGRESS) {
			last = errno;
		} else if (wait_fd(fd, POLLOUT, deadline_ms) != 0) {
			last = errno;
		} else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &rc, &len) != 0) {
			last = errno;
		} else if (rc != 0) {
			last = rc;
		} else {
			break;
		}
		close(fd);
		fd = -1;
		if (last == ETIMEDOUT)
			break;  /* the deadline is for all addresses together */
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %s port %u: %s", host, (unsigned)port,
		    last == ETIMEDOUT ? "timed out" : strerror(last));
		return -1;
	}
	/* Small request/reply exchanges: no Nagle delay; keepalive finds dead peers. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	return fd;
}

ssize_t
tls_sock_read(int fd, void *buf, size_t len, int64_t deadline_ms)
{
	for (;;) {
		ssize_t n = read(fd, buf, len);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (wait_fd(fd, POLLIN, deadline_ms) != 0)
			return -1;
	}
}

int
tls_sock_write_all(int fd, const void *buf, size_t len, int64_t deadline_ms)
{
	const unsigned char *p = buf;

	while (len > 0) {
		/* MSG_NOSIGNAL: a peer that closed gives EPIPE, not SIGPIPE. */
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (wait_fd(fd, POLLOUT, deadline_ms) != 0)
			return -1;
	}
	return 0;
}

/* ---- trust anchors from a PEM bundle ---- */

struct pem_state {
	struct tls_trust *t;
	int            in_cert;
	size_t         der_len;
	int            der_overflow;
	unsigned char  der[TLS_CERT_DER_MAX];
	size_t         dn_len;
	int            dn_overflow;
	unsigned char  dn[TLS_DN_MAX];
	size_t         skipped;
	char          *err;
	size_t         errlen;
};

/* Appends src[0..n) to buf[0..*len) (cap bytes), or sets *overflow. */
static void
bounded_append(unsigned char *buf, size_t cap, size_t *len, int *overflow,
               const void *src, size_t n)
{
	if (n > cap - *len) {
		*overflow = 1;
		return;
	}
	memcpy(buf + *len, src, n);
	*len += n;
}

static void
der_append(void *ctx, const void *src, size_t len)
{
	struct pem_state *ps = ctx;

	bounded_append(ps->der, sizeof ps->der, &ps->der_len, &ps->der_overflow, src, len);
}

static void
dn_append(void *ctx, const void *src, size_t len)
{
	struct pem_state *ps = ctx;

	bounded_append(ps->dn, sizeof ps->dn, &ps->dn_len, &ps->dn_overflow, src, len);
}

static void *
dup_bytes(const void *p, size_t n)
{
	void *q = malloc(n ? n : 1);

	if (q != NULL && n)
		memcpy(q, p, n);
	return q;
}

static void
anchor_free(br_x509_trust_anchor *a)
{
	free(a->dn.data);
	if (a->pkey.key_type == BR_KEYTYPE_RSA) {
		free(a->pkey.key.rsa.n);
		free(a->pkey.key.rsa.e);
	} else if (a->pkey.key_type == BR_KEYTYPE_EC) {
		free(a->pkey.key.ec.q);
	}
	memset(a, 0, sizeof *a);
}

/* Decodes ps->der into a new anchor.  0 (added or skipped) or -1 (error). */
static int
add_anchor(struct pem_state *ps)
{
	br_x509_decoder_context dc;
	br_x509_trust_anchor a;
	const br_x509_pkey *pk;
	struct tls_trust *t = ps->t;
	br_x509_trust_anchor *grown;

	if (ps->der_overflow) {
		snprintf(ps->err, ps->errlen, "certificate %zu is larger than %d bytes",
		    t->count + ps->skipped + 1, TLS_CERT_DER_MAX);
		return -1;
	}
	ps->dn_len = 0;
	ps->dn_overflow = 0;
	br_x509_decoder_init(&dc, dn_append, ps);
	br_x509_decoder_push(&dc, ps->der, ps->der_len);
	pk = br_x509_decoder_get_pkey(&dc);
	if (pk == NULL || (pk->key_type != BR_KEYTYPE_RSA && pk->key_type != BR_KEYTYPE_EC)) {
		ps->skipped++;  /* a key type or encoding BearSSL cannot use */
		return 0;
	}
	if (ps->dn_overflow) {
		snprintf(ps->err, ps->errlen, "certificate %zu has a subject name longer than %d bytes",
		    t->count + ps->skipped + 1, TLS_DN_MAX);
		return -1;
	}
	if (t->count == TLS_CA_CERTS_MAX) {
		snprintf(ps->err, ps->errlen, "more than %d certificates", TLS_CA_CERTS_MAX);
		return -1;
	}
	memset(&a, 0, sizeof a);
	a.flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
	a.dn.data = dup_bytes(ps->dn, ps->dn_len);
	a.dn.len = ps->dn_len;
	a.pkey.key_type = pk->key_type;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		a.pkey.key.rsa.n = dup_bytes(pk->key.rsa.n, pk->key.rsa.nlen);
		a.pkey.key.rsa.nlen = pk->key.rsa.nlen;
		a.pkey.key.rsa.e = dup_bytes(pk->key.rsa.e, pk->key.rsa.elen);
		a.pkey.key.rsa.elen = pk->key.rsa.elen;
	} else {
		a.pkey.key.ec.curve = pk->key.ec.curve;
		a.pkey.key.ec.q = dup_bytes(pk->key.ec.q, pk->key.ec.qlen);
		a.pkey.key.ec.qlen = pk->key.ec.qlen;
	}
	grown = realloc(t->anchors, (t->count + 1) * sizeof *t->anchors);
	if (a.dn.data == NULL || grown == NULL
	    || (pk->key_type == BR_KEYTYPE_RSA && (a.pkey.key.rsa.n == NULL || a.pkey.key.rsa.e == NULL))
	    || (pk->key_type == BR_KEYTYPE_EC && a.pkey.key.ec.q == NULL)) {
		if (grown != NULL)
			t->anchors = grown;
		anchor_free(&a);
		snprintf(ps->err, ps->errlen, "out of memory");
		return -1;
	}
	t->anchors = grown;
	t->anchors[t->count++] = a;
	return 0;
}

/* Feeds PEM text to the decoder, handling its events.  0 or -1. */
static int
pem_feed(br_pem_decoder_context *pc, struct pem_state *ps, const unsigned char *p, size_t len)
{
	while (len > 0) {
		size_t n = br_pem_decoder_push(pc, p, len);
		p += n;
		len -= n;
		switch (br_pem_decoder_event(pc)) {
		case BR_PEM_BEGIN_OBJ: {
			const char *name = br_pem_decoder_name(pc);
			ps->in_cert = strcmp(name, "CERTIFICATE") == 0
			    || strcmp(name, "X509 CERTIFICATE") == 0;
			ps->der_len = 0;
			ps->der_overflow = 0;
			br_pem_decoder_setdest(pc, ps->in_cert ? der_append : NULL, ps);
			break;
		}
		case BR_PEM_END_OBJ:
			if (ps->in_cert && add_anchor(ps) != 0)
				return -1;
			ps->in_cert = 0;
			break;
		case BR_PEM_ERROR:
			snprintf(ps->err, ps->errlen, "malformed PEM after certificate %zu",
			    ps->t->count + ps->skipped);
			return -1;
		default:
			break;
		}
	}
	return 0;
}

void
tls_trust_free(struct tls_trust *t)
{
	for (size_t i = 0; i < t->count; i++)
		anchor_free(&t->anchors[i]);
	free(t->anchors);
	t->anchors = NULL;
	t->count = 0;
}

int
tls_trust_load(struct tls_trust *t, const char *path, char *err, size_t errlen)
{
	br_pem_decoder_context pc;
	struct pem_state *ps;
	unsigned char chunk[4096];
	size_t total = 0;
	char why[160];
	int fd, rc = -1;

	t->anchors = NULL;
	t->count = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open CA file %s: %s", path, strerror(errno));
		return -1;
	}
	ps = calloc(1, sizeof *ps);     /* ~17 KB: keep it off the stack */
	if (ps == NULL) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ps->t = t;
	ps->err = why;
	ps->errlen = sizeof why;
	why[0] = '\0';
	br_pem_decoder_init(&pc);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(why, sizeof why, "read error: %s", strerror(errno));
			break;
		}
		if (n == 0) {
			/* The decoder needs an end of line after the last END line. */
			if (pem_feed(&pc, ps, (const unsigned char *)"\n", 1) == 0)
				rc = 0;
			break;
		}
		total += (size_t)n;
		if (total > TLS_CA_FILE_MAX) {
			snprintf(why, sizeof why, "larger than %d bytes", TLS_CA_FILE_MAX);
			break;
		}
		if (pem_feed(&pc, ps, chunk, (size_t)n) != 0)
			break;
	}
	close(fd);
	if (rc == 0 && t->count == 0) {
		snprintf(why, sizeof why, "no usable certificate");
		rc = -1;
	}
	if (rc != 0) {
		tls_trust_free(t);
		snprintf(err, errlen, "CA file %s: %s", path, why);
	}
	crypto_wipe(ps, sizeof *ps);
	free(ps);
	return rc;
}

/* ---- TLS client ---- */

static int
low_read(void *ctx, unsigned char *buf, size_t len)
{
	struct tls_client *c = ctx;
	ssize_t n = tls_sock_read(c->fd, buf, len, c->deadline_ms);

	if (n > 0)
		return (int)n;
	c->io_errno = n == 0 ? ECONNRESET : errno;
	return -1;
}

static int
low_write(void *ctx, const unsigned char *buf, size_t len)
{
	struct tls_client *c = ctx;

	if (tls_sock_write_all(c->fd, buf, len, c->deadline_ms) != 0) {
		c->io_errno = errno;
		return -1;
	}
	return (int)len;
}

static void
tls_error_text(const struct tls_client *c, char *err, size_t errlen)
{
	int e = br_ssl_engine_last_error(&c->cc.eng);

	switch (e) {
	case BR_ERR_X509_NOT_TRUSTED:
		snprintf(err, errlen, "TLS: server certificate not trusted (check REDIS_CA_FILE)");
		break;
	case BR_ERR_X509_BAD_SERVER_NAME:
		snprintf(err, errlen, "TLS: server certificate does not match the host name");
		break;
	case BR_ERR_X509_EXPIRED:
		snprintf(err, errlen, "TLS: server certificate expired or not yet valid");
		break;
	case BR_ERR_IO:
	case BR_ERR_OK:
		snprintf(err, errlen, "TLS: %s",
		    c->io_errno == ETIMEDOUT ? "timed out" :
		    c->io_errno == ECONNRESET ? "connection closed by the server" :
		    strerror(c->io_errno ? c->io_errno : EIO));
		break;
	default:
		if (e >= BR_ERR_SEND_FATAL_ALERT)
			snprintf(err, errlen, "TLS: handshake failed (alert %d sent)", e - BR_ERR_SEND_FATAL_ALERT);
		else if (e >= BR_ERR_RECV_FATAL_ALERT)
			snprintf(err, errlen, "TLS: server sent alert %d", e - BR_ERR_RECV_FATAL_ALERT);
		else if (e >= BR_ERR_X509_OK)
			snprintf(err, errlen, "TLS: server certificate rejected (X.509 error %d)", e);
		else
			snprintf(err, errlen, "TLS: error %d", e);
	}
}

int
tls_client_start(struct tls_client *c, int fd, const struct tls_trust *trust,
                 const char *server_name, int64_t deadline_ms, char *err, size_t errlen)
{
	unsigned char seed[32];

	/* TLS 1.2 with forward-secret AEAD suites only: init_full would also
	 * offer TLS 1.0/1.1, RSA key exchange, CBC and 3DES. */
	static const uint16_t suites[] = {
		BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	};

	br_ssl_client_init_full(&c->cc, &c->xc, trust->anchors, trust->count);
	br_ssl_engine_set_versions(&c->cc.eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(&c->cc.eng, suites, sizeof suites / sizeof suites[0]);
	br_ssl_engine_set_buffer(&c->cc.eng, c->iobuf, sizeof c->iobuf, 1);
	rand_bytes(seed, sizeof seed);
	br_ssl_engine_inject_entropy(&c->cc.eng, seed, sizeof seed);
	crypto_wipe(seed, sizeof seed);
	c->fd = fd;
	c->deadline_ms = deadline_ms;
	c->io_errno = 0;
	if (!br_ssl_client_reset(&c->cc, server_name, 0)) {
		tls_error_text(c, err, errlen);
		return -1;
	}
	br_sslio_init(&c->io, &c->cc.eng, low_read, c, low_write, c);
	/* Flushing runs the whole handshake: it returns once application data
	 * can be sent, or fails. */
	if (br_sslio_flush(&c->io) != 0
	    || br_ssl_engine_current_state(&c->cc.eng) == BR_SSL_CLOSED) {
		tls_error_text(c, err, errlen);
		return -1;
	}
	return 0;
}

ssize_t
tls_client_read(struct tls_client *c, void *buf, size_t len, int64_t deadline_ms)
{
	int n;

	c->deadline_ms = deadline_ms;
	n = br_sslio_read(&c->io, buf, len);
	if (n < 0) {
		errno = c->io_errno ? c->io_errno : EPROTO;
		return -1;
	}
	return n;
}

int
tls_client_write_all(struct tls_client *c, const void *buf, size_t len, int64_t deadline_ms)
{
	c->deadline_ms = deadline_ms;
	if (br_sslio_write_all(&c->io, buf, len) != 0 || br_sslio_flush(&c->io) != 0) {
		errno = c->io_errno ? c->io_errno : EPROTO;
		return -1;
	}
	return 0;
}

int
tls_client_pending(const struct tls_client *c)
{
	return (br_ssl_engine_current_state(&c->cc.eng) & BR_SSL_RECVAPP) != 0;
}
