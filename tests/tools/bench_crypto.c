/*
 * bench_crypto.c - crypto throughput on one core; run by tests/bench/bench-crypto.sh.
 *
 * Prints one figure per line, "name value unit", for the script to compare
 * with `openssl speed`.  MB is 10^6 bytes (as OpenSSL's "k" is 10^3 bytes).
 * Rates are per second of CPU time of this single thread (see now()).
 * A benchmark: it prints figures and asserts nothing about timing.
 *
 * usage: bench_crypto [seconds per figure, default 0.5]
 *        bench_crypto seal BYTES [seconds]   one figure: sealing chunks of
 *                                            BYTES (1..65536), for the script
 *                                            to interleave with openssl speed
 *        bench_crypto kem [seconds]          the X-Wing, ML-KEM and X25519
 *                                            figures only, for the script to
 *                                            repeat and keep the best of
 */
#include <bearssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "answer.h"
#include "crypto/kdf.h"
#include "crypto/mlkem.h"
#include "crypto/rand.h"
#include "crypto/seal.h"
#include "crypto/x25519.h"
#include "crypto/xwing.h"

static double seconds_per_figure = 0.5;
static volatile uint8_t sink_byte;      /* keeps results observable */

/* CPU time of this process, not wall time: like `openssl speed` (which
 * divides by user CPU time unless given -elapsed), so that other work on a
 * shared machine does not count against either figure. */
static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Runs op(arg) in batches until the time is up; returns operations per second. */
static double
run(void (*op)(void *), void *arg, unsigned batch)
{
	double t0, t;
	unsigned long n = 0;

	for (unsigned i = 0; i < batch; i++)    /* warm-up */
		op(arg);
	t0 = now();
	do {
		for (unsigned i = 0; i < batch; i++)
			op(arg);
		n += batch;
		t = now() - t0;
	} while (t < seconds_per_figure);
	return (double)n / t;
}

static void
print_ops(const char *name, double ops)
{
	printf("%-24s %12.0f ops/s\n", name, ops);
	fflush(stdout);
}

static void
print_mbs(const char *name, double ops, size_t bytes)
{
	printf("%-24s %12.1f MB/s\n", name, ops * (double)bytes / 1e6);
	fflush(stdout);
}

/* ---- X-Wing ---- */

struct xw {
	uint8_t seed[XWING_SEED_LEN], eseed[XWING_ESEED_LEN];
	uint8_t pk[XWING_PK_LEN], ct[XWING_CT_LEN], ss[XWING_SS_LEN];
};

static void
op_keygen(void *a)
{
	struct xw *x = a;

	xwing_keygen(x->pk, x->seed);
	x->seed[0] ^= x->pk[0];
}

static void
op_encaps(void *a)
{
	struct xw *x = a;

	if (xwing_encaps(x->ct, x->ss, x->pk, sizeof x->pk, x->eseed) != 0)
		abort();
	x->eseed[0] ^= x->ss[0];
}

static void
op_decaps(void *a)
{
	struct xw *x = a;

	if (xwing_decaps(x->ss, x->ct, sizeof x->ct, x->seed) != 0)
		abort();
	sink_byte ^= x->ss[0];
}

/* ML-KEM-768 alone: the other half of an X-Wing encapsulation. */
static void
op_mlkem_encaps(void *a)
{
	struct xw *x = a;

	if (mlkem768_encaps_internal(x->ct, x->ss, x->pk, MLKEM768_EK_LEN, x->eseed) != 0)
		abort();
	x->eseed[0] ^= x->ss[0];
}

/* ---- X25519: ours (ladder, fixed base) and BearSSL's m31 in the same run ---- */

struct xd {
	uint8_t k[32], u[32], out[32];
};

static void
op_x25519_ladder(void *a)
{
	struct xd *d = a;

	(void)x25519(d->out, d->k, d->u);
	d->k[0] ^= d->out[0];
}

static void
op_x25519_base(void *a)
{
	struct xd *d = a;

	(void)x25519_base(d->out, d->k);
	d->k[0] ^= d->out[0];
}

static void
op_x25519_pair(void *a)
{
	struct xd *d = a;

	(void)x25519_pub_and_shared(d->out, d->u, d->k, d->u);
	d->k[0] ^= d->out[0];
}

static void
op_x25519_bearssl(void *a)
{
	struct xd *d = a;

	memcpy(d->out, d->u, 32);
	if (br_ec_c25519_m31.mul(d->out, 32, d->k, 32, BR_EC_curve25519) != 1)
		abort();
	d->k[0] ^= d->out[0];
}

/* One pairing entry on the relay, without and with a pinned relay key
 * (PROTOCOL.md section 12: one more decapsulation and two HMACs). */
struct pe {
	struct xw x;
	uint8_t relay_seed[XWING_SEED_LEN], relay_ct[XWING_CT_LEN];
	uint8_t k_req[32], k_res[32];
};

static void
op_pair_entry(void *a)
{
	struct pe *p = a;
	static const char cid[] = "0123456789abcdef0123456789abcdef";
	static const char pid[] = "pairId_0123456789-AB";

	if (xwing_encaps(p->x.ct, p->x.ss, p->x.pk, sizeof p->x.pk, p->x.eseed) != 0 ||
	    kdf_pair_keys(p->k_req, p->k_res, p->x.ss, p->x.eseed, cid, sizeof cid - 1, pid,
	    sizeof pid - 1, "", 0) != 0)
		abort();
	p->x.eseed[0] ^= p->k_req[0];
}

static void
hmac32(uint8_t out[32], const uint8_t *key, size_t key_len, const void *msg, size_t len)
{
	br_hmac_key_context kc;
	br_hmac_context hc;

	br_hmac_key_init(&kc, &br_sha256_vtable, key, key_len);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, msg, len);
	br_hmac_out(&hc, out);
}

static void
op_pair_entry_pinned(void *a)
{
	struct pe *p = a;
	uint8_t ss_s[32], mac[32];

	if (xwing_decaps(ss_s, p->relay_ct, sizeof p->relay_ct, p->relay_seed) != 0)
		abort();
	hmac32(p->x.ss, ss_s, sizeof ss_s, p->x.ss, sizeof p->x.ss);
	op_pair_entry(a);
	hmac32(mac, p->k_res, sizeof p->k_res, "mte-relay/1 confirm x y", 23);
	sink_byte ^= mac[0];
}

/* The tag of a clear refusal (PROTOCOL.md section 11), without and with a
 * rotation's previous secret. */
static void
op_answer_tag(void *a)
{
	char out[ANSWER_HEADER_MAX];

	if (answer_header(out, "bench-secret-0123456789abcdef01234567", a, "0123456789abcdef0123456789abcdef",
	    "pairId_0123456789-AB", "42", "POST", 560) != 0)
		abort();
	sink_byte ^= (uint8_t)out[0];
}

/* ---- key schedule ---- */

struct ks {
	uint8_t ss[32], nonce[32], k_req[32], k_res[32], mk[32];
	uint64_t seq;
};

static void
op_pair_keys(void *a)
{
	struct ks *k = a;
	static const char cid[] = "0123456789abcdef0123456789abcdef";
	static const char pid[] = "pairId_0123456789-AB";
	static const char pers[] = "personalization string of a few dozen characters";

	if (kdf_pair_keys(k->k_req, k->k_res, k->ss, k->nonce, cid, sizeof cid - 1, pid,
	                  sizeof pid - 1, pers, sizeof pers - 1) != 0)
		abort();
	k->ss[0] ^= k->k_req[0];
}

static void
op_message_key(void *a)
{
	struct ks *k = a;

	kdf_message_key(k->mk, k->k_req, KDF_REQ, ++k->seq);
	sink_byte ^= k->mk[0];
}

/* ---- sealing ---- */

static const char bench_aad[] =
	"mte-relay/1 req 0123456789abcdef0123456789abcdef pairId_0123456789-AB 42 ub POST ";

struct sl {
	struct seal_key key;
	uint8_t mk[32];
	uint8_t *buf;
	size_t len;
	int final;
	uint8_t tag[16];
	uint64_t index;
};

static void
op_chunk_seal(void *a)
{
	struct sl *s = a;

	if (seal_chunk_seal(&s->key, SEAL_ITEM_BODY, s->final, s->index, bench_aad,
	                    sizeof bench_aad - 1, s->buf, s->len, s->tag) != 0)
		abort();
}

static void
op_chunk_open(void *a)
{
	struct sl *s = a;

	if (seal_chunk_open(&s->key, SEAL_ITEM_BODY, s->final, s->index, bench_aad,
	                    sizeof bench_aad - 1, s->buf, s->len, s->tag) != 0)
		abort();
}

/* Seal-then-open round trip: the open needs an authentic chunk each time. */
static void
op_chunk_seal_open(void *a)
{
	op_chunk_seal(a);
	op_chunk_open(a);
}

static void
op_meta_seal(void *a)
{
	struct sl *s = a;
	static uint8_t out[1024 + 16];

	if (seal_meta_seal(out, sizeof out, s->mk, bench_aad, sizeof bench_aad - 1, s->buf, 1024) < 0)
		abort();
	sink_byte ^= out[0];
}

static int
discard(void *arg, const uint8_t *data, size_t len)
{
	(void)arg;
	sink_byte ^= data[len - 1];
	return 0;
}

#define STREAM_LEN (16u << 20)

struct st {
	uint8_t mk[32];
	uint8_t *pt, *wire;
	size_t wire_len;
	struct seal_writer w;
	struct seal_reader r;
};

static int
to_wire(void *arg, const uint8_t *data, size_t len)
{
	struct st *s = arg;

	memcpy(s->wire + s->wire_len, data, len);
	s->wire_len += len;
	return 0;
}

static void
op_stream_seal(void *a)
{
	struct st *s = a;

	/* 16 KiB writes, as from a socket */
	seal_writer_init(&s->w, s->mk, bench_aad, sizeof bench_aad - 1);
	for (size_t off = 0; off < STREAM_LEN; off += 16384)
		if (seal_writer_feed(&s->w, s->pt + off, 16384, discard, NULL) != SEAL_OK)
			abort();
	if (seal_writer_finish(&s->w, discard, NULL) != SEAL_OK)
		abort();
}

static void
op_stream_open(void *a)
{
	struct st *s = a;

	seal_reader_init(&s->r, s->mk, bench_aad, sizeof bench_aad - 1);
	for (size_t off = 0; off < s->wire_len; off += 16384) {
		size_t n = s->wire_len - off < 16384 ? s->wire_len - off : 16384;
		if (seal_reader_feed(&s->r, s->wire + off, n, discard, NULL) != SEAL_OK)
			abort();
	}
	if (seal_reader_finish(&s->r, discard, NULL) != SEAL_OK)
		abort();
}

static void
bench_chunks(const char *label, double seconds)
{
	static uint8_t buf[SEAL_CHUNK_MAX];
	struct sl *s = calloc(1, sizeof *s);
	char name[64];
	double save = seconds_per_figure;

	if (s == NULL)
		abort();
	seconds_per_figure = seconds;
	rand_bytes(s->mk, sizeof s->mk);
	rand_bytes(buf, sizeof buf);
	seal_key_init(&s->key, s->mk);
	s->buf = buf;

	for (int big = 0; big <= 1; big++) {
		double seal_ops, pair_ops;
		s->len = big ? SEAL_CHUNK_MAX : 1024;
		s->final = !big;        /* a 64 KiB chunk is a non-final one */
		seal_ops = run(op_chunk_seal, s, big ? 8 : 256);
		snprintf(name, sizeof name, "seal_%s%s", big ? "64k" : "1k", label);
		print_mbs(name, seal_ops, s->len);
		/* An open needs an authentic chunk: time seal+open pairs and
		 * subtract the seal time. */
		pair_ops = run(op_chunk_seal_open, s, big ? 8 : 256);
		snprintf(name, sizeof name, "open_%s%s", big ? "64k" : "1k", label);
		print_mbs(name, 1.0 / (1.0 / pair_ops - 1.0 / seal_ops), s->len);
	}
	seal_key_wipe(&s->key);
	free(s);
	seconds_per_figure = save;
}

/* One sealing figure for chunks of len bytes (non-final when 64 KiB). */
static int
seal_only(size_t len)
{
	static uint8_t buf[SEAL_CHUNK_MAX];
	struct sl *s = calloc(1, sizeof *s);

	if (s == NULL || len == 0 || len > SEAL_CHUNK_MAX)
		return 2;
	rand_bytes(s->mk, sizeof s->mk);
	rand_bytes(buf, sizeof buf);
	seal_key_init(&s->key, s->mk);
	s->buf = buf;
	s->len = len;
	s->final = len < SEAL_CHUNK_MAX;
	printf("seal_%zu %.1f MB/s\n", len,
	       run(op_chunk_seal, s, len >= 16384 ? 8 : 256) * (double)len / 1e6);
	seal_key_wipe(&s->key);
	free(s);
	return 0;
}

/* The KEM figures: X-Wing, ML-KEM alone, X25519 ours and BearSSL's. */
static int
bench_kem(int with_keygen)
{
	struct xw *x = calloc(1, sizeof *x);
	struct xd xd;

	if (x == NULL)
		return 1;
	rand_bytes(x->seed, sizeof x->seed);
	rand_bytes(x->eseed, sizeof x->eseed);
	if (with_keygen)
		print_ops("xwing_keygen", run(op_keygen, x, 16));
	xwing_keygen(x->pk, x->seed);
	print_ops("xwing_encaps", run(op_encaps, x, 16));
	if (xwing_encaps(x->ct, x->ss, x->pk, sizeof x->pk, x->eseed) != 0)
		return 1;
	print_ops("xwing_decaps", run(op_decaps, x, 16));
	print_ops("mlkem768_encaps", run(op_mlkem_encaps, x, 16));
	free(x);

	rand_bytes(xd.k, sizeof xd.k);
	rand_bytes(xd.u, sizeof xd.u);
	print_ops("x25519_ladder", run(op_x25519_ladder, &xd, 16));
	print_ops("x25519_base", run(op_x25519_base, &xd, 16));
	print_ops("x25519_pub_and_shared", run(op_x25519_pair, &xd, 16));
	print_ops("x25519_bearssl_m31", run(op_x25519_bearssl, &xd, 16));
	return 0;
}

static int
usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [seconds per figure]\n"
	                "       %s seal BYTES [seconds]\n"
	                "       %s kem [seconds]\n", argv0, argv0, argv0);
	return 2;
}

static int
parse_seconds(const char *arg)
{
	seconds_per_figure = atof(arg);
	return seconds_per_figure > 0.0 && seconds_per_figure < 60.0;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "seal") == 0) {
		if (argc < 3 || argc > 4 || (argc == 4 && !parse_seconds(argv[3])))
			return usage(argv[0]);
		return seal_only((size_t)strtoul(argv[2], NULL, 10));
	}
	if (argc > 1 && strcmp(argv[1], "kem") == 0) {
		if (argc > 3 || (argc == 3 && !parse_seconds(argv[2])))
			return usage(argv[0]);
		return bench_kem(0);
	}
	if (argc > 2 || (argc == 2 && !parse_seconds(argv[1])))
		return usage(argv[0]);
	printf("%-24s %s\n", "seal_impl", seal_impl_name());

	if (bench_kem(1) != 0)
		return 1;

	struct pe *pe = calloc(1, sizeof *pe);
	if (pe == NULL)
		return 1;
	rand_bytes(pe->x.seed, sizeof pe->x.seed);
	rand_bytes(pe->x.eseed, sizeof pe->x.eseed);
	xwing_keygen(pe->x.pk, pe->x.seed);
	rand_bytes(pe->relay_seed, sizeof pe->relay_seed);
	memcpy(pe->relay_ct, pe->x.ct, sizeof pe->relay_ct);
	print_ops("pair_entry", run(op_pair_entry, pe, 16));
	print_ops("pair_entry_pinned", run(op_pair_entry_pinned, pe, 16));
	free(pe);
	print_ops("answer_tag", run(op_answer_tag, NULL, 1024));
	print_ops("answer_tag_rotation", run(op_answer_tag, "bench-previous-0123456789abcdef0123456", 1024));

	struct ks k;
	memset(&k, 0, sizeof k);
	rand_bytes(k.ss, sizeof k.ss);
	rand_bytes(k.nonce, sizeof k.nonce);
	print_ops("kdf_pair_keys", run(op_pair_keys, &k, 256));
	print_ops("kdf_message_key", run(op_message_key, &k, 1024));

	bench_chunks("", seconds_per_figure);

	struct sl *m = calloc(1, sizeof *m);
	static uint8_t meta_pt[1024];
	if (m == NULL)
		return 1;
	rand_bytes(m->mk, sizeof m->mk);
	m->buf = meta_pt;
	print_ops("meta_seal_1k", run(op_meta_seal, m, 256));
	free(m);

	struct st *s = calloc(1, sizeof *s);
	if (s == NULL)
		return 1;
	uint64_t wl;
	s->pt = malloc(STREAM_LEN);
	if (seal_wire_len(STREAM_LEN, &wl) != 0 || (s->wire = malloc((size_t)wl)) == NULL || s->pt == NULL)
		return 1;
	rand_bytes(s->mk, sizeof s->mk);
	rand_bytes(s->pt, STREAM_LEN);
	print_mbs("stream_seal_16m", run(op_stream_seal, s, 1), STREAM_LEN);
	seal_writer_init(&s->w, s->mk, bench_aad, sizeof bench_aad - 1);
	seal_writer_feed(&s->w, s->pt, STREAM_LEN, to_wire, s);
	seal_writer_finish(&s->w, to_wire, s);
	print_mbs("stream_open_16m", run(op_stream_open, s, 1), STREAM_LEN);
	free(s->pt);
	free(s->wire);
	free(s);

	/* The portable fallback, for reference (short: it is slow). */
	seal_force_portable(1);
	printf("%-24s %s\n", "seal_impl_portable", seal_impl_name());
	bench_chunks("_portable", seconds_per_figure / 2);
	return 0;
}
