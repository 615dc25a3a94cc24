/* tls.c - the relay's own HTTPS: credentials, the BearSSL server as conn's
 * transport, and the --healthcheck client (see tls.h). */
#include "tls.h"

#include <bearssl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "crypto/rand.h"
#include "crypto/wipe.h"
#include "limits.h"
#include "log.h"
#include "metrics.h"

/* TLS 1.2, forward-secret AEAD suites only, in the server's order. */
static const uint16_t suites[] = {
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
};

struct tls_creds {
	br_x509_certificate chain[TLS_SERVER_CHAIN_MAX];
	size_t              chain_len;
	int                 key_type;          /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
	unsigned            issuer_key_type;   /* the leaf's signer, for init_full_ec */
	br_rsa_private_key  rsa;
	br_ec_private_key   ec;
	unsigned            bits;              /* RSA modulus bits */
	time_t              not_after;
	char                serial[2 * 20 + 1];
	unsigned char       key[3 * BR_X509_BUFSIZE_SIG];   /* the key's integers */
};

/* ---- reading PEM files ---- */

/* Reads all of path (at most TLS_SERVER_FILE_MAX bytes) into a new buffer. */
static unsigned char *
read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	unsigned char *buf;
	size_t got = 0;

	if (fd < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", path);
		close(fd);
		return NULL;
	}
	if (st.st_size > TLS_SERVER_FILE_MAX) {
		snprintf(err, errlen, "%s is larger than %d bytes", path, TLS_SERVER_FILE_MAX);
		close(fd);
		return NULL;
	}
	/* One byte more than the limit: a file that grew meanwhile is caught. */
	buf = malloc(TLS_SERVER_FILE_MAX + 2);
	if (buf == NULL) {
		snprintf(err, errlen, "out of memory reading %s", path);
		close(fd);
		return NULL;
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, TLS_SERVER_FILE_MAX + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
			break;
		}
		got += (size_t)n;
		if (n == 0 || got > TLS_SERVER_FILE_MAX)
			break;
	}
	close(fd);
	if (got > TLS_SERVER_FILE_MAX)
		snprintf(err, errlen, "%s is larger than %d bytes", path, TLS_SERVER_FILE_MAX);
	if (got > TLS_SERVER_FILE_MAX || err[0] != '\0') {
		crypto_wipe(buf, TLS_SERVER_FILE_MAX + 2);
		free(buf);
		return NULL;
	}
	buf[got++] = '\n';      /* the decoder needs an end of line after END */
	*len = got;
	return buf;
}

/* One decoded PEM object. */
struct pem_obj {
	char           name[128];
	unsigned char *der;
	size_t         len, cap;
	bool           overflow;
};

static void
pem_append(void *ctx, const void *src, size_t len)
{
	struct pem_obj *o = ctx;

	if (o->overflow || len > o->cap - o->len) {
		o->overflow = true;
		return;
	}
	memcpy(o->der + o->len, src, len);
	o->len += len;
}

/* Calls fn for each PEM object of text; stops at fn's non-zero return.
 * 0, a non-zero fn return, or -1 for malformed PEM. */
static int pem_walk(br_pem_decoder_context *pc, const unsigned char *text, size_t len,
    struct pem_obj *o, int (*fn)(void *arg, struct pem_obj *o), void *arg);

/* The decoder buffers decoded bytes (of a private key too): wiped after. */
static int
pem_each(const unsigned char *text, size_t len, struct pem_obj *o,
    int (*fn)(void *arg, struct pem_obj *o), void *arg)
{
	br_pem_decoder_context pc;
	int r = pem_walk(&pc, text, len, o, fn, arg);

	crypto_wipe(&pc, sizeof pc);
	return r;
}

static int
pem_walk(br_pem_decoder_context *pcp, const unsigned char *text, size_t len,
    struct pem_obj *o, int (*fn)(void *arg, struct pem_obj *o), void *arg)
{

	br_pem_decoder_init(pcp);
	while (len > 0) {
		size_t n = br_pem_decoder_push(pcp, text, len);
		int r;

		text += n;
		len -= n;
		switch (br_pem_decoder_event(pcp)) {
		case BR_PEM_BEGIN_OBJ:
			snprintf(o->name, sizeof o->name, "%s", br_pem_decoder_name(pcp));
			o->len = 0;
			o->overflow = false;
			br_pem_decoder_setdest(pcp, pem_append, o);
			break;
		case BR_PEM_END_OBJ:
			if ((r = fn(arg, o)) != 0)
				return r;
			break;
		case BR_PEM_ERROR:
			return -1;
		default:
			break;
		}
	}
	return 0;
}

/* ---- the leaf's serial and validity (a walk over its DER) ---- */

/* Reads one DER element at *p (before end): its tag and contents. */
static int
der_next(const unsigned char **p, const unsigned char *end, unsigned *tag,
    const unsigned char **val, size_t *vlen)
{
	size_t l;

	if (end - *p < 2 || ((*p)[0] & 0x1f) == 0x1f)
		return -1;
	*tag = *(*p)++;
	l = *(*p)++;
	if (l & 0x80) {
		unsigned k = (unsigned)(l & 0x7f);
		if (k == 0 || k > 3 || (size_t)(end - *p) < k)
			return -1;
		for (l = 0; k > 0; k--)
			l = (l << 8) | *(*p)++;
	}
	if ((size_t)(end - *p) < l)
		return -1;
	*val = *p;
	*vlen = l;
	*p += l;
	return 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static long long
days_from_civil(long long y, unsigned m, unsigned d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

static int
digits(const unsigned char *s, size_t n, unsigned *out)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ -> time_t. */
static int
der_time(unsigned tag, const unsigned char *s, size_t n, time_t *out)
{
	unsigned y, mo, d, h, mi, se;
	size_t yl = tag == 0x17 ? 2 : 4;

	if ((tag != 0x17 && tag != 0x18) || n != yl + 11 || s[n - 1] != 'Z')
		return -1;
	if (digits(s, yl, &y) || digits(s + yl, 2, &mo) || digits(s + yl + 2, 2, &d) ||
	    digits(s + yl + 4, 2, &h) || digits(s + yl + 6, 2, &mi) || digits(s + yl + 8, 2, &se))
		return -1;
	if (yl == 2)
		y += y < 50 ? 2000 : 1900;      /* RFC 5280 4.1.2.5.1 */
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	*out = (time_t)(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se);
	return 0;
}

/* The leaf's serial (hex into cr) and validity. */
static int
leaf_facts(struct tls_creds *cr, const unsigned char *der, size_t len,
    time_t *not_before)
{
	const unsigned char *p = der, *end = der + len, *v, *tp, *tend, *vp, *vend;
	size_t vl;
	unsigned tag;

	if (der_next(&p, end, &tag, &v, &vl) || tag != 0x30)
		return -1;
	p = v;
	end = v + vl;
	if (der_next(&p, end, &tag, &v, &vl) || tag != 0x30)      /* tbsCertificate */
		return -1;
	tp = v;
	tend = v + vl;
	if (der_next(&tp, tend, &tag, &v, &vl))
		return -1;
	if (tag == 0xa0 && der_next(&tp, tend, &tag, &v, &vl))    /* [0] version */
		return -1;
	if (tag != 0x02 || vl == 0)                                /* serialNumber */
		return -1;
	while (vl > 1 && v[0] == 0) {
		v++;
		vl--;
	}
	if (vl > 20)
		vl = 20;        /* RFC 5280 allows 20 octets */
	for (size_t i = 0; i < vl; i++)
		snprintf(cr->serial + 2 * i, 3, "%02x", v[i]);
	if (der_next(&tp, tend, &tag, &v, &vl) || tag != 0x30)    /* signature */
		return -1;
	if (der_next(&tp, tend, &tag, &v, &vl) || tag != 0x30)    /* issuer */
		return -1;
	if (der_next(&tp, tend, &tag, &v, &vl) || tag != 0x30)    /* validity */
		return -1;
	vp = v;
	vend = v + vl;
	if (der_next(&vp, vend, &tag, &v, &vl) || der_time(tag, v, vl, not_before))
		return -1;
	if (der_next(&vp, vend, &tag, &v, &vl) || der_time(tag, v, vl, &cr->not_after))
		return -1;
	return 0;
}

static void
format_time(time_t t, char *out, size_t cap)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, cap, "?");
}

/* ---- loading ---- */

struct cert_walk {
	struct tls_creds *cr;
	char             *err;
	size_t            errlen;
	const char       *path;
};

static int
take_cert(void *arg, struct pem_obj *o)
{
	struct cert_walk *w = arg;
	struct tls_creds *cr = w->cr;

	if (strcmp(o->name, "CERTIFICATE") != 0 && strcmp(o->name, "X509 CERTIFICATE") != 0)
		return 0;
	if (o->overflow) {
		snprintf(w->err, w->errlen, "%s: certificate %zu is larger than %d bytes",
		    w->path, cr->chain_len + 1, TLS_CERT_DER_MAX);
		return 1;
	}
	if (cr->chain_len == TLS_SERVER_CHAIN_MAX) {
		snprintf(w->err, w->errlen, "%s: more than %d certificates", w->path,
		    TLS_SERVER_CHAIN_MAX);
		return 1;
	}
	unsigned char *d = malloc(o->len ? o->len : 1);
	if (d == NULL) {
		snprintf(w->err, w->errlen, "out of memory");
		return 1;
	}
	memcpy(d, o->der, o->len);
	cr->chain[cr->chain_len].data = d;
	cr->chain[cr->chain_len].data_len = o->len;
	cr->chain_len++;
	return 0;
}

struct key_walk {
	br_skey_decoder_context kd;
	bool                    found;
	bool                    encrypted;
};

static int
take_key(void *arg, struct pem_obj *o)
{
	struct key_walk *w = arg;

	if (strcmp(o->name, "ENCRYPTED PRIVATE KEY") == 0) {
		w->encrypted = true;
		return 1;
	}
	if (strcmp(o->name, "RSA PRIVATE KEY") != 0 && strcmp(o->name, "EC PRIVATE KEY") != 0 &&
	    strcmp(o->name, "PRIVATE KEY") != 0)
		return 0;       /* EC PARAMETERS, certificates: not the key */
	if (o->overflow)
		return 1;
	br_skey_decoder_init(&w->kd);
	br_skey_decoder_push(&w->kd, o->der, o->len);
	w->found = true;
	return 1;
}

static void
no_dn(void *ctx, const void *buf, size_t len)
{
	(void)ctx;
	(void)buf;
	(void)len;
}

/* Copies the decoded key into cr (its own storage); checks it fits. */
static int
copy_key(struct tls_creds *cr, const br_skey_decoder_context *kd, char *err, size_t errlen,
    const char *path)
{
	size_t at = 0;

#define KEEP(field, len) do {                                           \
		if ((len) > sizeof cr->key - at)                        \
			goto too_big;                                   \
		memcpy(cr->key + at, (field), (len));                   \
		(field) = cr->key + at;                                 \
		at += (len);                                            \
	} while (0)

	cr->key_type = br_skey_decoder_key_type(kd);
	if (cr->key_type == BR_KEYTYPE_RSA) {
		cr->rsa = *br_skey_decoder_get_rsa(kd);
		if (cr->rsa.n_bitlen > TLS_RSA_BITS_MAX || cr->rsa.n_bitlen < TLS_RSA_BITS_MIN) {
			snprintf(err, errlen, "%s: an RSA key of %u bits (%d to %d supported)",
			    path, (unsigned)cr->rsa.n_bitlen, TLS_RSA_BITS_MIN, TLS_RSA_BITS_MAX);
			return -1;
		}
		cr->bits = cr->rsa.n_bitlen;
		KEEP(cr->rsa.p, cr->rsa.plen);
		KEEP(cr->rsa.q, cr->rsa.qlen);
		KEEP(cr->rsa.dp, cr->rsa.dplen);
		KEEP(cr->rsa.dq, cr->rsa.dqlen);
		KEEP(cr->rsa.iq, cr->rsa.iqlen);
		return 0;
	}
	cr->ec = *br_skey_decoder_get_ec(kd);
	if (cr->ec.curve != BR_EC_secp256r1 && cr->ec.curve != BR_EC_secp384r1 &&
	    cr->ec.curve != BR_EC_secp521r1) {
		snprintf(err, errlen, "%s: an EC key on an unsupported curve (P-256, P-384 "
		    "or P-521 are)", path);
		return -1;
	}
	KEEP(cr->ec.x, cr->ec.xlen);
	return 0;
too_big:
	snprintf(err, errlen, "%s: the key is too large", path);
	return -1;
#undef KEEP
}

/* The leaf's public key is the private key's? */
static bool
key_matches(const struct tls_creds *cr, const br_x509_pkey *pk)
{
	if (pk->key_type != cr->key_type)
		return false;
	if (cr->key_type == BR_KEYTYPE_RSA) {
		/* A signature by the private key that the certificate's key
		 * verifies: its modulus and exponent both.  (Not the modulus
		 * compared first: Debian's BearSSL 0.6 br_rsa_i31_compute_modulus
		 * gives 0 for a 4096-bit key.) */
		static const unsigned char probe[32] = "mte-relay key and certificate";
		unsigned char sig[TLS_RSA_BITS_MAX / 8], back[32];
		const unsigned char *pn = pk->key.rsa.n;
		size_t pnlen = pk->key.rsa.nlen, nlen = (cr->rsa.n_bitlen + 7) / 8;

		while (pnlen > 0 && *pn == 0) {
			pn++;
			pnlen--;
		}
		if (nlen == 0 || nlen > sizeof sig || pnlen != nlen)
			return false;
		if (!br_rsa_pkcs1_sign_get_default()(BR_HASH_OID_SHA256, probe, sizeof probe,
		    &cr->rsa, sig))
			return false;
		return br_rsa_pkcs1_vrfy_get_default()(sig, nlen, BR_HASH_OID_SHA256, sizeof back,
		    &pk->key.rsa, back) && memcmp(back, probe, sizeof back) == 0;
	}
	unsigned char q[BR_EC_KBUF_PUB_MAX_SIZE];
	size_t qlen = br_ec_compute_pub(br_ec_get_default(), NULL, q, &cr->ec);
	return qlen != 0 && pk->key.ec.curve == cr->ec.curve && pk->key.ec.qlen == qlen &&
	    memcmp(pk->key.ec.q, q, qlen) == 0;
}

void
tls_creds_free(struct tls_creds *cr)
{
	if (cr == NULL)
		return;
	for (size_t i = 0; i < cr->chain_len; i++)
		free(cr->chain[i].data);
	crypto_wipe(cr, sizeof *cr);
	free(cr);
}

struct tls_creds *
tls_creds_load(const char *cert_path, const char *key_path, time_t now,
    const char **var, char *err, size_t errlen)
{
	struct tls_creds *cr = calloc(1, sizeof *cr);
	struct key_walk *kw = calloc(1, sizeof *kw);
	unsigned char *der = malloc(TLS_CERT_DER_MAX);
	unsigned char *text = NULL;
	struct pem_obj obj;
	struct cert_walk cw;
	br_x509_decoder_context dc;
	const br_x509_pkey *pk;
	time_t not_before;
	size_t len = 0;
	char when[64];
	int r;

	err[0] = '\0';
	*var = "TLS_CERT_FILE";
	if (cr == NULL || kw == NULL || der == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	memset(&obj, 0, sizeof obj);
	obj.der = der;
	obj.cap = TLS_CERT_DER_MAX;

	/* The chain. */
	if ((text = read_file(cert_path, &len, err, errlen)) == NULL)
		goto fail;
	cw = (struct cert_walk){ cr, err, errlen, cert_path };
	r = pem_each(text, len, &obj, take_cert, &cw);
	crypto_wipe(text, len);
	free(text);
	text = NULL;
	if (r < 0)
		snprintf(err, errlen, "%s: malformed PEM", cert_path);
	if (r != 0)
		goto fail;
	if (cr->chain_len == 0) {
		snprintf(err, errlen, "%s holds no PEM CERTIFICATE", cert_path);
		goto fail;
	}
	br_x509_decoder_init(&dc, no_dn, NULL);
	br_x509_decoder_push(&dc, cr->chain[0].data, cr->chain[0].data_len);
	pk = br_x509_decoder_get_pkey(&dc);
	if (pk == NULL || br_x509_decoder_last_error(&dc) != 0 ||
	    leaf_facts(cr, cr->chain[0].data, cr->chain[0].data_len, &not_before) != 0) {
		snprintf(err, errlen, "%s: the first certificate cannot be decoded", cert_path);
		goto fail;
	}
	if (pk->key_type != BR_KEYTYPE_RSA && pk->key_type != BR_KEYTYPE_EC) {
		snprintf(err, errlen, "%s: the certificate's key is neither RSA nor EC", cert_path);
		goto fail;
	}
	cr->issuer_key_type = br_x509_decoder_get_signer_key_type(&dc);
	if (now < not_before) {
		format_time(not_before, when, sizeof when);
		snprintf(err, errlen, "%s: the certificate is not valid before %s", cert_path, when);
		goto fail;
	}
	if (now > cr->not_after) {
		format_time(cr->not_after, when, sizeof when);
		snprintf(err, errlen, "%s: the certificate expired at %s", cert_path, when);
		goto fail;
	}

	/* The key: its own buffer, wiped below. */
	*var = "TLS_KEY_FILE";
	if ((text = read_file(key_path, &len, err, errlen)) == NULL)
		goto fail;
	obj.len = 0;
	r = pem_each(text, len, &obj, take_key, kw);
	crypto_wipe(text, len);
	free(text);
	text = NULL;
	if (r < 0) {
		snprintf(err, errlen, "%s: malformed PEM", key_path);
		goto fail;
	}
	if (kw->encrypted) {
		snprintf(err, errlen, "%s: an encrypted key (the relay reads unencrypted PEM keys)",
		    key_path);
		goto fail;
	}
	if (!kw->found || obj.overflow) {
		snprintf(err, errlen, "%s holds no usable PEM private key (RSA PRIVATE KEY, "
		    "EC PRIVATE KEY or PRIVATE KEY)", key_path);
		goto fail;
	}
	if (br_skey_decoder_last_error(&kw->kd) != 0 || br_skey_decoder_key_type(&kw->kd) == 0) {
		snprintf(err, errlen, "%s: the private key cannot be decoded (RSA or EC only)",
		    key_path);
		goto fail;
	}
	if (copy_key(cr, &kw->kd, err, errlen, key_path) != 0)
		goto fail;
	if (!key_matches(cr, pk)) {
		snprintf(err, errlen, "%s does not belong to the certificate in TLS_CERT_FILE "
		    "%s (their public keys differ)", key_path, cert_path);
		goto fail;
	}
	crypto_wipe(kw, sizeof *kw);
	free(kw);
	crypto_wipe(der, TLS_CERT_DER_MAX);
	free(der);
	crypto_wipe(&dc, sizeof dc);
	return cr;
fail:
	if (kw != NULL)
		crypto_wipe(kw, sizeof *kw);
	free(kw);
	if (der != NULL)
		crypto_wipe(der, TLS_CERT_DER_MAX);
	free(der);
	tls_creds_free(cr);
	return NULL;
}

void
tls_creds_describe(const struct tls_creds *cr, char *kind, char *serial,
    char *not_after, size_t *chain_len)
{
	if (cr->key_type == BR_KEYTYPE_RSA)
		snprintf(kind, 64, "RSA %u", cr->bits);
	else
		snprintf(kind, 64, "EC %s", cr->ec.curve == BR_EC_secp256r1 ? "P-256" :
		    cr->ec.curve == BR_EC_secp384r1 ? "P-384" : "P-521");
	snprintf(serial, 64, "%s", cr->serial);
	format_time(cr->not_after, not_after, 64);
	*chain_len = cr->chain_len;
}

/* ---- the server transport ---- */

struct tls_session {
	br_ssl_server_context   sc;
	const struct tls_creds *cr;
	int                     fd;
	bool                    established;
	bool                    got_bytes;  /* the peer sent something */
	unsigned char           iobuf[BR_SSL_BUFSIZE_BIDI];
};

static struct tls_session session;

static br_ssl_engine_context *
eng(struct tls_session *s)
{
	return &s->sc.eng;
}

static int
srv_start(void *arg, int fd)
{
	struct tls_session *s = arg;
	const struct tls_creds *cr = s->cr;
	unsigned char seed[32];

	if (cr->key_type == BR_KEYTYPE_RSA)
		br_ssl_server_init_full_rsa(&s->sc, cr->chain, cr->chain_len, &cr->rsa);
	else
		br_ssl_server_init_full_ec(&s->sc, cr->chain, cr->chain_len,
		    cr->issuer_key_type, &cr->ec);
	br_ssl_engine_set_versions(eng(s), BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(eng(s), suites, sizeof suites / sizeof suites[0]);
	br_ssl_engine_add_flags(eng(s), BR_OPT_ENFORCE_SERVER_PREFERENCES |
	    BR_OPT_NO_RENEGOTIATION);
	br_ssl_engine_set_buffer(eng(s), s->iobuf, sizeof s->iobuf, 1);
	/* Fresh entropy per connection: forked workers must not share a PRNG. */
	rand_bytes(seed, sizeof seed);
	br_ssl_engine_inject_entropy(eng(s), seed, sizeof seed);
	crypto_wipe(seed, sizeof seed);
	s->fd = fd;
	s->established = false;
	s->got_bytes = false;
	return br_ssl_server_reset(&s->sc) ? 0 : -1;
}

static void
note_state(struct tls_session *s, unsigned st)
{
	if (st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP))
		s->established = true;
}

/* Sends the records the engine has.  0 when none is left, -1 with errno
 * (EAGAIN: wait for POLLOUT). */
static int
push_records(struct tls_session *s)
{
	for (;;) {
		size_t len;
		unsigned char *buf;

		if (!(br_ssl_engine_current_state(eng(s)) & BR_SSL_SENDREC))
			return 0;
		buf = br_ssl_engine_sendrec_buf(eng(s), &len);
		ssize_t n = send(s->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			br_ssl_engine_sendrec_ack(eng(s), (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			errno = EAGAIN;
			return -1;
		}
		return -1;
	}
}

/* Reads records into the engine.  0 after some, -1 with errno (EAGAIN:
 * wait for POLLIN; ECONNRESET: the peer closed). */
static int
pull_records(struct tls_session *s)
{
	size_t len;
	unsigned char *buf = br_ssl_engine_recvrec_buf(eng(s), &len);

	for (;;) {
		ssize_t n = recv(s->fd, buf, len, MSG_DONTWAIT);
		if (n > 0) {
			s->got_bytes = true;
			br_ssl_engine_recvrec_ack(eng(s), (size_t)n);
			return 0;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			errno = EAGAIN;
			return -1;
		}
		if (n == 0)
			errno = ECONNRESET;
		return -1;
	}
}

static ssize_t
srv_recv(void *arg, void *out, size_t cap)
{
	struct tls_session *s = arg;

	for (;;) {
		unsigned st = br_ssl_engine_current_state(eng(s));
		size_t len;

		note_state(s, st);
		if (st & BR_SSL_CLOSED) {
			if (br_ssl_engine_last_error(eng(s)) == BR_ERR_OK)
				return 0;       /* close_notify */
			errno = ECONNRESET;
			return -1;
		}
		if (st & BR_SSL_RECVAPP) {
			unsigned char *buf = br_ssl_engine_recvapp_buf(eng(s), &len);
			if (len > cap)
				len = cap;
			memcpy(out, buf, len);
			br_ssl_engine_recvapp_ack(eng(s), len);
			return (ssize_t)len;
		}
		if (st & BR_SSL_SENDREC) {
			if (push_records(s) != 0)
				return -1;
			continue;
		}
		if (st & BR_SSL_RECVREC) {
			if (pull_records(s) != 0)
				return errno == ECONNRESET ? 0 : -1;
			continue;
		}
		errno = EPROTO;         /* the engine wants nothing it could read */
		return -1;
	}
}

static ssize_t
srv_send(void *arg, const struct iovec *iov, int cnt)
{
	struct tls_session *s = arg;

	for (;;) {
		unsigned st = br_ssl_engine_current_state(eng(s));
		size_t room, done = 0;

		note_state(s, st);
		if (st & BR_SSL_CLOSED) {
			errno = EPIPE;
			return -1;
		}
		if (st & BR_SSL_SENDAPP) {
			unsigned char *buf = br_ssl_engine_sendapp_buf(eng(s), &room);
			for (int i = 0; i < cnt && done < room; i++) {
				size_t n = iov[i].iov_len < room - done ? iov[i].iov_len : room - done;
				if (n > 0)      /* empty pieces may have a NULL base */
					memcpy(buf + done, iov[i].iov_base, n);
				done += n;
			}
			br_ssl_engine_sendapp_ack(eng(s), done);
			br_ssl_engine_flush(eng(s), 0);
			/* Out as far as the socket takes it; the rest at flush. */
			if (push_records(s) != 0 && errno != EAGAIN)
				return -1;
			return (ssize_t)done;
		}
		if (st & BR_SSL_SENDREC) {
			if (push_records(s) != 0)
				return -1;
			continue;
		}
		if (st & BR_SSL_RECVREC) {
			if (pull_records(s) != 0) {
				if (errno == ECONNRESET)
					errno = EPIPE;
				return -1;
			}
			continue;
		}
		errno = EPROTO;
		return -1;
	}
}

static int
srv_flush(void *arg)
{
	struct tls_session *s = arg;
	unsigned st = br_ssl_engine_current_state(eng(s));

	if (st & BR_SSL_CLOSED)
		return 0;
	return push_records(s);
}

static short
srv_events(void *arg, short want)
{
	struct tls_session *s = arg;
	unsigned st = br_ssl_engine_current_state(eng(s));

	/* Records waiting to leave come first, whatever conn waits for. */
	if (st & BR_SSL_SENDREC)
		return POLLOUT;
	if (want == POLLOUT && !(st & BR_SSL_SENDAPP))
		return POLLIN;          /* still in the handshake */
	return want;
}

static int
srv_pending(void *arg)
{
	struct tls_session *s = arg;
	return (br_ssl_engine_current_state(eng(s)) & BR_SSL_RECVAPP) != 0;
}

static void
srv_finish(void *arg)
{
	struct tls_session *s = arg;

	/* Before the handshake there is no session to close politely. */
	if (s->established && !(br_ssl_engine_current_state(eng(s)) & BR_SSL_CLOSED)) {
		br_ssl_engine_close(eng(s));
		(void)push_records(s);  /* close_notify, if the socket takes it */
	}
}

static void
srv_end(void *arg)
{
	struct tls_session *s = arg;
	int e = br_ssl_engine_last_error(eng(s));

	if (!s->established && s->got_bytes) {
		metrics_count_tls_handshake_failure();
		LOG_EVENT(LOG_DEBUG, "tls handshake failed", LOG_I("bearssl_error", e));
	}
	/* The session keys of this connection go with it. */
	crypto_wipe(&s->sc, sizeof s->sc);
	crypto_wipe(s->iobuf, sizeof s->iobuf);
}

static const struct conn_transport server_transport = {
	.start = srv_start,
	.recv = srv_recv,
	.send = srv_send,
	.flush = srv_flush,
	.events = srv_events,
	.pending = srv_pending,
	.finish = srv_finish,
	.end = srv_end,
};

const struct conn_transport *
tls_server_transport(const struct tls_creds *cr, void **arg)
{
	session.cr = cr;
	*arg = &session;
	return &server_transport;
}

/* ---- the health check's client ----
 * It talks to its own port on the loopback: the certificate is the one the
 * relay checked when it loaded it, and a name or trust check would need a
 * CA the operator may not have locally (a public CA's chain) and would
 * fail for no fault of the relay.  So the chain is parsed (BearSSL needs
 * the server key) but not anchored: the minimal validator's "not trusted"
 * verdict is accepted, every other verdict (expired, malformed) is not. */

struct probe_x509 {
	const br_x509_class    *vtable;
	br_x509_minimal_context inner;
};

static br_x509_minimal_context *
inner_of(const br_x509_class **ctx)
{
	return &((struct probe_x509 *)(void *)ctx)->inner;
}

static void
px_start_chain(const br_x509_class **ctx, const char *server_name)
{
	br_x509_minimal_context *m = inner_of(ctx);
	m->vtable->start_chain(&m->vtable, server_name);
}

static void
px_start_cert(const br_x509_class **ctx, uint32_t length)
{
	br_x509_minimal_context *m = inner_of(ctx);
	m->vtable->start_cert(&m->vtable, length);
}

static void
px_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	br_x509_minimal_context *m = inner_of(ctx);
	m->vtable->append(&m->vtable, buf, len);
}

static void
px_end_cert(const br_x509_class **ctx)
{
	br_x509_minimal_context *m = inner_of(ctx);
	m->vtable->end_cert(&m->vtable);
}

static unsigned
px_end_chain(const br_x509_class **ctx)
{
	br_x509_minimal_context *m = inner_of(ctx);
	unsigned r = m->vtable->end_chain(&m->vtable);
	return r == BR_ERR_X509_NOT_TRUSTED ? 0 : r;
}

static const br_x509_pkey *
px_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	const br_x509_minimal_context *m =
	    &((const struct probe_x509 *)(const void *)ctx)->inner;
	return m->vtable->get_pkey(&m->vtable, usages);
}

static const br_x509_class probe_x509_class = {
	sizeof(struct probe_x509),
	px_start_chain, px_start_cert, px_append, px_end_cert, px_end_chain, px_get_pkey,
};

struct probe_io {
	int       fd;
	long long deadline;
};

static int
probe_wait(const struct probe_io *p, short events)
{
	for (;;) {
		struct pollfd pfd = { .fd = p->fd, .events = events };
		long long left = p->deadline - clock_ms();
		if (left <= 0)
			return -1;
		int n = poll(&pfd, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

static int
probe_read(void *ctx, unsigned char *buf, size_t len)
{
	struct probe_io *p = ctx;
	for (;;) {
		ssize_t n = recv(p->fd, buf, len, MSG_DONTWAIT);
		if (n > 0)
			return (int)n;
		if (n == 0 || (errno != EAGAIN && errno != EINTR) || probe_wait(p, POLLIN) != 0)
			return -1;
	}
}

static int
probe_write(void *ctx, const unsigned char *buf, size_t len)
{
	struct probe_io *p = ctx;
	for (;;) {
		ssize_t n = send(p->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0)
			return (int)n;
		if (n == 0 || (errno != EAGAIN && errno != EINTR) || probe_wait(p, POLLOUT) != 0)
			return -1;
	}
}

long
tls_probe(int fd, const char *req, size_t reqlen, char *out, size_t cap, size_t need,
    long long deadline_ms, const char **why)
{
	struct probe {
		br_ssl_client_context cc;
		struct probe_x509     xc;
		br_sslio_context      io;
		unsigned char         iobuf[BR_SSL_BUFSIZE_BIDI];
	} *p = calloc(1, sizeof *p);
	struct probe_io pio = { fd, deadline_ms };
	unsigned char seed[32];
	size_t got = 0;
	long rc = -1;

	if (p == NULL) {
		*why = "out of memory";
		return -1;
	}
	br_ssl_client_init_full(&p->cc, &p->xc.inner, NULL, 0);
	p->xc.vtable = &probe_x509_class;
	br_ssl_engine_set_x509(&p->cc.eng, &p->xc.vtable);
	br_ssl_engine_set_versions(&p->cc.eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(&p->cc.eng, suites, sizeof suites / sizeof suites[0]);
	br_ssl_engine_set_buffer(&p->cc.eng, p->iobuf, sizeof p->iobuf, 1);
	rand_bytes(seed, sizeof seed);
	br_ssl_engine_inject_entropy(&p->cc.eng, seed, sizeof seed);
	crypto_wipe(seed, sizeof seed);
	if (!br_ssl_client_reset(&p->cc, NULL, 0)) {
		*why = "TLS set-up failed";
		goto out;
	}
	br_sslio_init(&p->io, &p->cc.eng, probe_read, &pio, probe_write, &pio);
	if (br_sslio_write_all(&p->io, req, reqlen) != 0 || br_sslio_flush(&p->io) != 0) {
		int e = br_ssl_engine_last_error(&p->cc.eng);
		*why = e == BR_ERR_X509_EXPIRED ? "TLS: the certificate expired or is not yet valid" :
		    e != BR_ERR_OK && e != BR_ERR_IO ? "TLS handshake failed" :
		    clock_ms() >= deadline_ms ? "timed out" : "TLS: connection closed";
		goto out;
	}
	while (got < need && got < cap) {
		int n = br_sslio_read(&p->io, out + got, cap - got);
		if (n < 0)
			break;
		got += (size_t)n;
	}
	if (got == 0)
		*why = clock_ms() >= deadline_ms ? "no answer in time" :
		    "connection closed before a status line";
	else
		rc = (long)got;
out:
	crypto_wipe(p, sizeof *p);
	free(p);
	return rc;
}
