/* kdf.c - HKDF-SHA256 and the protocol key schedule; see kdf.h. */
#include "crypto/kdf.h"

#include <bearssl.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/wipe.h"
#include "limits.h"
#include "log.h"

#define PAIR_LABEL      "mte-relay/1 pair"
#define PAIR_LABEL_LEN  (sizeof PAIR_LABEL - 1)
/* label 0x00 clientId 0x00 P 0x00 S, at the longest accepted lengths */
#define PAIR_INFO_MAX   (PAIR_LABEL_LEN + 1 + CLIENT_ID_HEX_LEN + 1 + PAIR_ID_MAX + 1 + \
                         PERSONALIZATION_MAX)

void
kdf_sha256(uint8_t out[KDF_HASH_LEN], const void *data, size_t len)
{
	br_sha256_context h;

	br_sha256_init(&h);
	br_sha256_update(&h, data, len);
	br_sha256_out(&h, out);
	crypto_wipe(&h, sizeof h);
}

void
kdf_hmac(uint8_t out[KDF_HASH_LEN], const void *key, size_t key_len, const void *msg,
         size_t msg_len)
{
	br_hmac_key_context kc;
	br_hmac_context hc;

	br_hmac_key_init(&kc, &br_sha256_vtable, key_len ? key : "", key_len);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, msg, msg_len);
	br_hmac_out(&hc, out);
	crypto_wipe(&hc, sizeof hc);
	crypto_wipe(&kc, sizeof kc);
}

void
kdf_hkdf_extract(uint8_t prk[KDF_HASH_LEN], const void *salt, size_t salt_len,
                 const void *ikm, size_t ikm_len)
{
	kdf_hmac(prk, salt, salt_len, ikm, ikm_len);
}

/* HKDF-Expand with info given as two pieces (so callers need not concatenate). */
static void
hkdf_expand2(uint8_t *okm, size_t okm_len, const uint8_t prk[KDF_HASH_LEN],
             const void *info1, size_t len1, const void *info2, size_t len2)
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	uint8_t t[KDF_HASH_LEN];
	size_t done = 0;
	unsigned char i = 0;

	br_hmac_key_init(&kc, &br_sha256_vtable, prk, KDF_HASH_LEN);
	while (done < okm_len) {
		size_t n = okm_len - done < KDF_HASH_LEN ? okm_len - done : KDF_HASH_LEN;
		i++;
		br_hmac_init(&hc, &kc, 0);
		if (i > 1)
			br_hmac_update(&hc, t, sizeof t);
		br_hmac_update(&hc, info1, len1);
		br_hmac_update(&hc, info2, len2);
		br_hmac_update(&hc, &i, 1);
		br_hmac_out(&hc, t);
		memcpy(okm + done, t, n);
		done += n;
	}
	crypto_wipe(t, sizeof t);
	crypto_wipe(&hc, sizeof hc);
	crypto_wipe(&kc, sizeof kc);
}

int
kdf_hkdf_expand(uint8_t *okm, size_t okm_len, const uint8_t prk[KDF_HASH_LEN],
                const void *info, size_t info_len)
{
	if (okm_len > KDF_EXPAND_MAX)
		return -1;
	hkdf_expand2(okm, okm_len, prk, info, info_len, "", 0);
	return 0;
}

int
kdf_hkdf(uint8_t *okm, size_t okm_len, const void *salt, size_t salt_len,
         const void *ikm, size_t ikm_len, const void *info, size_t info_len)
{
	br_hkdf_context hc;

	if (okm_len > KDF_EXPAND_MAX)
		return -1;
	/* salt_len == 0 is "present but empty", which HMAC treats exactly like
	 * the RFC's absent salt (HashLen zero bytes). */
	br_hkdf_init(&hc, &br_sha256_vtable, salt_len ? salt : "", salt_len);
	br_hkdf_inject(&hc, ikm, ikm_len);
	br_hkdf_flip(&hc);
	br_hkdf_produce(&hc, info, info_len, okm, okm_len);
	crypto_wipe(&hc, sizeof hc);
	return 0;
}

static int
has_nul(const char *s, size_t len)
{
	return len > 0 && memchr(s, 0, len) != NULL;
}

int
kdf_pair_keys(uint8_t k_req[KDF_HASH_LEN], uint8_t k_res[KDF_HASH_LEN],
              const uint8_t ss[32], const uint8_t nonce[32],
              const char *client_id, size_t client_id_len,
              const char *pair_id, size_t pair_id_len,
              const char *pers, size_t pers_len)
{
	uint8_t info[PAIR_INFO_MAX];
	uint8_t okm[2 * KDF_HASH_LEN];
	size_t n = 0;

	if (client_id_len != CLIENT_ID_HEX_LEN
	    || pair_id_len < PAIR_ID_MIN || pair_id_len > PAIR_ID_MAX
	    || pers_len > PERSONALIZATION_MAX
	    || has_nul(client_id, client_id_len) || has_nul(pair_id, pair_id_len)
	    || has_nul(pers, pers_len)) {
		memset(k_req, 0, KDF_HASH_LEN);
		memset(k_res, 0, KDF_HASH_LEN);
		return -1;
	}
	memcpy(info + n, PAIR_LABEL, PAIR_LABEL_LEN);
	n += PAIR_LABEL_LEN;
	info[n++] = 0x00;
	memcpy(info + n, client_id, client_id_len);
	n += client_id_len;
	info[n++] = 0x00;
	memcpy(info + n, pair_id, pair_id_len);
	n += pair_id_len;
	info[n++] = 0x00;
	if (pers_len > 0)
		memcpy(info + n, pers, pers_len);
	n += pers_len;

	kdf_hkdf(okm, sizeof okm, nonce, 32, ss, 32, info, n);
	memcpy(k_req, okm, KDF_HASH_LEN);
	memcpy(k_res, okm + KDF_HASH_LEN, KDF_HASH_LEN);
	crypto_wipe(okm, sizeof okm);
	return 0;
}

/* The info of a message key: "req" or "res", then seq as 8 bytes big-endian. */
static void
message_info(uint8_t info[3 + 8], int dir, uint64_t seq)
{
	if (dir == KDF_REQ) {
		memcpy(info, "req", 3);
	} else if (dir == KDF_RES) {
		memcpy(info, "res", 3);
	} else {
		log_msg(LOG_ERROR, "kdf_message_key: invalid direction %d", dir);
		abort();
	}
	for (int i = 0; i < 8; i++)
		info[3 + i] = (uint8_t)(seq >> (56 - 8 * i));
}

void
kdf_message_key(uint8_t mk[KDF_HASH_LEN], const uint8_t k[KDF_HASH_LEN], int dir,
                uint64_t seq)
{
	uint8_t info[3 + 8];
	uint8_t out[KDF_HASH_LEN];

	message_info(info, dir, seq);
	/* Through a local buffer so that mk may alias k. */
	hkdf_expand2(out, sizeof out, k, info, sizeof info, "", 0);
	memcpy(mk, out, sizeof out);
	crypto_wipe(out, sizeof out);
}

_Static_assert(sizeof(br_hmac_key_context) <= KDF_ROOT_OPAQUE, "KDF_ROOT_OPAQUE too small");
_Static_assert(_Alignof(br_hmac_key_context) <= 16, "struct kdf_root alignment");

void
kdf_root_init(struct kdf_root *r, const uint8_t k[KDF_HASH_LEN])
{
	memset(r, 0, sizeof *r);
	br_hmac_key_init((br_hmac_key_context *)(void *)r->opaque, &br_sha256_vtable, k,
	    KDF_HASH_LEN);
}

void
kdf_message_key_root(uint8_t mk[KDF_HASH_LEN], const struct kdf_root *r, int dir,
                     uint64_t seq)
{
	uint8_t info[3 + 8], one = 1;
	br_hmac_context hc;

	message_info(info, dir, seq);
	/* HKDF-Expand of one block: T(1) = HMAC(PRK, info || 0x01) */
	br_hmac_init(&hc, (const br_hmac_key_context *)(const void *)r->opaque, 0);
	br_hmac_update(&hc, info, sizeof info);
	br_hmac_update(&hc, &one, 1);
	br_hmac_out(&hc, mk);
	crypto_wipe(&hc, sizeof hc);
}
