/* clientid.c - signed client ids; see clientid.h. */
#include "clientid.h"

#include <bearssl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/kdf.h"
#include "crypto/rand.h"
#include "crypto/wipe.h"
#include "hex.h"
#include "log.h"

/*
 * Constant-time testing (tests/ct): the verdict of a MAC check depends on the
 * secret but is public by design (it decides whether an id is accepted), so it is
 * declared public to valgrind before the one branch on it.
 */
#ifdef CRYPTO_CT_TESTING
#include <valgrind/memcheck.h>
#define ct_declassify(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))
#else
#define ct_declassify(p, n) ((void)(p), (void)(n))
#endif

#define MAC_LEN     32
#define ID_BYTES    (CLIENT_ID_HEX_LEN / 2)

static void
mac_of(uint8_t mac[MAC_LEN], const char *secret, size_t secret_len, const char *id)
{
	kdf_hmac(mac, secret, secret_len, id, CLIENT_ID_HEX_LEN);
}

/* 1 when a[0..n) equals b[0..n); time depends only on n. */
static uint32_t
bytes_equal(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;
	uint32_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= (uint32_t)(x[i] ^ y[i]);
	return ((acc - 1) >> 8) & 1u;
}

/* 1 when a and b are equal, 0 otherwise; time depends only on MAC_LEN. */
static uint32_t
mac_equal(const uint8_t a[MAC_LEN], const uint8_t b[MAC_LEN])
{
	return bytes_equal(a, b, MAC_LEN);
}

static void
sign_checked(char out[CLIENT_ID_SIGNED_LEN + 1], const char *id, const char *secret,
             size_t secret_len)
{
	uint8_t mac[MAC_LEN];

	mac_of(mac, secret, secret_len, id);
	memcpy(out, id, CLIENT_ID_HEX_LEN);
	out[CLIENT_ID_HEX_LEN] = '.';
	hex_encode(out + CLIENT_ID_HEX_LEN + 1, mac, MAC_LEN);
	out[CLIENT_ID_SIGNED_LEN] = '\0';
	crypto_wipe(mac, sizeof mac);
}

void
clientid_mint(char out[CLIENT_ID_SIGNED_LEN + 1], const char *secret, size_t secret_len)
{
	uint8_t raw[ID_BYTES];
	char id[CLIENT_ID_HEX_LEN];

	if (secret_len == 0) {
		log_msg(LOG_ERROR, "clientid_mint: empty secret");
		abort();
	}
	rand_bytes(raw, sizeof raw);
	hex_encode(id, raw, sizeof raw);
	sign_checked(out, id, secret, secret_len);
}

int
clientid_sign(char out[CLIENT_ID_SIGNED_LEN + 1], const char *client_id_hex,
              const char *secret, size_t secret_len)
{
	out[0] = '\0';
	if (client_id_hex == NULL || secret_len == 0 || !hex_is_lower(client_id_hex, CLIENT_ID_HEX_LEN))
		return -1;
	sign_checked(out, client_id_hex, secret, secret_len);
	return 0;
}

int
clientid_syntax_ok(const char *signed_id, size_t len)
{
	return signed_id != NULL && len == CLIENT_ID_SIGNED_LEN &&
	    hex_is_lower(signed_id, CLIENT_ID_HEX_LEN) && signed_id[CLIENT_ID_HEX_LEN] == '.' &&
	    hex_is_lower(signed_id + CLIENT_ID_HEX_LEN + 1, 2 * MAC_LEN);
}

/*
 * This process's signed ids that verified, so that a client's every
 * request does not pay for an HMAC (two of them during a rotation): a slot
 * per id, chosen by its first hex digits (public), holding the id as
 * presented and as signed under the current secret.  A hit needs the whole
 * presented id to match, compared in constant time, so it accepts exactly
 * what the MAC check accepted.  The secrets the entries were verified under
 * are kept beside them: any other secret empties the cache first.  Only ids
 * that verified are kept; a failure is always checked in full.
 */
struct id_cache_entry {
	char presented[CLIENT_ID_SIGNED_LEN];
	char current[CLIENT_ID_SIGNED_LEN];
	int  full;
};

static struct {
	struct id_cache_entry slot[CLIENT_ID_CACHE_SIZE];
	char   secret[CLIENT_ID_CACHE_SECRET_MAX], previous[CLIENT_ID_CACHE_SECRET_MAX];
	size_t secret_len, previous_len;
	int    primed;
} id_cache;

/* The slot of a syntactically valid id, or NULL when the secrets are too
 * long to keep; empties the cache when the secrets are not the ones it holds. */
static struct id_cache_entry *
id_cache_slot(const char *signed_id, const char *secret, size_t secret_len,
    const char *prev, size_t prev_len)
{
	uint32_t same;
	uint8_t first[2];

	if (secret_len > sizeof id_cache.secret || prev_len > sizeof id_cache.previous)
		return NULL;
	same = id_cache.primed && secret_len == id_cache.secret_len &&
	    prev_len == id_cache.previous_len;
	if (same)
		same = bytes_equal(secret, id_cache.secret, secret_len) &
		    bytes_equal(prev_len ? prev : "", id_cache.previous, prev_len);
	ct_declassify(&same, sizeof same);
	if (!same) {
		/* untouched until first used: nothing to wipe (and no page to dirty) */
		if (id_cache.primed)
			crypto_wipe(&id_cache, sizeof id_cache);
		memcpy(id_cache.secret, secret, secret_len);
		if (prev_len > 0)
			memcpy(id_cache.previous, prev, prev_len);
		id_cache.secret_len = secret_len;
		id_cache.previous_len = prev_len;
		id_cache.primed = 1;
	}
	if (hex_decode_lower(first, signed_id, 2) != 0)
		return NULL;
	return &id_cache.slot[((unsigned)first[0] << 8 | first[1]) % CLIENT_ID_CACHE_SIZE];
}

/* clientid_verify, and on success the id signed under secret (from the MAC
 * computed for the check) into signed_current when it is not NULL. */
static int
verify(const char *signed_id, size_t len, const char *secret, size_t secret_len,
    const char *prev_secret, size_t prev_len, char client_id_out[CLIENT_ID_HEX_LEN + 1],
    char *signed_current)
{
	const char *hex_mac;
	uint8_t got[MAC_LEN], want[MAC_LEN], want_prev[MAC_LEN];
	struct id_cache_entry *slot;
	uint32_t ok;

	client_id_out[0] = '\0';
	if (secret_len == 0 || !clientid_syntax_ok(signed_id, len))
		return -1;
	/* The presented MAC is public input: decoding it may branch. */
	hex_mac = signed_id + CLIENT_ID_HEX_LEN + 1;
	if (hex_decode_lower(got, hex_mac, MAC_LEN) != 0)
		return -1;

	slot = id_cache_slot(signed_id, secret, secret_len, prev_secret,
	    prev_secret != NULL ? prev_len : 0);
	if (slot != NULL && slot->full) {
		ok = bytes_equal(slot->presented, signed_id, CLIENT_ID_SIGNED_LEN);
		ct_declassify(&ok, sizeof ok);
		if (ok) {
			if (signed_current != NULL) {
				memcpy(signed_current, slot->current, CLIENT_ID_SIGNED_LEN);
				signed_current[CLIENT_ID_SIGNED_LEN] = '\0';
			}
			memcpy(client_id_out, signed_id, CLIENT_ID_HEX_LEN);
			client_id_out[CLIENT_ID_HEX_LEN] = '\0';
			return 0;
		}
	}

	mac_of(want, secret, secret_len, signed_id);
	ok = mac_equal(got, want);
	if (prev_secret != NULL && prev_len > 0) {
		mac_of(want_prev, prev_secret, prev_len, signed_id);
		ok |= mac_equal(got, want_prev);
		crypto_wipe(want_prev, sizeof want_prev);
	}
	ct_declassify(&ok, sizeof ok);
	if (ok && slot != NULL) {
		memcpy(slot->presented, signed_id, CLIENT_ID_SIGNED_LEN);
		memcpy(slot->current, signed_id, CLIENT_ID_HEX_LEN);
		slot->current[CLIENT_ID_HEX_LEN] = '.';
		hex_encode(slot->current + CLIENT_ID_HEX_LEN + 1, want, MAC_LEN);
		slot->full = 1;
	}
	if (ok && signed_current != NULL) {
		memcpy(signed_current, signed_id, CLIENT_ID_HEX_LEN);
		signed_current[CLIENT_ID_HEX_LEN] = '.';
		hex_encode(signed_current + CLIENT_ID_HEX_LEN + 1, want, MAC_LEN);
		signed_current[CLIENT_ID_SIGNED_LEN] = '\0';
	}
	crypto_wipe(want, sizeof want);
	if (!ok)
		return -1;
	memcpy(client_id_out, signed_id, CLIENT_ID_HEX_LEN);
	client_id_out[CLIENT_ID_HEX_LEN] = '\0';
	return 0;
}

int
clientid_verify(const char *signed_id, size_t len, const char *secret, size_t secret_len,
                const char *prev_secret, size_t prev_len,
                char client_id_out[CLIENT_ID_HEX_LEN + 1])
{
	return verify(signed_id, len, secret, secret_len, prev_secret, prev_len, client_id_out,
	    NULL);
}

int
clientid_check_echo(const char *signed_id, size_t len, const char *secret, const char *previous,
                    char client_id_out[CLIENT_ID_HEX_LEN + 1],
                    char signed_current[CLIENT_ID_SIGNED_LEN + 1])
{
	return verify(signed_id, len, secret, strlen(secret), previous,
	    previous != NULL ? strlen(previous) : 0, client_id_out, signed_current);
}

int
clientid_check(const char *signed_id, size_t len, const char *secret, const char *previous,
               char client_id_out[CLIENT_ID_HEX_LEN + 1])
{
	return clientid_verify(signed_id, len, secret, strlen(secret), previous,
	    previous != NULL ? strlen(previous) : 0, client_id_out);
}
