/*
 * kdf.h - HKDF-SHA256 (RFC 5869) and the mte-relay key schedule
 * (protocol.md, sections Pairing and Message keys).
 *
 * Nothing here allocates; every secret intermediate is wiped before return.
 */
#ifndef MTE_KDF_H
#define MTE_KDF_H

#include <stddef.h>
#include <stdint.h>

#define KDF_HASH_LEN        32                  /* SHA-256 output, HKDF PRK length */
#define KDF_EXPAND_MAX      (255 * KDF_HASH_LEN) /* RFC 5869: L <= 255 * HashLen */

/* Direction of a message key. */
#define KDF_REQ 0   /* client -> relay, mk_req from k_req, info "req" || u64be(seq) */
#define KDF_RES 1   /* relay -> client, mk_res from k_res, info "res" || u64be(seq) */

/* SHA-256(data) into out: the one digest of src/ (relay key ids, the
 * /metrics token comparison).  Wipes its state. */
void kdf_sha256(uint8_t out[KDF_HASH_LEN], const void *data, size_t len);

/*
 * HMAC-SHA256(key, msg) into out: the one HMAC of src/ (client id MACs,
 * answer keys and tags, pinned pairing, HKDF).  key may be NULL when
 * key_len == 0.  Wipes its state.
 */
void kdf_hmac(uint8_t out[KDF_HASH_LEN], const void *key, size_t key_len, const void *msg,
              size_t msg_len);

/*
 * HKDF-Extract: prk = HMAC-SHA256(salt, ikm).  salt may be NULL when
 * salt_len == 0; an empty salt is the same as 32 zero bytes (RFC 5869 2.2).
 */
void kdf_hkdf_extract(uint8_t prk[KDF_HASH_LEN], const void *salt, size_t salt_len,
                      const void *ikm, size_t ikm_len);

/*
 * HKDF-Expand from a given 32-byte PRK: okm = T(1) || T(2) || ... cut to
 * okm_len, T(i) = HMAC-SHA256(prk, T(i-1) || info || i).  Returns 0, or -1
 * (nothing written) when okm_len > KDF_EXPAND_MAX.  okm must not overlap prk.
 */
int kdf_hkdf_expand(uint8_t *okm, size_t okm_len, const uint8_t prk[KDF_HASH_LEN],
                    const void *info, size_t info_len);

/*
 * Full HKDF (Extract then Expand), computed by BearSSL's br_hkdf.  Returns 0,
 * or -1 (nothing written) when okm_len > KDF_EXPAND_MAX.
 */
int kdf_hkdf(uint8_t *okm, size_t okm_len, const void *salt, size_t salt_len,
             const void *ikm, size_t ikm_len, const void *info, size_t info_len);

/*
 * Pair keys from an X-Wing shared secret (protocol.md, Pairing):
 *   okm = HKDF(salt = nonce, ikm = ss,
 *              info = "mte-relay/1 pair" 0x00 clientId 0x00 P 0x00 S, 64)
 *   k_req = okm[0..32), k_res = okm[32..64)
 * client_id is the 32-character hex client id (without its signature),
 * pair_id P and pers S are the strings of the pairing entry, none
 * NUL-terminated.  The caller validates them; this function checks only
 * what keeps the info string unambiguous and bounded, and returns -1 (both
 * keys zeroed) when client_id_len != CLIENT_ID_HEX_LEN, pair_id_len is not
 * in [PAIR_ID_MIN, PAIR_ID_MAX], pers_len > PERSONALIZATION_MAX, or any of
 * the three contains a 0x00 byte.  Returns 0 otherwise.
 */
int kdf_pair_keys(uint8_t k_req[KDF_HASH_LEN], uint8_t k_res[KDF_HASH_LEN],
                  const uint8_t ss[32], const uint8_t nonce[32],
                  const char *client_id, size_t client_id_len,
                  const char *pair_id, size_t pair_id_len,
                  const char *pers, size_t pers_len);

/*
 * Message key for sequence number seq (protocol.md, Message keys):
 *   mk = HKDF-Expand(PRK = k, "req" || u64be(seq), 32)   dir == KDF_REQ, k = k_req
 *   mk = HKDF-Expand(PRK = k, "res" || u64be(seq), 32)   dir == KDF_RES, k = k_res
 * Any seq is computed (the protocol never uses 0; callers check that).
 * dir is a constant at every call site: any other value is a programming
 * error and aborts.  mk may alias k.
 */
void kdf_message_key(uint8_t mk[KDF_HASH_LEN], const uint8_t k[KDF_HASH_LEN], int dir,
                     uint64_t seq);

/*
 * A message-key root (a pair's k_req or k_res) with its HMAC key schedule
 * made once: kdf_message_key_root then costs two SHA-256 compressions, not
 * four, and gives exactly kdf_message_key's mk.  The state is key material:
 * the owner wipes it (crypto_wipe) with the keys.  Opaque; copyable.
 */
#define KDF_ROOT_OPAQUE 160
struct kdf_root {
	_Alignas(16) unsigned char opaque[KDF_ROOT_OPAQUE];
};

/* Makes *r from k (KDF_HASH_LEN bytes). */
void kdf_root_init(struct kdf_root *r, const uint8_t k[KDF_HASH_LEN]);

/* kdf_message_key(mk, k, dir, seq) for the k that *r was made from; dir
 * as there (any other value aborts). */
void kdf_message_key_root(uint8_t mk[KDF_HASH_LEN], const struct kdf_root *r, int dir,
                          uint64_t seq);

#endif
