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

/* 1 when a and b are equal, 0 otherwise; time depends only on MAC_LEN. */
static uint32_t
mac_equal(const uint8_t a[MAC_LEN], const uint8_t b[MAC_LEN])
{
	uint32_t acc = 0;

	for (size_t i = 0; i < MAC_LEN; i++)
		acc |= (uint32_t)(a[i] ^ b[i]);
	/* acc in 0..255: acc - 1 borrows into bit 8 exactly when acc == 0 */
	return ((acc - 1) >> 8) & 1u;
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

/* clientid_verify, and on success the id signed under secret (from the MAC
 * computed for the check) into signed_current when it is not NULL. */
static int
verify(const char *signed_id, size_t len, const char *secret, size_t secret_len,
    const char *prev_secret, size_t prev_len, char client_id_out[CLIENT_ID_HEX_LEN + 1],
    char *signed_current)
{
	const char *hex_mac;
	uint8_t got[MAC_LEN], want[MAC_LEN], want_prev[MAC_LEN];
	uint32_t ok;

	client_id_out[0] = '\0';
	if (secret_len == 0 || !clientid_syntax_ok(signed_id, len))
		return -1;
	/* The presented MAC is public input: decoding it may branch. */
	hex_mac = signed_id + CLIENT_ID_HEX_LEN + 1;
	if (hex_decode_lower(got, hex_mac, MAC_LEN) != 0)
		return -1;

	mac_of(want, secret, secret_len, signed_id);
	ok = mac_equal(got, want);
	if (prev_secret != NULL && prev_len > 0) {
		mac_of(want_prev, prev_secret, prev_len, signed_id);
		ok |= mac_equal(got, want_prev);
		crypto_wipe(want_prev, sizeof want_prev);
	}
	ct_declassify(&ok, sizeof ok);
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
