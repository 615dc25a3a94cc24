/* test_seal.c - the sealing layer: AES-256-GCM vectors through both
 * implementations, the protocol nonce layout against Node-computed answers,
 * streaming round trips, and every tamper class rejected. */
#include <criterion/criterion.h>

#include <bearssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/seal.h"
#include "limits.h"
#include "vectors.h"

/* ---- helpers ---- */

/* A sink that appends to a caller-sized buffer and records call sizes. */
struct collect {
	uint8_t *buf;
	size_t   cap, len;
	size_t   calls;
	size_t   sizes[512];    /* size of each call (the first 512) */
	size_t   fail_at;       /* refuse this call (1-based); 0 never */
};

static int
collect_sink(void *arg, const uint8_t *data, size_t len)
{
	struct collect *c = arg;

	c->calls++;
	if (c->fail_at != 0 && c->calls == c->fail_at)
		return 1;
	cr_assert(len > 0, "sink called with no data");
	cr_assert_leq(c->len + len, c->cap, "sink overflow");
	memcpy(c->buf + c->len, data, len);
	if (c->calls <= 512)
		c->sizes[c->calls - 1] = len;
	c->len += len;
	return 0;
}

static struct collect *
collect_new(size_t cap)
{
	struct collect *c = calloc(1, sizeof *c);

	cr_assert_not_null(c);
	c->buf = malloc(cap ? cap : 1);
	cr_assert_not_null(c->buf);
	c->cap = cap;
	return c;
}

static void
collect_free(struct collect *c)
{
	free(c->buf);
	free(c);
}

static void
fill_pattern(uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

static const uint8_t test_mk[32] = {
	0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f,
	0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f,
};
static const char test_aad[] =
	"mte-relay/1 req 0123456789abcdef0123456789abcdef pairId_0123456789-AB 1 ub POST ";
#define TEST_AAD_LEN (sizeof test_aad - 1)

/* Piece sizes for feeding: odd, some tiny, some larger than a chunk. */
static const size_t pieces[] = { 1, 7, 4093, 65537, 13, 100003, 65535, 2, 65552, 31 };
#define NPIECES (sizeof pieces / sizeof pieces[0])

/* Seals pt[0..len) with a writer fed in odd pieces starting at piece p0.
 * Returns a collector with the wire. */
static struct collect *
seal_body(const uint8_t mk[32], const void *aad, size_t aad_len, const uint8_t *pt,
          size_t len, size_t p0)
{
	uint64_t wl;
	struct seal_writer *w = malloc(sizeof *w);
	struct collect *c;
	size_t off = 0, k = p0;

	cr_assert_not_null(w);
	cr_assert_eq(seal_wire_len(len, &wl), 0);
	c = collect_new((size_t)wl);
	cr_assert_eq(seal_writer_init(w, mk, aad, aad_len), SEAL_OK);
	while (off < len) {
		size_t n = pieces[k++ % NPIECES];
		if (n > len - off)
			n = len - off;
		cr_assert_eq(seal_writer_feed(w, pt + off, n, collect_sink, c), SEAL_OK);
		off += n;
	}
	cr_assert_eq(seal_writer_feed(w, pt, 0, collect_sink, c), SEAL_OK);
	cr_assert_eq(seal_writer_finish(w, collect_sink, c), SEAL_OK);
	cr_assert_eq(c->len, (size_t)wl, "wire length %zu, formula %llu", c->len,
	             (unsigned long long)wl);
	seal_writer_wipe(w);
	free(w);
	return c;
}

/* Opens wire[0..len) with a reader fed in odd pieces; returns the status of
 * the first failing call (or of finish) and the plaintext emitted so far. */
static int
open_body(const uint8_t mk[32], const void *aad, size_t aad_len, const uint8_t *wire,
          size_t len, size_t p0, struct collect *out)
{
	struct seal_reader *r = malloc(sizeof *r);
	size_t off = 0, k = p0;
	int rc;

	cr_assert_not_null(r);
	cr_assert_eq(seal_reader_init(r, mk, aad, aad_len), SEAL_OK);
	while (off < len) {
		size_t n = pieces[k++ % NPIECES];
		if (n > len - off)
			n = len - off;
		rc = seal_reader_feed(r, wire + off, n, collect_sink, out);
		if (rc != SEAL_OK)
			goto done;
		off += n;
	}
	rc = seal_reader_finish(r, collect_sink, out);
done:
	if (rc != SEAL_OK) {
		/* A failed reader stays failed and emits nothing more. */
		size_t calls = out->calls;
		cr_assert_eq(seal_reader_feed(r, wire, len < 100 ? len : 100, collect_sink, out), rc);
		cr_assert_eq(seal_reader_finish(r, collect_sink, out), rc);
		cr_assert_eq(out->calls, calls);
	}
	seal_reader_wipe(r);
	free(r);
	return rc;
}

static void
assert_hex(const uint8_t *got, size_t len, const char *want_hex, const char *what)
{
	size_t n;
	uint8_t *want = hex_decode(want_hex, &n);

	cr_assert_eq(n, len, "%s: length %zu, expected %zu", what, len, n);
	cr_assert(memcmp(got, want, len) == 0, "%s: mismatch", what);
	free(want);
}

/* ---- AES-256-GCM vectors ---- */

static void
run_gcm_vectors(const char *label)
{
	cJSON *root = vec_load("aes256gcm.json");
	const cJSON *t;
	int valid = 0, invalid = 0, skipped = 0, total = 0;
	struct seal_key key;

	cJSON_ArrayForEach(t, vec_tests(root)) {
		size_t iv_len, aad_len, ct_len, pt_len = 0;
		uint8_t *k = vec_hex_n(t, "key", 32);
		uint8_t *iv = vec_hex(t, "iv", &iv_len);
		uint8_t *aad = vec_hex(t, "aad", &aad_len);
		uint8_t *ct = vec_hex(t, "ct", &ct_len);
		uint8_t *tag = vec_hex_n(t, "tag", 16);
		uint8_t *pt = vec_has(t, "pt") ? vec_hex(t, "pt", &pt_len) : NULL;
		const char *src = vec_str(t, "src");
		int ok = strcmp(vec_str(t, "result"), "valid") == 0;
		uint8_t *buf = malloc(ct_len + 1), got_tag[16];

		total++;
		cr_assert_not_null(buf);
		if (iv_len != SEAL_NONCE_LEN) {
			/* GCM spec cases 17 and 18 (64- and 480-bit IVs): the protocol
			 * only ever uses 96-bit nonces. */
			cr_assert(ok);
			skipped++;
			goto next;
		}
		seal_key_init(&key, k);
		if (ok) {
			cr_assert_not_null(pt);
			cr_assert_eq(pt_len, ct_len);
			memcpy(buf, pt, pt_len);
			cr_assert_eq(seal_gcm_encrypt(&key, iv, aad, aad_len, buf, pt_len, got_tag), 0);
			cr_assert(memcmp(buf, ct, ct_len) == 0, "%s: ct", src);
			cr_assert(memcmp(got_tag, tag, 16) == 0, "%s: tag", src);
			cr_assert_eq(seal_gcm_decrypt(&key, iv, aad, aad_len, buf, ct_len, tag), 0,
			             "%s: decrypt", src);
			cr_assert(memcmp(buf, pt, pt_len) == 0, "%s: pt", src);
			valid++;
		} else {
			memcpy(buf, ct, ct_len);
			cr_assert_eq(seal_gcm_decrypt(&key, iv, aad, aad_len, buf, ct_len, tag), -1,
			             "%s: accepted a must-fail case", src);
			for (size_t i = 0; i < ct_len; i++)
				cr_assert_eq(buf[i], 0, "%s: unauthenticated plaintext left", src);
			invalid++;
		}
		seal_key_wipe(&key);
next:
		free(buf);
		free(k);
		free(iv);
		free(aad);
		free(ct);
		free(tag);
		free(pt);
	}
	printf("aes256gcm.json [%s]: %d cases: %d valid (encrypt+decrypt), %d invalid rejected, "
	       "%d skipped (non-96-bit IV)\n", label, total, valid, invalid, skipped);
	cr_assert_eq(total, vec_count(root));
	cr_assert_eq(total, 61);
	cr_assert_eq(valid, 26);
	cr_assert_eq(invalid, 33);
	cr_assert_eq(skipped, 2);
	cJSON_Delete(root);
}

Test(seal, gcm_vectors_fast)
{
	const char *name = seal_impl_name();

	run_gcm_vectors(name);
	/* The run-time choice takes the fast code whenever BearSSL offers it. */
	cr_assert_str_eq(name, br_aes_x86ni_ctr_get_vtable() != NULL
	                       ? (br_ghash_pclmul_get() ? "aes_x86ni+ghash_pclmul" : "aes_x86ni+ghash_ctmul64")
	                       : (br_ghash_pclmul_get() ? "aes_ct64+ghash_pclmul" : "aes_ct64+ghash_ctmul64"));
}

Test(seal, gcm_vectors_portable)
{
	seal_force_portable(1);
	cr_assert_str_eq(seal_impl_name(), "aes_ct64+ghash_ctmul64");
	run_gcm_vectors("portable");
}

Test(seal, implementations_agree)
{
	/* Same key, nonce, aad, random data of assorted lengths: both
	 * implementations produce identical ciphertext and tags. */
	static uint8_t a[70000], b[70000];
	uint8_t iv[12] = { 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9 }, ta[16], tb[16];
	struct seal_key ka, kb;
	static const size_t lens[] = { 0, 1, 15, 16, 17, 63, 64, 65, 1000, 65535, 65536, 70000 };

	seal_key_init(&ka, test_mk);
	seal_force_portable(1);
	seal_key_init(&kb, test_mk);
	seal_force_portable(0);
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		fill_pattern(a, lens[i], (uint32_t)i);
		memcpy(b, a, lens[i]);
		cr_assert_eq(seal_gcm_encrypt(&ka, iv, test_aad, TEST_AAD_LEN, a, lens[i], ta), 0);
		cr_assert_eq(seal_gcm_encrypt(&kb, iv, test_aad, TEST_AAD_LEN, b, lens[i], tb), 0);
		cr_assert(memcmp(a, b, lens[i]) == 0 && memcmp(ta, tb, 16) == 0, "len %zu", lens[i]);
		cr_assert_eq(seal_gcm_decrypt(&kb, iv, test_aad, TEST_AAD_LEN, a, lens[i], ta), 0);
	}
}

/* ---- nonce layout and known answers ---- */

Test(seal, nonce_layout)
{
	uint8_t n[12];
	static const uint8_t want1[12] = { 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t want2[12] = { 2, 0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08 };
	static const uint8_t want3[12] = { 2, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	seal_nonce(n, SEAL_ITEM_META, 1, 0);
	cr_assert(memcmp(n, want1, 12) == 0);
	seal_nonce(n, SEAL_ITEM_BODY, 0, UINT64_C(0x0102030405060708));
	cr_assert(memcmp(n, want2, 12) == 0);
	seal_nonce(n, SEAL_ITEM_BODY, 7, UINT64_MAX);
	cr_assert(memcmp(n, want3, 12) == 0);

	/* seal_chunk_seal uses exactly that nonce. */
	uint8_t a[100], b[100], ta[16], tb[16];
	struct seal_key key;
	fill_pattern(a, sizeof a, 1);
	memcpy(b, a, sizeof a);
	seal_key_init(&key, test_mk);
	cr_assert_eq(seal_chunk_seal(&key, SEAL_ITEM_BODY, 1, UINT64_C(0x0102030405060708),
	                             "x", 1, a, sizeof a, ta), 0);
	uint8_t iv[12] = { 2, 1, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8 };
	cr_assert_eq(seal_gcm_encrypt(&key, iv, "x", 1, b, sizeof b, tb), 0);
	cr_assert(memcmp(a, b, sizeof a) == 0 && memcmp(ta, tb, 16) == 0);
}

/*
 * Known answers produced once with Node 20's own crypto (createCipheriv
 * 'aes-256-gcm'), not with our code:
 *
 *   const mk = Buffer.from([...Array(32).keys()].map(i => i + 0x40));
 *   const aad = Buffer.from('mte-relay/1 req 0123456789abcdef0123456789abcdef pairId_0123456789-AB 1 ub POST ');
 *   function nonce(item, fin, idx) { const n = Buffer.alloc(12); n[0] = item; n[1] = fin;
 *                                    n.writeBigUInt64BE(BigInt(idx), 4); return n; }
 *   function seal(item, fin, idx, pt) { const c = crypto.createCipheriv('aes-256-gcm', mk, nonce(item, fin, idx));
 *       c.setAAD(aad); return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]); }
 *   seal(1, 1, 0, meta)                               // meta item; also .toString('base64url')
 *   seal(2, 1, 0, Buffer.alloc(0))                    // empty body
 *   body[i] = (i * 31 + 7) & 0xff, 65541 bytes;  wire = seal(2,0,0,body[0..65536]) || seal(2,1,1,body[65536..])
 *   sha256(wire), tag of chunk 0, chunk 1 in full
 */
#define KAT_META_PT "{\"url\":\"/api/x?y=1\",\"headers\":{\"content-type\":\"application/json\"}}"
#define KAT_META_WIRE \
	"7e62828538dc0185492e3c39bf340538cd49c08f5590cd18e554432fd7dbb61c9db0a95252758ef80733" \
	"69167a73462cb1c95f9694de103ddb5c3041d4490c23a7a8bb7d50b0046e502ce4e7a8eebe305bb5"
#define KAT_META_B64U \
	"fmKChTjcAYVJLjw5vzQFOM1JwI9VkM0Y5VRDL9fbthydsKlSUnWO-AczaRZ6c0YssclflpTeED3bXDBB1EkMI6eou31QsARuUCzk56juvjBbtQ"
#define KAT_EMPTY_BODY  "98d4fda4542ecf0b8e568f9f39f47494"
#define KAT_BODY_SHA256 "876b7b8c0c127f5745a87e2d062da069cf89c48e1b29d88499b4b5149555c457"
#define KAT_BODY_TAG0   "cb4165d6b278108712021fa16bf8cbb5"
#define KAT_BODY_CHUNK1 "023db2b5341367ae147155abba692008d4616e8052"

Test(seal, node_known_answers)
{
	const char *meta = KAT_META_PT;
	size_t mlen = strlen(meta);
	uint8_t out[256], back[256];

	cr_assert_eq(seal_meta_seal(out, sizeof out, test_mk, test_aad, TEST_AAD_LEN,
	                            (const uint8_t *)meta, mlen), (int)(mlen + 16));
	assert_hex(out, mlen + 16, KAT_META_WIRE, "meta");
	cr_assert_eq(seal_meta_open(back, sizeof back, test_mk, test_aad, TEST_AAD_LEN, out,
	                            mlen + 16), (int)mlen);
	cr_assert(memcmp(back, meta, mlen) == 0);

	struct collect *c = seal_body(test_mk, test_aad, TEST_AAD_LEN, NULL, 0, 0);
	assert_hex(c->buf, c->len, KAT_EMPTY_BODY, "empty body");
	collect_free(c);

	uint8_t *body = malloc(65541);
	cr_assert_not_null(body);
	for (size_t i = 0; i < 65541; i++)
		body[i] = (uint8_t)((i * 31 + 7) & 0xff);
	c = seal_body(test_mk, test_aad, TEST_AAD_LEN, body, 65541, 3);
	cr_assert_eq(c->len, 65573u);
	cr_assert_eq(c->calls, 2u);
	cr_assert_eq(c->sizes[0], 65552u);
	cr_assert_eq(c->sizes[1], 21u);
	assert_hex(c->buf + 65536, 16, KAT_BODY_TAG0, "tag 0");
	assert_hex(c->buf + 65552, 21, KAT_BODY_CHUNK1, "chunk 1");
	br_sha256_context h;
	uint8_t digest[32];
	br_sha256_init(&h);
	br_sha256_update(&h, c->buf, c->len);
	br_sha256_out(&h, digest);
	assert_hex(digest, 32, KAT_BODY_SHA256, "wire sha256");
	collect_free(c);
	free(body);
}

/* ---- round trips ---- */

static void
round_trip(size_t len, size_t p0)
{
	uint8_t *pt = malloc(len ? len : 1);
	struct collect *wire, *back;
	uint64_t plain;
	size_t chunks = len / SEAL_CHUNK_MAX + 1;

	cr_assert_not_null(pt);
	fill_pattern(pt, len, (uint32_t)len);
	wire = seal_body(test_mk, test_aad, TEST_AAD_LEN, pt, len, p0);
	cr_assert_eq(seal_plain_len(wire->len, &plain), 0);
	cr_assert_eq(plain, len);
	/* Writer: one sink call per chunk, every one full but the last. */
	cr_assert_eq(wire->calls, chunks, "len %zu", len);
	for (size_t i = 0; i < chunks && i < 512; i++)
		cr_assert_eq(wire->sizes[i], i + 1 < chunks ? (size_t)SEAL_WIRE_CHUNK_MAX
		                                            : len % SEAL_CHUNK_MAX + SEAL_TAG_LEN);
	back = collect_new(len);
	cr_assert_eq(open_body(test_mk, test_aad, TEST_AAD_LEN, wire->buf, wire->len, p0 + 5, back),
	             SEAL_OK, "len %zu", len);
	cr_assert_eq(back->len, len);
	cr_assert(memcmp(back->buf, pt, len) == 0, "len %zu", len);
	/* Reader: one sink call per non-empty chunk. */
	cr_assert_eq(back->calls, len % SEAL_CHUNK_MAX ? chunks : chunks - 1);
	collect_free(wire);
	collect_free(back);
	free(pt);
}

Test(seal, round_trips)
{
	static const size_t sizes[] = { 0, 1, 65535, 65536, 65537, 3 * 65536 };

	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		for (size_t p0 = 0; p0 < 3; p0++)
			round_trip(sizes[i], p0);
}

Test(seal, round_trip_10_mib)
{
	round_trip(10u << 20, 0);
	round_trip((10u << 20) + 12345, 4);
}

Test(seal, round_trips_portable)
{
	seal_force_portable(1);
	round_trip(0, 0);
	round_trip(65536, 1);
	round_trip(65537 + 100, 2);
}

Test(seal, whole_body_in_one_feed)
{
	static uint8_t pt[3 * 65536 + 7];
	struct seal_writer *w = malloc(sizeof *w);
	struct seal_reader *r = malloc(sizeof *r);
	struct collect *wire = collect_new(sizeof pt + 4 * 16), *back = collect_new(sizeof pt);

	cr_assert(w && r);
	fill_pattern(pt, sizeof pt, 99);
	cr_assert_eq(seal_writer_init(w, test_mk, "a", 1), SEAL_OK);
	cr_assert_eq(seal_writer_feed(w, pt, sizeof pt, collect_sink, wire), SEAL_OK);
	cr_assert_eq(wire->calls, 3u, "full chunks go out as soon as they are complete");
	cr_assert_eq(seal_writer_finish(w, collect_sink, wire), SEAL_OK);
	cr_assert_eq(seal_reader_init(r, test_mk, "a", 1), SEAL_OK);
	cr_assert_eq(seal_reader_feed(r, wire->buf, wire->len, collect_sink, back), SEAL_OK);
	cr_assert_eq(back->len, 3 * 65536u, "only whole authenticated chunks before finish");
	cr_assert_eq(seal_reader_finish(r, collect_sink, back), SEAL_OK);
	cr_assert_eq(back->len, sizeof pt);
	cr_assert(memcmp(back->buf, pt, sizeof pt) == 0);
	/* Finished contexts refuse more work. */
	cr_assert_eq(seal_writer_feed(w, pt, 1, collect_sink, wire), SEAL_E_STATE);
	cr_assert_eq(seal_writer_finish(w, collect_sink, wire), SEAL_E_STATE);
	cr_assert_eq(seal_reader_feed(r, wire->buf, 1, collect_sink, back), SEAL_E_STATE);
	cr_assert_eq(seal_reader_finish(r, collect_sink, back), SEAL_E_STATE);
	seal_writer_wipe(w);
	seal_reader_wipe(r);
	free(w);
	free(r);
	collect_free(wire);
	collect_free(back);
}

/* ---- tampering ---- */

/* The body used by the tamper tests: chunks 0..2 full, chunk 3 final with
 * 100 bytes.  Wire offsets: chunk i starts at i * 65552. */
#define TB_LEN   (3 * 65536 + 100)
#define TB_WIRE  (3 * 65552 + 116)
#define CH(i)    ((size_t)(i) * SEAL_WIRE_CHUNK_MAX)

struct tamper {
	uint8_t        *pt;
	struct collect *wire;
	uint8_t        *work;   /* scratch copy of the wire */
};

static void
tamper_setup(struct tamper *t)
{
	t->pt = malloc(TB_LEN);
	t->work = malloc(TB_WIRE + 2 * SEAL_WIRE_CHUNK_MAX);
	cr_assert(t->pt && t->work);
	fill_pattern(t->pt, TB_LEN, 7);
	t->wire = seal_body(test_mk, test_aad, TEST_AAD_LEN, t->pt, TB_LEN, 0);
	cr_assert_eq(t->wire->len, (size_t)TB_WIRE);
}

static void
tamper_teardown(struct tamper *t)
{
	collect_free(t->wire);
	free(t->work);
	free(t->pt);
}

/* Opens work[0..len) and expects failure after exactly good_chunks chunks of
 * genuine plaintext were emitted (never any plaintext of a bad chunk). */
static void
expect_reject(struct tamper *t, size_t len, size_t good_chunks, const char *what)
{
	struct collect *out = collect_new(TB_LEN + 2 * SEAL_CHUNK_MAX);
	int rc = open_body(test_mk, test_aad, TEST_AAD_LEN, t->work, len, 1, out);

	cr_assert_eq(rc, SEAL_E_AUTH, "%s: accepted (rc %d)", what, rc);
	cr_assert_eq(out->len, good_chunks * SEAL_CHUNK_MAX, "%s: emitted %zu bytes", what, out->len);
	cr_assert(memcmp(out->buf, t->pt, out->len) == 0, "%s: emitted wrong plaintext", what);
	collect_free(out);
}

Test(seal, tamper_bit_flips)
{
	struct tamper t;
	unsigned cases = 0;

	tamper_setup(&t);
	/* Each position class in a full chunk (0 and 1) and in the final one:
	 * first and last ciphertext byte, first and last tag byte. */
	for (size_t ch = 0; ch <= 3; ch++) {
		size_t ctlen = ch < 3 ? SEAL_CHUNK_MAX : 100;
		size_t pos[4] = { CH(ch), CH(ch) + ctlen - 1, CH(ch) + ctlen, CH(ch) + ctlen + 15 };
		for (int p = 0; p < 4; p++)
			for (int bit = 0; bit < 8; bit += 7) {
				char what[64];
				memcpy(t.work, t.wire->buf, TB_WIRE);
				t.work[pos[p]] ^= (uint8_t)(1u << bit);
				snprintf(what, sizeof what, "flip bit %d at %zu", bit, pos[p]);
				expect_reject(&t, TB_WIRE, ch, what);
				cases++;
			}
	}
	/* And a sweep over the whole wire, one byte in every 4099. */
	for (size_t p = 0; p < TB_WIRE; p += 4099) {
		memcpy(t.work, t.wire->buf, TB_WIRE);
		t.work[p] ^= 0x10;
		expect_reject(&t, TB_WIRE, p / SEAL_WIRE_CHUNK_MAX, "sweep");
		cases++;
	}
	printf("seal tamper: %u bit-flip cases rejected\n", cases);
	cr_assert_geq(cases, 32u + 48u);
	tamper_teardown(&t);
}

Test(seal, tamper_chunk_order)
{
	struct tamper t;
	const uint8_t *w;

	tamper_setup(&t);
	w = t.wire->buf;
	/* dropped final chunk: the stream ends on a chunk boundary */
	memcpy(t.work, w, CH(3));
	expect_reject(&t, CH(3), 3, "dropped final chunk");
	/* dropped middle chunk */
	memcpy(t.work, w, CH(1));
	memcpy(t.work + CH(1), w + CH(2), TB_WIRE - CH(2));
	expect_reject(&t, TB_WIRE - SEAL_WIRE_CHUNK_MAX, 1, "dropped chunk 1");
	/* dropped first chunk */
	memcpy(t.work, w + CH(1), TB_WIRE - CH(1));
	expect_reject(&t, TB_WIRE - SEAL_WIRE_CHUNK_MAX, 0, "dropped chunk 0");
	/* reordered: chunks 0 and 1 swapped */
	memcpy(t.work, w + CH(1), SEAL_WIRE_CHUNK_MAX);
	memcpy(t.work + CH(1), w, SEAL_WIRE_CHUNK_MAX);
	memcpy(t.work + CH(2), w + CH(2), TB_WIRE - CH(2));
	expect_reject(&t, TB_WIRE, 0, "swapped 0 and 1");
	/* reordered: chunks 1 and 2 swapped */
	memcpy(t.work, w, TB_WIRE);
	memcpy(t.work + CH(1), w + CH(2), SEAL_WIRE_CHUNK_MAX);
	memcpy(t.work + CH(2), w + CH(1), SEAL_WIRE_CHUNK_MAX);
	expect_reject(&t, TB_WIRE, 1, "swapped 1 and 2");
	/* duplicated chunk 0 */
	memcpy(t.work, w, SEAL_WIRE_CHUNK_MAX);
	memcpy(t.work + CH(1), w, TB_WIRE);
	expect_reject(&t, TB_WIRE + SEAL_WIRE_CHUNK_MAX, 1, "chunk 0 twice");
	/* duplicated chunk 2 */
	memcpy(t.work, w, CH(3));
	memcpy(t.work + CH(3), w + CH(2), TB_WIRE - CH(2));
	expect_reject(&t, TB_WIRE + SEAL_WIRE_CHUNK_MAX, 3, "chunk 2 twice");
	/* the final chunk placed first (index and final flag both wrong) */
	memcpy(t.work, w + CH(3), 116);
	expect_reject(&t, 116, 0, "final chunk alone");
	/* a valid chunk appended after the final one */
	memcpy(t.work, w, TB_WIRE);
	memcpy(t.work + TB_WIRE, w, SEAL_WIRE_CHUNK_MAX);
	expect_reject(&t, TB_WIRE + SEAL_WIRE_CHUNK_MAX, 3, "chunk after the final one");
	/* extra bytes after the final chunk */
	memcpy(t.work, w, TB_WIRE);
	memset(t.work + TB_WIRE, 0, 16);
	expect_reject(&t, TB_WIRE + 16, 3, "16 bytes appended");
	tamper_teardown(&t);
}

Test(seal, tamper_truncation)
{
	struct tamper t;
	/* every cut length class: nothing, inside the first chunk's ciphertext,
	 * inside its tag, one short of a full chunk, exactly a full chunk
	 * (no final chunk), 1..15 bytes into the final chunk (shorter than a
	 * tag), exactly a tag's worth of it, inside it, one byte short */
	static const size_t cuts[] = {
		0, 1, 15, 16, 17, 1000, 65535, 65536, 65537, 65551, 65552, 65553, 65567,
		3 * 65552, 3 * 65552 + 1, 3 * 65552 + 15, 3 * 65552 + 16, 3 * 65552 + 17,
		3 * 65552 + 99, 3 * 65552 + 115,
	};

	tamper_setup(&t);
	memcpy(t.work, t.wire->buf, TB_WIRE);
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		char what[48];
		snprintf(what, sizeof what, "cut to %zu bytes", cuts[i]);
		expect_reject(&t, cuts[i], cuts[i] / SEAL_WIRE_CHUNK_MAX, what);
	}
	tamper_teardown(&t);
}

Test(seal, tamper_exact_multiple_without_empty_final)
{
	/* A 65536-byte body is chunk 0 (full) then an empty final chunk (the tag
	 * alone).  Dropping that 16-byte chunk must be caught. */
	uint8_t *pt = malloc(65536);
	struct collect *wire, *out = collect_new(2 * 65536);

	cr_assert_not_null(pt);
	fill_pattern(pt, 65536, 3);
	wire = seal_body(test_mk, test_aad, TEST_AAD_LEN, pt, 65536, 0);
	cr_assert_eq(wire->len, 65552u + 16u);
	cr_assert_eq(open_body(test_mk, test_aad, TEST_AAD_LEN, wire->buf, 65552, 0, out),
	             SEAL_E_AUTH);
	cr_assert_eq(out->len, 65536u, "the authentic first chunk was emitted, nothing more");
	collect_free(out);
	/* Cutting the 65535-byte final chunk of a 65535-byte body to 65536
	 * bytes is not mistaken for anything valid either. */
	collect_free(wire);
	wire = seal_body(test_mk, test_aad, TEST_AAD_LEN, pt, 65535, 0);
	cr_assert_eq(wire->len, 65551u);
	out = collect_new(65536);
	cr_assert_eq(open_body(test_mk, test_aad, TEST_AAD_LEN, wire->buf, 65550, 0, out),
	             SEAL_E_AUTH);
	cr_assert_eq(out->len, 0u);
	collect_free(out);
	collect_free(wire);
	free(pt);
}

Test(seal, wrong_aad_key_item)
{
	struct tamper t;
	struct collect *out = collect_new(TB_LEN);
	char aad[sizeof test_aad];
	uint8_t mk[32];

	tamper_setup(&t);
	/* wrong aad: one character changed, one dropped, one added, empty */
	memcpy(aad, test_aad, sizeof aad);
	aad[20] ^= 1;
	cr_assert_eq(open_body(test_mk, aad, TEST_AAD_LEN, t.wire->buf, TB_WIRE, 0, out), SEAL_E_AUTH);
	cr_assert_eq(open_body(test_mk, test_aad, TEST_AAD_LEN - 1, t.wire->buf, TB_WIRE, 0, out),
	             SEAL_E_AUTH);
	cr_assert_eq(open_body(test_mk, test_aad, TEST_AAD_LEN + 1, t.wire->buf, TB_WIRE, 0, out),
	             SEAL_E_AUTH);
	cr_assert_eq(open_body(test_mk, "", 0, t.wire->buf, TB_WIRE, 0, out), SEAL_E_AUTH);
	/* wrong key: one bit */
	memcpy(mk, test_mk, 32);
	mk[31] ^= 0x80;
	cr_assert_eq(open_body(mk, test_aad, TEST_AAD_LEN, t.wire->buf, TB_WIRE, 0, out), SEAL_E_AUTH);
	cr_assert_eq(out->len, 0u, "no plaintext from any of these");
	tamper_teardown(&t);

	/* wrong item: a meta item opened as a body, a body opened as meta */
	uint8_t meta[64], sealed[80], back[80];
	struct collect *body;
	fill_pattern(meta, sizeof meta, 5);
	cr_assert_eq(seal_meta_seal(sealed, sizeof sealed, test_mk, test_aad, TEST_AAD_LEN, meta, 64), 80);
	cr_assert_eq(open_body(test_mk, test_aad, TEST_AAD_LEN, sealed, 80, 0, out), SEAL_E_AUTH);
	cr_assert_eq(out->len, 0u);
	body = seal_body(test_mk, test_aad, TEST_AAD_LEN, meta, 64, 0);
	cr_assert_eq(body->len, 80u);
	cr_assert_eq(seal_meta_open(back, sizeof back, test_mk, test_aad, TEST_AAD_LEN, body->buf, 80), -1);
	/* ...while each opens fine as what it is */
	cr_assert_eq(seal_meta_open(back, sizeof back, test_mk, test_aad, TEST_AAD_LEN, sealed, 80), 64);
	cr_assert_eq(open_body(test_mk, test_aad, TEST_AAD_LEN, body->buf, 80, 0, out), SEAL_OK);
	cr_assert_eq(out->len, 64u);
	collect_free(body);
	collect_free(out);
}

/* ---- meta one-shot ---- */

Test(seal, meta_round_trips_and_tamper)
{
	static uint8_t pt[SEAL_META_MAX + 1], buf[SEAL_META_MAX + 64], back[SEAL_META_MAX + 64];
	static const size_t lens[] = { 0, 1, 15, 16, 100, 4096, SEAL_META_MAX };

	fill_pattern(pt, sizeof pt, 11);
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		size_t n = lens[i];
		cr_assert_eq(seal_meta_seal(buf, n + 16, test_mk, test_aad, TEST_AAD_LEN, pt, n),
		             (int)(n + 16));
		cr_assert_eq(seal_meta_open(back, n, test_mk, test_aad, TEST_AAD_LEN, buf, n + 16),
		             (int)n);
		cr_assert(memcmp(back, pt, n) == 0);
		/* in place both ways */
		memcpy(back, pt, n);
		cr_assert_eq(seal_meta_seal(back, n + 16, test_mk, test_aad, TEST_AAD_LEN, back, n),
		             (int)(n + 16));
		cr_assert(memcmp(back, buf, n + 16) == 0);
		cr_assert_eq(seal_meta_open(back, n + 16, test_mk, test_aad, TEST_AAD_LEN, back, n + 16),
		             (int)n);
		cr_assert(memcmp(back, pt, n) == 0);
	}
	/* Every byte of a 40-byte meta's wire, flipped, is rejected and the
	 * output zeroed. */
	cr_assert_eq(seal_meta_seal(buf, 56, test_mk, test_aad, TEST_AAD_LEN, pt, 40), 56);
	for (size_t p = 0; p < 56; p++) {
		buf[p] ^= 0x01;
		memset(back, 0xaa, 40);
		cr_assert_eq(seal_meta_open(back, 40, test_mk, test_aad, TEST_AAD_LEN, buf, 56), -1,
		             "flip at %zu", p);
		for (size_t i = 0; i < 40; i++)
			cr_assert_eq(back[i], 0, "unauthenticated plaintext left at %zu", i);
		buf[p] ^= 0x01;
	}
	cr_assert_eq(seal_meta_open(back, 40, test_mk, test_aad, TEST_AAD_LEN, buf, 56), 40);
	cr_assert_eq(seal_meta_open(back, 40, test_mk, test_aad, TEST_AAD_LEN - 1, buf, 56), -1);
	cr_assert_eq(seal_meta_open(back, 40, test_mk, "", 0, buf, 56), -1);
	cr_assert_eq(seal_meta_open(back, 40, test_mk, test_aad, TEST_AAD_LEN, buf, 55), -1);
	cr_assert_eq(seal_meta_open(back, 40, test_mk, test_aad, TEST_AAD_LEN, buf + 1, 55), -1);
	uint8_t mk[32];
	memcpy(mk, test_mk, 32);
	mk[0] ^= 1;
	cr_assert_eq(seal_meta_open(back, 40, mk, test_aad, TEST_AAD_LEN, buf, 56), -1);
}

Test(seal, meta_limits)
{
	static uint8_t pt[SEAL_META_MAX + 1], buf[SEAL_META_MAX + 64];
	static uint8_t aad[SEAL_AAD_MAX + 1];

	memset(buf, 0x77, sizeof buf);
	/* SEAL_META_MAX + 1 bytes would not be one final chunk */
	cr_assert_eq(seal_meta_seal(buf, sizeof buf, test_mk, "", 0, pt, SEAL_META_MAX + 1), -1);
	cr_assert_eq(buf[0], 0x77, "nothing written on failure");
	cr_assert_eq(seal_meta_open(pt, sizeof pt, test_mk, "", 0, buf, SEAL_META_MAX + 1 + 16), -1);
	/* capacity */
	cr_assert_eq(seal_meta_seal(buf, 10 + 15, test_mk, "", 0, pt, 10), -1);
	cr_assert_eq(buf[0], 0x77);
	cr_assert_eq(seal_meta_seal(buf, 10 + 16, test_mk, "", 0, pt, 10), 26);
	cr_assert_eq(seal_meta_open(pt, 9, test_mk, "", 0, buf, 26), -1);
	cr_assert_eq(seal_meta_open(pt, 10, test_mk, "", 0, buf, 26), 10);
	/* shorter than a tag */
	for (size_t n = 0; n < 16; n++)
		cr_assert_eq(seal_meta_open(pt, sizeof pt, test_mk, "", 0, buf, n), -1);
	/* aad at SEAL_AAD_MAX works, one more does not */
	memset(aad, 'a', sizeof aad);
	cr_assert_eq(seal_meta_seal(buf, sizeof buf, test_mk, aad, SEAL_AAD_MAX, pt, 10), 26);
	cr_assert_eq(seal_meta_open(pt, 10, test_mk, aad, SEAL_AAD_MAX, buf, 26), 10);
	cr_assert_eq(seal_meta_seal(buf, sizeof buf, test_mk, aad, SEAL_AAD_MAX + 1, pt, 10), -1);
	cr_assert_eq(seal_meta_open(pt, 10, test_mk, aad, SEAL_AAD_MAX + 1, buf, 26), -1);
}

/* ---- chunk rule and limits ---- */

Test(seal, chunk_rule)
{
	static uint8_t data[SEAL_CHUNK_MAX + 1];
	uint8_t tag[16];
	struct seal_key key;

	seal_key_init(&key, test_mk);
	/* non-final: exactly SEAL_CHUNK_MAX */
	cr_assert_eq(seal_chunk_seal(&key, SEAL_ITEM_BODY, 0, 0, "", 0, data, SEAL_CHUNK_MAX, tag), 0);
	cr_assert_eq(seal_chunk_open(&key, SEAL_ITEM_BODY, 0, 0, "", 0, data, SEAL_CHUNK_MAX, tag), 0);
	cr_assert_eq(seal_chunk_seal(&key, SEAL_ITEM_BODY, 0, 0, "", 0, data, SEAL_CHUNK_MAX - 1, tag), -1);
	cr_assert_eq(seal_chunk_seal(&key, SEAL_ITEM_BODY, 0, 0, "", 0, data, SEAL_CHUNK_MAX + 1, tag), -1);
	cr_assert_eq(seal_chunk_seal(&key, SEAL_ITEM_BODY, 0, 0, "", 0, data, 0, tag), -1);
	/* final: at most SEAL_CHUNK_MAX - 1 */
	cr_assert_eq(seal_chunk_seal(&key, SEAL_ITEM_BODY, 1, 0, "", 0, data, SEAL_CHUNK_MAX - 1, tag), 0);
	cr_assert_eq(seal_chunk_open(&key, SEAL_ITEM_BODY, 1, 0, "", 0, data, SEAL_CHUNK_MAX - 1, tag), 0);
	cr_assert_eq(seal_chunk_seal(&key, SEAL_ITEM_BODY, 1, 0, "", 0, data, SEAL_CHUNK_MAX, tag), -1);
	cr_assert_eq(seal_chunk_open(&key, SEAL_ITEM_BODY, 1, 0, "", 0, data, SEAL_CHUNK_MAX, tag), -1);
	cr_assert_eq(seal_chunk_seal(&key, SEAL_ITEM_BODY, 1, 0, "", 0, data, 0, tag), 0);
	/* items other than 1, 2 and 3 (3: framed records, any length up to a chunk) */
	cr_assert_eq(seal_chunk_seal(&key, 0, 1, 0, "", 0, data, 1, tag), -1);
	cr_assert_eq(seal_chunk_seal(&key, 4, 1, 0, "", 0, data, 1, tag), -1);
	cr_assert_eq(seal_chunk_seal(&key, SEAL_ITEM_FRAMED, 0, 0, "", 0, data, 1, tag), 0);
	cr_assert_eq(seal_chunk_seal(&key, SEAL_ITEM_FRAMED, 1, 0, "", 0, data, SEAL_CHUNK_MAX, tag), 0);
	cr_assert_eq(seal_chunk_seal(&key, SEAL_ITEM_FRAMED, 0, 0, "", 0, data, SEAL_CHUNK_MAX + 1, tag), -1,
	    "limit + 1");
	cr_assert_eq(seal_chunk_seal(&key, 0x102, 1, 0, "", 0, data, 1, tag), -1);
	cr_assert_eq(seal_chunk_seal(&key, SEAL_ITEM_META, 1, 0, "", 0, data, 1, tag), 0);
	/* a final chunk opened as non-final, index off by one: rejected */
	cr_assert_eq(seal_chunk_seal(&key, SEAL_ITEM_BODY, 0, 5, "", 0, data, SEAL_CHUNK_MAX, tag), 0);
	cr_assert_eq(seal_chunk_open(&key, SEAL_ITEM_BODY, 0, 6, "", 0, data, SEAL_CHUNK_MAX, tag), -1);
	seal_key_wipe(&key);
}

Test(seal, stream_aad_limit)
{
	static uint8_t aad[SEAL_AAD_MAX + 1];
	struct seal_writer *w = malloc(sizeof *w);
	struct seal_reader *r = malloc(sizeof *r);
	struct collect *wire = collect_new(64), *out = collect_new(64);

	cr_assert(w && r);
	memset(aad, 'q', sizeof aad);
	cr_assert_eq(seal_writer_init(w, test_mk, aad, SEAL_AAD_MAX + 1), SEAL_E_STATE);
	cr_assert_eq(seal_writer_feed(w, aad, 1, collect_sink, wire), SEAL_E_STATE);
	cr_assert_eq(seal_writer_finish(w, collect_sink, wire), SEAL_E_STATE);
	cr_assert_eq(seal_reader_init(r, test_mk, aad, SEAL_AAD_MAX + 1), SEAL_E_STATE);
	cr_assert_eq(seal_reader_finish(r, collect_sink, out), SEAL_E_STATE);
	cr_assert_eq(wire->calls + out->calls, 0u);
	/* the limit itself works, and the aad copy is what counts */
	cr_assert_eq(seal_writer_init(w, test_mk, aad, SEAL_AAD_MAX), SEAL_OK);
	cr_assert_eq(seal_writer_feed(w, (const uint8_t *)"hi", 2, collect_sink, wire), SEAL_OK);
	aad[0] = 'z';   /* the writer copied it */
	cr_assert_eq(seal_writer_finish(w, collect_sink, wire), SEAL_OK);
	aad[0] = 'q';
	cr_assert_eq(seal_reader_init(r, test_mk, aad, SEAL_AAD_MAX), SEAL_OK);
	cr_assert_eq(seal_reader_feed(r, wire->buf, wire->len, collect_sink, out), SEAL_OK);
	cr_assert_eq(seal_reader_finish(r, collect_sink, out), SEAL_OK);
	cr_assert_eq(out->len, 2u);
	cr_assert(memcmp(out->buf, "hi", 2) == 0);
	free(w);
	free(r);
	collect_free(wire);
	collect_free(out);
}

/* ---- sink failures and wiping ---- */

static int
all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

Test(seal, sink_failure_stops_the_stream)
{
	static uint8_t pt[2 * 65536 + 10];
	struct seal_writer *w = malloc(sizeof *w);
	struct seal_reader *r = malloc(sizeof *r);
	struct collect *wire = collect_new(sizeof pt + 64), *good, *out = collect_new(sizeof pt);

	cr_assert(w && r);
	fill_pattern(pt, sizeof pt, 21);
	wire->fail_at = 2;
	cr_assert_eq(seal_writer_init(w, test_mk, "", 0), SEAL_OK);
	cr_assert_eq(seal_writer_feed(w, pt, sizeof pt, collect_sink, wire), SEAL_E_SINK);
	cr_assert_eq(seal_writer_feed(w, pt, 1, collect_sink, wire), SEAL_E_SINK);
	cr_assert_eq(seal_writer_finish(w, collect_sink, wire), SEAL_E_SINK);
	cr_assert_eq(wire->calls, 2u);
	cr_assert(all_zero(&w->key, sizeof w->key), "key wiped after failure");

	good = seal_body(test_mk, "", 0, pt, sizeof pt, 0);
	out->fail_at = 1;
	cr_assert_eq(seal_reader_init(r, test_mk, "", 0), SEAL_OK);
	cr_assert_eq(seal_reader_feed(r, good->buf, good->len, collect_sink, out), SEAL_E_SINK);
	cr_assert_eq(seal_reader_feed(r, good->buf, 1, collect_sink, out), SEAL_E_SINK);
	cr_assert_eq(seal_reader_finish(r, collect_sink, out), SEAL_E_SINK);
	cr_assert_eq(out->calls, 1u);
	cr_assert(all_zero(&r->key, sizeof r->key), "key wiped after failure");
	cr_assert(all_zero(r->buf, SEAL_CHUNK_MAX), "plaintext wiped after failure");
	free(w);
	free(r);
	collect_free(wire);
	collect_free(good);
	collect_free(out);
}

Test(seal, contexts_wiped_when_done)
{
	static uint8_t pt[65536 + 300];
	struct seal_writer *w = malloc(sizeof *w);
	struct seal_reader *r = malloc(sizeof *r);
	struct collect *wire = collect_new(2 * sizeof pt), *out = collect_new(2 * sizeof pt);

	cr_assert(w && r);
	memset(pt, 0x5c, sizeof pt);
	cr_assert_eq(seal_writer_init(w, test_mk, "", 0), SEAL_OK);
	cr_assert(!all_zero(&w->key, sizeof w->key));
	cr_assert_eq(seal_writer_feed(w, pt, sizeof pt, collect_sink, wire), SEAL_OK);
	cr_assert_eq(seal_writer_finish(w, collect_sink, wire), SEAL_OK);
	cr_assert(all_zero(&w->key, sizeof w->key), "writer key wiped by finish");
	cr_assert(memcmp(w->buf, wire->buf + 65552, 316) == 0,
	          "the writer's buffer holds the last wire chunk, not plaintext");

	cr_assert_eq(seal_reader_init(r, test_mk, "", 0), SEAL_OK);
	cr_assert_eq(seal_reader_feed(r, wire->buf, wire->len, collect_sink, out), SEAL_OK);
	cr_assert_eq(seal_reader_finish(r, collect_sink, out), SEAL_OK);
	cr_assert_eq(out->len, sizeof pt);
	cr_assert(all_zero(&r->key, sizeof r->key), "reader key wiped by finish");
	cr_assert(all_zero(r->buf, SEAL_CHUNK_MAX), "reader plaintext wiped by finish");

	/* abandoning mid-stream */
	cr_assert_eq(seal_reader_init(r, test_mk, "", 0), SEAL_OK);
	cr_assert_eq(seal_reader_feed(r, wire->buf, 65552 + 50, collect_sink, out), SEAL_OK);
	seal_reader_wipe(r);
	cr_assert(all_zero(&r->key, sizeof r->key));
	cr_assert(all_zero(r->buf, SEAL_CHUNK_MAX), "plaintext of chunk 0 wiped");
	cr_assert_eq(seal_reader_feed(r, wire->buf, 1, collect_sink, out), SEAL_E_STATE);
	cr_assert_eq(seal_writer_init(w, test_mk, "", 0), SEAL_OK);
	cr_assert_eq(seal_writer_feed(w, pt, 1000, collect_sink, wire), SEAL_OK);
	seal_writer_wipe(w);
	cr_assert(all_zero(&w->key, sizeof w->key));
	cr_assert(all_zero(w->buf, 1000), "buffered plaintext wiped");
	cr_assert_eq(seal_writer_finish(w, collect_sink, wire), SEAL_E_STATE);
	free(w);
	free(r);
	collect_free(wire);
	collect_free(out);
}

/* ---- length formulas ---- */

Test(seal, wire_and_plain_lengths)
{
	uint64_t w, p;
	static const struct { uint64_t plain, wire; } kat[] = {
		{ 0, 16 }, { 1, 17 }, { 65535, 65551 }, { 65536, 65568 }, { 65537, 65569 },
		{ 3 * 65536, 3 * 65552 + 16 }, { 10u << 20, (10u << 20) + 16 * 161 },
	};

	for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
		cr_assert_eq(seal_wire_len(kat[i].plain, &w), 0);
		cr_assert_eq(w, kat[i].wire, "plain %llu", (unsigned long long)kat[i].plain);
		cr_assert_eq(seal_plain_len(kat[i].wire, &p), 0);
		cr_assert_eq(p, kat[i].plain);
	}
	/* Every wire length with W mod 65552 < 16 is malformed; the rest map back. */
	for (uint64_t base = 0; base < 4 * 65552u; base += 65552u)
		for (uint64_t r = 0; r < 16; r++)
			cr_assert_eq(seal_plain_len(base + r, &p), -1, "W = %llu",
			             (unsigned long long)(base + r));
	for (uint64_t x = 0; x < 300000; x += 37) {
		cr_assert_eq(seal_wire_len(x, &w), 0);
		cr_assert_eq(seal_plain_len(w, &p), 0);
		cr_assert_eq(p, x);
	}
	/* The largest plaintext whose wire length fits in 64 bits is the plain
	 * length of W = 2^64 - 1 (which is a valid wire length). */
	cr_assert_eq(seal_plain_len(UINT64_MAX, &p), 0);
	cr_assert_eq(seal_wire_len(p, &w), 0);
	cr_assert_eq(w, UINT64_MAX);
	cr_assert_eq(seal_wire_len(p + 1, &w), -1);
	cr_assert_eq(seal_wire_len(UINT64_MAX, &w), -1);
}

/* A framed record (PROTOCOL.md section 13): u32be(L | final << 31), then
 * the chunk of item 3, which opens with its index and final flag only. */
Test(seal, framed_record_layout)
{
	static uint8_t rec[SEAL_RECORD_MAX], copy[SEAL_RECORD_MAX], pt[SEAL_CHUNK_MAX + 1];
	struct seal_key key;
	uint8_t mk[SEAL_KEY_LEN] = { 7 };
	uint32_t head;
	int n;

	memset(pt, 'p', sizeof pt);
	seal_key_init(&key, mk);
	n = seal_record_seal(&key, 0, 3, "aad", 3, pt, 100, rec);
	cr_assert_eq(n, 4 + 100 + SEAL_TAG_LEN);
	head = (uint32_t)rec[0] << 24 | (uint32_t)rec[1] << 16 | (uint32_t)rec[2] << 8 | rec[3];
	cr_expect_eq(head, 100 + SEAL_TAG_LEN, "not final");
	/* a failed open wipes its buffer: each try gets a copy */
	memcpy(copy, rec, (size_t)n);
	cr_expect_eq(seal_chunk_open(&key, SEAL_ITEM_FRAMED, 1, 3, "aad", 3, copy + 4, 100, copy + 104), -1,
	    "opened as final: refused");
	memcpy(copy, rec, (size_t)n);
	cr_expect_eq(seal_chunk_open(&key, SEAL_ITEM_FRAMED, 0, 4, "aad", 3, copy + 4, 100, copy + 104), -1,
	    "another index: refused");
	memcpy(copy, rec, (size_t)n);
	cr_expect_eq(seal_chunk_open(&key, SEAL_ITEM_BODY, 1, 3, "aad", 3, copy + 4, 100, copy + 104), -1,
	    "as a v1 body chunk: refused");
	cr_assert_eq(seal_chunk_open(&key, SEAL_ITEM_FRAMED, 0, 3, "aad", 3, rec + 4, 100, rec + 104), 0);
	cr_expect_eq(memcmp(rec + 4, pt, 100), 0);
	n = seal_record_seal(&key, 1, 4, "aad", 3, pt, 0, rec);
	cr_assert_eq(n, 4 + SEAL_TAG_LEN, "an empty final record");
	cr_expect_eq(rec[0], 0x80);
	cr_expect_eq(seal_record_seal(&key, 0, 5, "aad", 3, pt, SEAL_CHUNK_MAX, rec), 4 + SEAL_CHUNK_MAX + SEAL_TAG_LEN);
	cr_expect_eq(seal_record_seal(&key, 0, 5, "aad", 3, pt, SEAL_CHUNK_MAX + 1, rec), -1, "limit + 1");
	seal_key_wipe(&key);
}
