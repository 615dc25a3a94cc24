/*
 * test_tls.c - src/store/redis_tls.c (the Redis transport) on its own:
 * loading CA bundles (and each of its limits at limit + 1), and the
 * deadlines of the socket and handshake calls.  The TLS connections to a
 * real redis-server are in test_store_redis.c.
 */
#include "test_store_util.h"
#include "clock.h"
#include "store/redis_tls.h"

static char dir[64];

static void
make_dir(void)
{
	watchdog();
	snprintf(dir, sizeof dir, "/tmp/mte-tlsu-XXXXXX");
	cr_assert(mkdtemp(dir) != NULL);
}

static void
remove_dir(void)
{
	char cmd[128];

	if (dir[0]) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0) { /* best effort */ }
	}
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	cr_assert(f != NULL, "%s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	cr_assert(buf != NULL);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void
write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	cr_assert(f != NULL);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

static int
load(const char *path, struct tls_trust *t, char *err, size_t errlen)
{
	err[0] = '\0';
	return tls_trust_load(t, path, err, errlen);
}

Test(tls_trust, system_bundle, .init = watchdog)
{
	struct tls_trust t;
	char err[256];

	cr_assert_eq(load(STORE_SYSTEM_CA_FILE, &t, err, sizeof err), 0, "%s", err);
	cr_assert(t.count > 100, "%zu anchors", t.count);
	for (size_t i = 0; i < t.count; i++)
		cr_assert(t.anchors[i].dn.len > 0 && t.anchors[i].dn.len <= TLS_DN_MAX);
	tls_trust_free(&t);
	cr_assert_eq(t.count, 0);
	cr_assert_null(t.anchors);
}

Test(tls_trust, unusable_files, .init = make_dir, .fini = remove_dir)
{
	struct tls_trust t;
	char err[256], path[128];
	static const char bad_pem[] = "-----BEGIN CERTIFICATE-----\nMIIB*&^%\n-----END CERTIFICATE-----\n";

	cr_assert_eq(load("/nonexistent/ca.pem", &t, err, sizeof err), -1);
	cr_assert(strstr(err, "cannot open") != NULL, "%s", err);
	cr_assert_eq(load("/dev/null", &t, err, sizeof err), -1);
	cr_assert(strstr(err, "no usable certificate") != NULL, "%s", err);
	cr_assert_eq(t.count, 0);
	make_tls_material(dir);
	snprintf(path, sizeof path, "%s/ca.key", dir);
	cr_assert_eq(load(path, &t, err, sizeof err), -1, "a private key is no anchor");
	cr_assert(strstr(err, "no usable certificate") != NULL, "%s", err);
	snprintf(path, sizeof path, "%s/bad.pem", dir);
	write_file(path, bad_pem, sizeof bad_pem - 1);
	cr_assert_eq(load(path, &t, err, sizeof err), -1);
	cr_assert(strstr(err, "malformed PEM") != NULL, "%s", err);
}

Test(tls_trust, mixed_file_keeps_certificates, .init = make_dir, .fini = remove_dir)
{
	struct tls_trust t;
	char err[256], path[128];

	make_tls_material(dir);
	sh("cd '%s' && cat ca.key ca.crt server.key server.crt > mixed.pem && "
	   "printf 'trailing text, no newline' >> mixed.pem", dir);
	snprintf(path, sizeof path, "%s/mixed.pem", dir);
	cr_assert_eq(load(path, &t, err, sizeof err), 0, "%s", err);
	cr_assert_eq(t.count, 2);
	cr_assert_eq(t.anchors[0].flags, BR_X509_TA_CA, "the CA anchors chains");
	cr_assert_eq(t.anchors[1].flags, 0, "a leaf is trusted directly");
	cr_assert_eq(t.anchors[0].pkey.key_type, BR_KEYTYPE_EC);
	tls_trust_free(&t);
}

Test(tls_trust, file_size_limit, .init = make_dir, .fini = remove_dir)
{
	struct tls_trust t;
	char err[256], path[128], ca[128];
	size_t n;
	char *cert, *big;

	make_tls_material(dir);
	snprintf(ca, sizeof ca, "%s/ca.crt", dir);
	cert = slurp(ca, &n);
	/* TLS_CA_FILE_MAX bytes: the certificate, then text outside any object */
	big = malloc(TLS_CA_FILE_MAX + 2);
	cr_assert(big != NULL);
	memcpy(big, cert, n);
	for (size_t i = n; i < TLS_CA_FILE_MAX; i++)
		big[i] = (i % 64 == 63) ? '\n' : 'x';
	snprintf(path, sizeof path, "%s/big.pem", dir);
	write_file(path, big, TLS_CA_FILE_MAX);
	cr_assert_eq(load(path, &t, err, sizeof err), 0, "%s", err);
	cr_assert_eq(t.count, 1);
	tls_trust_free(&t);
	big[TLS_CA_FILE_MAX] = 'x';
	write_file(path, big, TLS_CA_FILE_MAX + 1);
	cr_assert_eq(load(path, &t, err, sizeof err), -1);
	cr_assert(strstr(err, "larger than") != NULL, "%s", err);
	cr_assert_eq(t.count, 0);
	free(big);
	free(cert);
}

Test(tls_trust, certificate_count_limit, .init = make_dir, .fini = remove_dir)
{
	struct tls_trust t;
	char err[256], path[128], ca[128];
	size_t n;
	char *cert;
	FILE *f;

	make_tls_material(dir);
	snprintf(ca, sizeof ca, "%s/ca.crt", dir);
	cert = slurp(ca, &n);
	snprintf(path, sizeof path, "%s/many.pem", dir);
	f = fopen(path, "wb");
	cr_assert(f != NULL);
	for (int i = 0; i < TLS_CA_CERTS_MAX; i++)
		cr_assert_eq(fwrite(cert, 1, n, f), n);
	fclose(f);
	cr_assert_eq(load(path, &t, err, sizeof err), 0, "%s", err);
	cr_assert_eq(t.count, TLS_CA_CERTS_MAX);
	tls_trust_free(&t);
	f = fopen(path, "ab");
	cr_assert(f != NULL);
	cr_assert_eq(fwrite(cert, 1, n, f), n);
	fclose(f);
	cr_assert_eq(load(path, &t, err, sizeof err), -1);
	cr_assert(strstr(err, "more than") != NULL, "%s", err);
	free(cert);
}

/* A PEM CERTIFICATE object of der_len zero bytes. */
static void
write_zero_der_pem(const char *path, size_t der_len)
{
	FILE *f = fopen(path, "wb");
	size_t chars = (der_len + 2) / 3 * 4;

	cr_assert(f != NULL);
	fputs("-----BEGIN CERTIFICATE-----\n", f);
	for (size_t i = 0; i < chars; i++) {
		/* "AAAA" decodes to 3 zero bytes; pad the last group */
		size_t left = der_len - (i / 4) * 3;
		char c = 'A';
		if (left < 3 && i % 4 >= left + 1)
			c = '=';
		fputc(c, f);
		if (i % 64 == 63)
			fputc('\n', f);
	}
	fputs("\n-----END CERTIFICATE-----\n", f);
	fclose(f);
}

Test(tls_trust, certificate_size_limit, .init = make_dir, .fini = remove_dir)
{
	struct tls_trust t;
	char err[256], path[128];

	snprintf(path, sizeof path, "%s/huge.pem", dir);
	write_zero_der_pem(path, TLS_CERT_DER_MAX);
	cr_assert_eq(load(path, &t, err, sizeof err), -1);
	cr_assert(strstr(err, "no usable certificate") != NULL, "not a size error at the limit: %s", err);
	write_zero_der_pem(path, TLS_CERT_DER_MAX + 1);
	cr_assert_eq(load(path, &t, err, sizeof err), -1);
	cr_assert(strstr(err, "larger than") != NULL, "%s", err);
}

Test(tls_trust, subject_name_limit, .init = make_dir, .fini = remove_dir)
{
	struct tls_trust t;
	char err[256], path[128], subj[2048];
	size_t n = 0;

	/* 16 OU attributes of 60 characters: a subject DN over TLS_DN_MAX bytes */
	for (int i = 0; i < 16; i++)
		n += (size_t)snprintf(subj + n, sizeof subj - n,
		    "/OU=%02d-abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcd", i);
	sh("cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	   "-keyout long.key -out long.crt -days 2 -subj '%s' 2>/dev/null", dir, subj);
	snprintf(path, sizeof path, "%s/long.crt", dir);
	cr_assert_eq(load(path, &t, err, sizeof err), -1);
	cr_assert(strstr(err, "subject name longer than") != NULL, "%s", err);
	/* 13 of them fit */
	subj[13 * 64] = '\0';
	cr_assert_eq(strlen(subj), 13 * 64);
	sh("cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	   "-keyout ok.key -out ok.crt -days 2 -subj '%s' 2>/dev/null", dir, subj);
	snprintf(path, sizeof path, "%s/ok.crt", dir);
	cr_assert_eq(load(path, &t, err, sizeof err), 0, "%s", err);
	cr_assert(t.anchors[0].dn.len > 800 && t.anchors[0].dn.len <= TLS_DN_MAX, "%zu", t.anchors[0].dn.len);
	tls_trust_free(&t);
}

/* One DER header at p[0..n): *hl header bytes, *cl content bytes.  0 or -1. */
static int
der_header(const unsigned char *p, size_t n, size_t *hl, size_t *cl)
{
	size_t k, i;

	if (n < 2 || (p[0] & 0x1f) == 0x1f)
		return -1;
	if (p[1] < 0x80) {
		*hl = 2;
		*cl = p[1];
	} else {
		k = p[1] & 0x7f;
		if (k == 0 || k > 3 || n < 2 + k)
			return -1;
		for (*cl = 0, i = 0; i < k; i++)
			*cl = *cl << 8 | p[2 + i];
		*hl = 2 + k;
	}
	return *hl + *cl <= n ? 0 : -1;
}

/*
 * The subject Name of the PEM certificate dir/name.crt, DER-encoded with
 * its own tag and length, as openssl writes it (read independently of the
 * code under test): copied to out (cap bytes); returns its length.
 */
static size_t
subject_der(const char *name, unsigned char *out, size_t cap)
{
	char path[160];
	unsigned char *der;
	size_t n, hl, cl, off, len = 0;
	int i;

	sh("cd '%s' && openssl x509 -in %s.crt -outform DER -out %s.der", dir, name, name);
	snprintf(path, sizeof path, "%s/%s.der", dir, name);
	der = (unsigned char *)slurp(path, &n);
	/* Certificate SEQUENCE, then into tbsCertificate */
	cr_assert_eq(der_header(der, n, &hl, &cl), 0);
	off = hl;
	cr_assert_eq(der_header(der + off, n - off, &hl, &cl), 0);
	off += hl;
	/* [0] version, serialNumber, signature, issuer, validity, subject */
	if (der[off] == 0xa0) {
		cr_assert_eq(der_header(der + off, n - off, &hl, &cl), 0);
		off += hl + cl;
	}
	for (i = 0; i < 5; i++) {
		cr_assert_eq(der_header(der + off, n - off, &hl, &cl), 0);
		if (i < 4)
			off += hl + cl;
	}
	cr_assert_eq(der[off], 0x30, "the subject is a SEQUENCE");
	len = hl + cl;
	cr_assert_leq(len, cap);
	memcpy(out, der + off, len);
	free(der);
	return len;
}

/* A subject of 14 OU attributes of 59 characters and a last one of last
 * characters (an OU holds at most 64). */
static void
dn_subject(char *subj, size_t cap, size_t last)
{
	size_t n = 0;

	for (int i = 0; i < 14; i++)
		n += (size_t)snprintf(subj + n, cap - n,
		    "/OU=%02d-abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcd", i);
	n += (size_t)snprintf(subj + n, cap - n, "/OU=");
	cr_assert(n + last + 1 < cap);
	memset(subj + n, 'z', last);
	subj[n + last] = '\0';
}

/* dir/name.crt: a self-signed EC certificate (key dir/dn.key) whose DER
 * subject DN is exactly dn_len bytes: made once with a guess for the last
 * attribute, measured, and made again with the difference. */
static void
make_cert_with_dn(const char *name, size_t dn_len, unsigned char *dn, size_t cap)
{
	char subj[1536];
	size_t last = 32, got;

	sh("cd '%s' && [ -f dn.key ] || openssl genpkey -algorithm EC "
	   "-pkeyopt ec_paramgen_curve:P-256 -out dn.key 2>/dev/null", dir);
	for (int round = 0; round < 2; round++) {
		dn_subject(subj, sizeof subj, last);
		sh("cd '%s' && openssl req -x509 -key dn.key -out %s.crt -days 2 -subj '%s' 2>/dev/null",
		    dir, name, subj);
		got = subject_der(name, dn, cap);
		if (got == dn_len)
			return;
		cr_assert(round == 0 && last + dn_len > got && last + dn_len - got <= 64,
		    "DN of %zu bytes, wanted %zu", got, dn_len);
		last = last + dn_len - got;  /* one attribute's length: its header keeps its size */
	}
}

/* What is measured is the DER subject DN, tag and length included: exactly
 * TLS_DN_MAX bytes load (and are the anchor's DN, byte for byte); one byte
 * more refuses the whole file. */
Test(tls_trust, subject_name_limit_exact, .init = make_dir, .fini = remove_dir)
{
	static unsigned char dn[TLS_DN_MAX + 64];
	struct tls_trust t;
	char err[256], path[128], want[256];

	make_cert_with_dn("at", TLS_DN_MAX, dn, sizeof dn);
	snprintf(path, sizeof path, "%s/at.crt", dir);
	cr_assert_eq(load(path, &t, err, sizeof err), 0, "%s", err);
	cr_assert_eq(t.count, 1);
	cr_expect_eq(t.anchors[0].dn.len, TLS_DN_MAX);
	cr_expect_eq(memcmp(t.anchors[0].dn.data, dn, TLS_DN_MAX), 0, "the DN is the subject's DER");
	tls_trust_free(&t);

	make_cert_with_dn("over", TLS_DN_MAX + 1, dn, sizeof dn);
	snprintf(path, sizeof path, "%s/over.crt", dir);
	cr_assert_eq(load(path, &t, err, sizeof err), -1);
	snprintf(want, sizeof want, "CA file %s: certificate 1 has a subject name longer than %d bytes",
	    path, TLS_DN_MAX);
	cr_expect_str_eq(err, want);
	cr_expect_eq(t.count, 0);
	cr_expect_null(t.anchors);
}

/* ---- sockets and deadlines ---- */

static int
listener(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int ls = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert(ls >= 0);
	cr_assert(bind(ls, (struct sockaddr *)&a, sizeof a) == 0);
	cr_assert(listen(ls, 4) == 0);
	cr_assert(getsockname(ls, (struct sockaddr *)&a, &len) == 0);
	*port = ntohs(a.sin_port);
	return ls;
}

Test(tls_net, connect_errors, .init = watchdog)
{
	char err[256];
	int port = free_port();

	cr_assert_eq(tls_tcp_connect("127.0.0.1", (uint16_t)port, clock_ms() + 1000, err, sizeof err), -1);
	cr_assert(strstr(err, "refused") != NULL, "%s", err);
	cr_assert_eq(tls_tcp_connect("no-such-host.invalid", 6379, clock_ms() + 1000, err, sizeof err), -1);
	cr_assert(strstr(err, "cannot resolve") != NULL, "%s", err);
}

Test(tls_net, reads_and_handshakes_respect_deadlines, .init = watchdog)
{
	struct tls_trust t;
	static struct tls_client c;
	char err[256], buf[16];
	int port, ls = listener(&port), fd, peer;

	fd = tls_tcp_connect("127.0.0.1", (uint16_t)port, clock_ms() + 1000, err, sizeof err);
	cr_assert(fd >= 0, "%s", err);
	/* nothing arrives: the read gives up at its deadline */
	errno = 0;
	cr_assert_eq(tls_sock_read(fd, buf, sizeof buf, clock_ms() + 100), -1);
	cr_assert_eq(errno, ETIMEDOUT);
	/* a peer that never answers the ClientHello: the handshake gives up */
	cr_assert_eq(tls_trust_load(&t, STORE_SYSTEM_CA_FILE, err, sizeof err), 0, "%s", err);
	cr_assert_eq(tls_client_start(&c, fd, &t, "localhost", clock_ms() + 200, err, sizeof err), -1);
	cr_assert(strstr(err, "timed out") != NULL, "%s", err);
	close(fd);
	/* end of stream reads as 0; a write to a closed peer fails, no SIGPIPE */
	fd = tls_tcp_connect("127.0.0.1", (uint16_t)port, clock_ms() + 1000, err, sizeof err);
	cr_assert(fd >= 0);
	peer = accept(ls, NULL, NULL);     /* the first connection is still queued */
	close(peer);
	peer = accept(ls, NULL, NULL);
	cr_assert(peer >= 0);
	close(peer);
	cr_assert_eq(tls_sock_read(fd, buf, sizeof buf, clock_ms() + 1000), 0);
	{
		static char chunk[65536];
		int rc = 0;
		for (int i = 0; i < 64 && rc == 0; i++)
			rc = tls_sock_write_all(fd, chunk, sizeof chunk, clock_ms() + 1000);
		cr_assert_eq(rc, -1);
		cr_assert(errno == EPIPE || errno == ECONNRESET, "%s", strerror(errno));
	}
	close(fd);
	close(ls);
	tls_trust_free(&t);
}
