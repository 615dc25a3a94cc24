/*
 * redis_tls.h - the Redis connection's transport, used by src/store/redis.c
 * only: TCP connect with a deadline, socket reads/writes with a deadline,
 * and a BearSSL TLS client on top (certificate chain checked against a PEM
 * CA bundle, server name checked against the certificate, SNI sent).
 *
 * All deadlines are absolute times in milliseconds on clock_ms()'s clock
 * (clock.h, CLOCK_MONOTONIC).  Error texts written to err never contain
 * data from the stream.  No function here allocates except
 * tls_trust_load() (once, at start-up) and getaddrinfo() in tls_tcp_connect().
 *
 * Limits: IP-address server names are compared as text with the
 * certificate's DNS names (BearSSL does not check iPAddress entries), so
 * rediss:// to an IP literal needs a certificate naming that text.
 * getaddrinfo() has no deadline of its own (resolver timeouts apply).
 */
#ifndef MTE_STORE_REDIS_TLS_H
#define MTE_STORE_REDIS_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <bearssl.h>
#include "limits.h"

/* Trust anchors decoded from a PEM bundle; owns its memory. */
struct tls_trust {
	br_x509_trust_anchor *anchors;
	size_t                count;
};

/*
 * Loads every CERTIFICATE in the PEM file at path (at most TLS_CA_FILE_MAX
 * bytes, TLS_CA_CERTS_MAX certificates of at most TLS_CERT_DER_MAX bytes and
 * a subject DN of at most TLS_DN_MAX bytes) as trust anchors; CA certificates
 * anchor chains, others are trusted directly.  Other PEM objects are skipped.
 * Returns 0, or -1 with a message in err (nothing loaded, *t empty).
 */
int  tls_trust_load(struct tls_trust *t, const char *path, char *err, size_t errlen);
void tls_trust_free(struct tls_trust *t);

/*
 * Connects a TCP socket to host:port (every address getaddrinfo returns, in
 * order) before deadline_ms.  The socket is non-blocking, close-on-exec,
 * TCP_NODELAY, SO_KEEPALIVE.  Returns the fd, or -1 with a message in err.
 */
int tls_tcp_connect(const char *host, uint16_t port, int64_t deadline_ms,
                    char *err, size_t errlen);

/* Reads at least 1 and at most len bytes from a non-blocking socket before
 * deadline_ms.  Returns the count, 0 at end of stream, -1 on error or
 * timeout (errno ETIMEDOUT). */
ssize_t tls_sock_read(int fd, void *buf, size_t len, int64_t deadline_ms);
/* Writes all len bytes before deadline_ms.  Returns 0 or -1 (errno set). */
int     tls_sock_write_all(int fd, const void *buf, size_t len, int64_t deadline_ms);

/* One TLS client connection; caller-owned (about 35 KB), reusable. */
struct tls_client {
	br_ssl_client_context  cc;
	br_x509_minimal_context xc;
	br_sslio_context       io;
	int                    fd;
	int64_t                deadline_ms;     /* for the current call */
	int                    io_errno;        /* last transport error */
	unsigned char          iobuf[BR_SSL_BUFSIZE_BIDI];
};

/*
 * Runs a TLS handshake on the connected socket fd (not owned: the caller
 * closes it) as a client of server_name, validating the server's chain with
 * trust and its name against server_name, before deadline_ms.  Returns 0, or
 * -1 with a message in err (e.g. "certificate not trusted").
 */
int  tls_client_start(struct tls_client *c, int fd, const struct tls_trust *trust,
                      const char *server_name, int64_t deadline_ms,
                      char *err, size_t errlen);
/* Reads 1..len bytes of application data.  -1 on error, timeout or close
 * (errno ETIMEDOUT, ECONNRESET for a closed peer, EPROTO for a TLS error);
 * the connection is unusable afterwards. */
ssize_t tls_client_read(struct tls_client *c, void *buf, size_t len, int64_t deadline_ms);
/* Writes and flushes all len bytes.  0, or -1 with errno as above. */
int  tls_client_write_all(struct tls_client *c, const void *buf, size_t len,
                          int64_t deadline_ms);
/* 1 if the engine holds received application data nobody has read. */
int  tls_client_pending(const struct tls_client *c);

#endif /* MTE_STORE_REDIS_TLS_H */
