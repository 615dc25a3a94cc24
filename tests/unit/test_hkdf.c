/* test_hkdf.c - HKDF-SHA256 (RFC 5869 vectors through every entry point) and
 * the protocol key schedule (known answers computed independently in Node). */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "crypto/kdf.h"
#include "limits.h"
#include "vectors.h"

static void
assert_hex(const uint8_t *got, size_t len, const char *want_hex, const char *what)
{
	size_t n;
	uint8_t *want = hex_decode(want_hex, &n);

	cr_assert_eq(n, len, "%s: length", what);
	cr_assert(memcmp(got, want, len) == 0, "%s: mismatch", what);
	free(want);
}

Test(hkdf, rfc5869_vectors)
{
	cJSON *root = vec_load("hkdf-sha256.json");
	const cJSON *t;
	int ran = 0;

	cJSON_ArrayForEach(t, vec_tests(root)) {
		size_t ikm_len, salt_len, info_len, prk_len, okm_len;
		uint8_t *ikm = vec_hex(t, "ikm", &ikm_len);
		uint8_t *salt = vec_hex(t, "salt", &salt_len);
		uint8_t *info = vec_hex(t, "info", &info_len);
		uint8_t *prk = vec_hex(t, "prk", &prk_len);
		uint8_t *okm = vec_hex(t, "okm", &okm_len);
		const cJSON *L = cJSON_GetObjectItemCaseSensitive(t, "L");
		uint8_t got_prk[KDF_HASH_LEN], got[255 * KDF_HASH_LEN];
		const char *name = vec_str(t, "name");

		cr_assert(cJSON_IsNumber(L));
		cr_assert_eq((size_t)L->valueint, okm_len);
		cr_assert_eq(prk_len, (size_t)KDF_HASH_LEN);

		/* Extract alone */
		kdf_hkdf_extract(got_prk, salt, salt_len, ikm, ikm_len);
		cr_assert(memcmp(got_prk, prk, prk_len) == 0, "%s: prk", name);
		/* Expand alone, from the vector's prk */
		memset(got, 0, sizeof got);
		cr_assert_eq(kdf_hkdf_expand(got, okm_len, prk, info, info_len), 0);
		cr_assert(memcmp(got, okm, okm_len) == 0, "%s: expand okm", name);
		/* Both through BearSSL br_hkdf */
		memset(got, 0, sizeof got);
		cr_assert_eq(kdf_hkdf(got, okm_len, salt, salt_len, ikm, ikm_len, info, info_len), 0);
		cr_assert(memcmp(got, okm, okm_len) == 0, "%s: br_hkdf okm", name);
		/* Prefixes: asking for fewer bytes yields a prefix */
		for (size_t cut = 0; cut < okm_len; cut += 7) {
			memset(got, 0xee, sizeof got);
			cr_assert_eq(kdf_hkdf_expand(got, cut, prk, info, info_len), 0);
			cr_assert(memcmp(got, okm, cut) == 0, "%s: prefix %zu", name, cut);
			cr_assert_eq(got[cut], 0xee, "%s: wrote past %zu", name, cut);
		}
		free(ikm);
		free(salt);
		free(info);
		free(prk);
		free(okm);
		ran++;
	}
	printf("hkdf-sha256.json: %d cases ran (prk and okm each)\n", ran);
	cr_assert_eq(ran, vec_count(root));
	cr_assert_eq(ran, 3);
	cJSON_Delete(root);
}

Test(hkdf, expand_length_limit)
{
	static uint8_t okm[KDF_EXPAND_MAX + 1];
	uint8_t prk[KDF_HASH_LEN] = { 1 };

	memset(okm, 0x5a, sizeof okm);
	cr_assert_eq(kdf_hkdf_expand(okm, KDF_EXPAND_MAX + 1, prk, "x", 1), -1);
	cr_assert_eq(okm[0], 0x5a, "nothing may be written on failure");
	cr_assert_eq(kdf_hkdf(okm, KDF_EXPAND_MAX + 1, "s", 1, "k", 1, "x", 1), -1);
	cr_assert_eq(okm[0], 0x5a);
	cr_assert_eq(kdf_hkdf_expand(okm, KDF_EXPAND_MAX, prk, "x", 1), 0);
	/* The own Expand and br_hkdf agree over the whole 8160-byte range. */
	static uint8_t other[KDF_EXPAND_MAX];
	uint8_t prk2[KDF_HASH_LEN];
	kdf_hkdf_extract(prk2, "salt", 4, "ikm", 3);
	cr_assert_eq(kdf_hkdf_expand(okm, KDF_EXPAND_MAX, prk2, "info", 4), 0);
	cr_assert_eq(kdf_hkdf(other, KDF_EXPAND_MAX, "salt", 4, "ikm", 3, "info", 4), 0);
	cr_assert(memcmp(okm, other, KDF_EXPAND_MAX) == 0);
}

/*
 * Protocol key schedule known answers.  Produced once with Node 20's own
 * crypto (not our code), by this script:
 *
 *   import crypto from 'node:crypto';
 *   const ss = Buffer.from([...Array(32).keys()]);                  // 00..1f
 *   const nonce = Buffer.from([...Array(32).keys()].map(i => i + 32)); // 20..3f
 *   const cid = '0123456789abcdef0123456789abcdef';
 *   const info = Buffer.concat([Buffer.from('mte-relay/1 pair'), Buffer.from([0]),
 *       Buffer.from(cid), Buffer.from([0]), Buffer.from(P), Buffer.from([0]), Buffer.from(S)]);
 *   const okm = crypto.hkdfSync('sha256', ss, nonce, info, 64);   // k_req || k_res
 *   // message keys, HKDF-Expand of one block: HMAC(k, dir || u64be(seq) || 0x01)
 *   const k = Buffer.alloc(32, 0x42);
 *   const s8 = Buffer.alloc(8); s8.writeBigUInt64BE(seq);
 *   crypto.createHmac('sha256', k).update(Buffer.concat([Buffer.from(dir), s8, Buffer.from([1])])).digest();
 */
struct pair_kat {
	const char *pair_id, *pers, *k_req, *k_res;
};

static const struct pair_kat pair_kats[] = {
	{ "pairId_0123456789-AB", "Hello, personalization! ~",
	  "1680f404de05c7fbd7802fcc14395a3405357e1c8cb57ebf985611423030cf8f",
	  "a371b6b2ae4cd64e360039064f525a361a8d93dec416305e0d47ac4755837460" },
	{ "AAAAAAAAAAAAAAAA", "",
	  "ca188377b86bbcc87a81495d582d08600507012696ed8fd2d2fb0ed4c70e2f6a",
	  "ad70412f7b7de45cb6cd4479def3ef5b6314e696932cac32c77fbb291791c91d" },
};

static const char kat_client_id[] = "0123456789abcdef0123456789abcdef";

static void
kat_inputs(uint8_t ss[32], uint8_t nonce[32])
{
	for (int i = 0; i < 32; i++) {
		ss[i] = (uint8_t)i;
		nonce[i] = (uint8_t)(i + 32);
	}
}

Test(hkdf, pair_keys_known_answers)
{
	uint8_t ss[32], nonce[32], k_req[32], k_res[32];

	kat_inputs(ss, nonce);
	for (size_t i = 0; i < sizeof pair_kats / sizeof pair_kats[0]; i++) {
		const struct pair_kat *k = &pair_kats[i];
		cr_assert_eq(kdf_pair_keys(k_req, k_res, ss, nonce, kat_client_id, 32,
		                           k->pair_id, strlen(k->pair_id), k->pers,
		                           strlen(k->pers)), 0);
		assert_hex(k_req, 32, k->k_req, "k_req");
		assert_hex(k_res, 32, k->k_res, "k_res");
	}
}

Test(hkdf, pair_keys_bind_every_input)
{
	uint8_t ss[32], nonce[32], base_req[32], base_res[32], k_req[32], k_res[32];
	const char *p = "pairId_0123456789-AB", *s = "Hello, personalization! ~";
	char cid[33], pid[32], pers[32];

	kat_inputs(ss, nonce);
	cr_assert_eq(kdf_pair_keys(base_req, base_res, ss, nonce, kat_client_id, 32, p,
	                           strlen(p), s, strlen(s)), 0);
	cr_assert(memcmp(base_req, base_res, 32) != 0);
	/* A one-bit change of ss or of nonce, one character of clientId, P or S,
	 * and moving a character between P and S each change both keys. */
	ss[31] ^= 1;
	cr_assert_eq(kdf_pair_keys(k_req, k_res, ss, nonce, kat_client_id, 32, p, strlen(p), s, strlen(s)), 0);
	cr_assert(memcmp(k_req, base_req, 32) != 0 && memcmp(k_res, base_res, 32) != 0);
	ss[31] ^= 1;
	nonce[0] ^= 0x80;
	cr_assert_eq(kdf_pair_keys(k_req, k_res, ss, nonce, kat_client_id, 32, p, strlen(p), s, strlen(s)), 0);
	cr_assert(memcmp(k_req, base_req, 32) != 0 && memcmp(k_res, base_res, 32) != 0);
	nonce[0] ^= 0x80;
	memcpy(cid, kat_client_id, 33);
	cid[5] = 'f';
	cr_assert_eq(kdf_pair_keys(k_req, k_res, ss, nonce, cid, 32, p, strlen(p), s, strlen(s)), 0);
	cr_assert(memcmp(k_req, base_req, 32) != 0 && memcmp(k_res, base_res, 32) != 0);
	snprintf(pid, sizeof pid, "%s", p);
	pid[19] = 'C';
	cr_assert_eq(kdf_pair_keys(k_req, k_res, ss, nonce, kat_client_id, 32, pid, strlen(pid), s, strlen(s)), 0);
	cr_assert(memcmp(k_req, base_req, 32) != 0 && memcmp(k_res, base_res, 32) != 0);
	snprintf(pers, sizeof pers, "%s", s);
	pers[0] = 'h';
	cr_assert_eq(kdf_pair_keys(k_req, k_res, ss, nonce, kat_client_id, 32, p, strlen(p), pers, strlen(pers)), 0);
	cr_assert(memcmp(k_req, base_req, 32) != 0 && memcmp(k_res, base_res, 32) != 0);
	/* "...AB" + "Hello" vs "...A" + "BHello": the 0x00 separator keeps them apart. */
	snprintf(pid, sizeof pid, "%s", p);
	pid[19] = '\0';
	snprintf(pers, sizeof pers, "B%s", s);
	cr_assert_eq(kdf_pair_keys(k_req, k_res, ss, nonce, kat_client_id, 32, pid, 19, pers, strlen(pers)), 0);
	cr_assert(memcmp(k_req, base_req, 32) != 0 && memcmp(k_res, base_res, 32) != 0);
}

Test(hkdf, pair_keys_reject_bad_lengths)
{
	uint8_t ss[32], nonce[32], k_req[32], k_res[32];
	char buf[PERSONALIZATION_MAX + 2];
	const char *p = "AAAAAAAAAAAAAAAA";

	kat_inputs(ss, nonce);
	memset(buf, 'a', sizeof buf);
#define BAD(...) do { \
	memset(k_req, 0xcc, 32); memset(k_res, 0xcc, 32); \
	cr_assert_eq(kdf_pair_keys(k_req, k_res, ss, nonce, __VA_ARGS__), -1); \
	for (int i_ = 0; i_ < 32; i_++) cr_assert(k_req[i_] == 0 && k_res[i_] == 0); \
} while (0)
	BAD(kat_client_id, 31, p, 16, "", 0);
	BAD(buf, 33, p, 16, "", 0);
	BAD(kat_client_id, 32, buf, PAIR_ID_MIN - 1, "", 0);
	BAD(kat_client_id, 32, buf, PAIR_ID_MAX + 1, "", 0);
	BAD(kat_client_id, 32, p, 16, buf, PERSONALIZATION_MAX + 1);
	BAD("0123456789abcdef\0" "123456789abcdef", 32, p, 16, "", 0);
	BAD(kat_client_id, 32, "AAAAAAAA\0AAAAAAA", 16, "", 0);
	BAD(kat_client_id, 32, p, 16, "ab\0c", 4);
#undef BAD
	/* The limits themselves are accepted. */
	cr_assert_eq(kdf_pair_keys(k_req, k_res, ss, nonce, kat_client_id, 32, buf, PAIR_ID_MIN, "", 0), 0);
	cr_assert_eq(kdf_pair_keys(k_req, k_res, ss, nonce, kat_client_id, 32, buf, PAIR_ID_MAX,
	                           buf, PERSONALIZATION_MAX), 0);
}

struct mk_kat {
	int dir;
	uint64_t seq;
	const char *mk;
};

static const struct mk_kat mk_kats[] = {
	{ KDF_REQ, 1, "f992be0f38cf0cfd7550c6bdb5a515690512fd2d6d1b33eda7545d7af6c6b2da" },
	{ KDF_RES, 1, "f496e330d218a79e7b9564ab969838950d221bf76ef462835bbdc9afb48226ef" },
	{ KDF_REQ, UINT64_C(0x0102030405060708),
	  "f3d6f980ce3a934e6dae2563bbacf0f2f8afdb68745f245cbab2038f47c84ed3" },
	{ KDF_RES, UINT64_MAX, "726fc5099c8f4b964ed57822f064aea0858bbed81d2c21acfa982a3adb17a8e5" },
};

Test(hkdf, message_keys_known_answers)
{
	uint8_t k[32], mk[32];

	memset(k, 0x42, sizeof k);
	for (size_t i = 0; i < sizeof mk_kats / sizeof mk_kats[0]; i++) {
		kdf_message_key(mk, k, mk_kats[i].dir, mk_kats[i].seq);
		assert_hex(mk, 32, mk_kats[i].mk, "mk");
	}
	/* Same thing through the generic Expand. */
	uint8_t info[11] = { 'r', 'e', 'q', 1, 2, 3, 4, 5, 6, 7, 8 };
	cr_assert_eq(kdf_hkdf_expand(mk, 32, k, info, sizeof info), 0);
	assert_hex(mk, 32, mk_kats[2].mk, "expand");
	/* mk may alias k. */
	kdf_message_key(k, k, KDF_RES, 1);
	assert_hex(k, 32, mk_kats[1].mk, "aliased");
}

Test(hkdf, message_keys_differ_by_seq_and_direction)
{
	uint8_t k[32], a[32], b[32];

	memset(k, 7, sizeof k);
	kdf_message_key(a, k, KDF_REQ, 5);
	kdf_message_key(b, k, KDF_RES, 5);
	cr_assert(memcmp(a, b, 32) != 0);
	kdf_message_key(b, k, KDF_REQ, 6);
	cr_assert(memcmp(a, b, 32) != 0);
	kdf_message_key(b, k, KDF_REQ, 5 | (UINT64_C(1) << 63));
	cr_assert(memcmp(a, b, 32) != 0);
}

Test(hkdf, message_key_bad_direction_aborts, .signal = SIGABRT)
{
	uint8_t k[32] = { 0 }, mk[32];

	kdf_message_key(mk, k, 2, 1);
	cr_assert_fail("returned for an invalid direction");
}

/* kdf_message_key_root gives kdf_message_key's keys: the known answers,
 * then random roots, directions and seqs; a root copied by value works. */
Test(hkdf, message_keys_from_a_root_match)
{
	uint8_t k[32], mk[32], want[32];
	struct kdf_root r, r2;

	memset(k, 0x42, sizeof k);
	kdf_root_init(&r, k);
	for (size_t i = 0; i < sizeof mk_kats / sizeof mk_kats[0]; i++) {
		kdf_message_key_root(mk, &r, mk_kats[i].dir, mk_kats[i].seq);
		assert_hex(mk, 32, mk_kats[i].mk, "mk from the root");
	}
	uint64_t x = 0x243f6a8885a308d3u;
	for (int i = 0; i < 1000; i++) {
		for (int j = 0; j < 32; j++) {
			x = x * 6364136223846793005u + 1442695040888963407u;
			k[j] = (uint8_t)(x >> 56);
		}
		int dir = (x >> 8) & 1 ? KDF_REQ : KDF_RES;
		uint64_t seq = x ^ (x >> 29);
		kdf_root_init(&r, k);
		r2 = r;
		memset(&r, 0xa5, sizeof r);     /* the copy stands alone */
		kdf_message_key(want, k, dir, seq);
		kdf_message_key_root(mk, &r2, dir, seq);
		cr_assert_eq(memcmp(mk, want, 32), 0, "case %d", i);
	}
}

Test(hkdf, message_key_root_bad_direction_aborts, .signal = SIGABRT)
{
	uint8_t k[32] = { 0 }, mk[32];
	struct kdf_root r;

	kdf_root_init(&r, k);
	kdf_message_key_root(mk, &r, 2, 1);
	cr_assert_fail("returned for an invalid direction");
}
