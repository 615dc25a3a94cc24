/*
 * relaykey.h - the relay's static X-Wing keys (PROTOCOL.md section 12):
 * RELAY_KEY_FILE and RELAY_KEY_FILE_PREVIOUS, loaded once in the parent
 * (workers inherit them), and `--generate-relay-key FILE`.
 */
#ifndef MTE_RELAYKEY_H
#define MTE_RELAYKEY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "crypto/xwing.h"
#include "limits.h"

#define RELAY_KEY_ID_LEN   16      /* hex characters: the first 8 bytes of SHA-256(pk) */

struct relay_key {
	char    id[RELAY_KEY_ID_LEN + 1];
	uint8_t seed[XWING_SEED_LEN];
	uint8_t pk[XWING_PK_LEN];
};

/*
 * Loads the key files (either may be NULL).  Returns 0, or -1 with a
 * sentence in err that names the setting (RELAY_KEY_FILE or
 * RELAY_KEY_FILE_PREVIOUS): unreadable, not a key file, the same key twice.
 */
int relay_key_load(const char *path, const char *previous_path, char *err, size_t errlen);

/* The loaded key whose id is id[0..len), or NULL (also when none is loaded). */
const struct relay_key *relay_key_find(const char *id, size_t len);

/* 1 when at least one key is loaded. */
int relay_key_loaded(void);

/*
 * Writes a fresh key to path (created, mode 0600; an existing file is an
 * error) and prints its public key and id to out.  Returns 0, or -1 with a
 * sentence in err.
 */
int relay_key_generate(const char *path, FILE *out, char *err, size_t errlen);

#endif
