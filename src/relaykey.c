/* relaykey.c - the relay's static keys (see relaykey.h). */
#include "relaykey.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "crypto/b64.h"
#include "crypto/kdf.h"
#include "crypto/rand.h"
#include "crypto/wipe.h"
#include "hex.h"

#define KEY_FILE_PREFIX "mte-relay-key/1 "
#define SEED_B64_LEN    43          /* b64url of XWING_SEED_LEN bytes */

static struct relay_key keys[2];    /* current, previous */
static size_t key_count;

/* The key of seed: its public key and id. */
static void
derive(struct relay_key *k, const uint8_t seed[XWING_SEED_LEN])
{
	uint8_t digest[32];

	memcpy(k->seed, seed, XWING_SEED_LEN);
	xwing_keygen(k->pk, seed);
	kdf_sha256(digest, k->pk, sizeof k->pk);
	hex_encode(k->id, digest, RELAY_KEY_ID_LEN / 2);
	k->id[RELAY_KEY_ID_LEN] = '\0';
}

/* Reads one key file into k.  0, or -1 with err naming setting. */
static int
load_one(struct relay_key *k, const char *setting, const char *path, char *err, size_t errlen)
{
	char text[RELAY_KEY_FILE_MAX + 1];
	uint8_t seed[XWING_SEED_LEN];
	size_t n = 0, plen = strlen(KEY_FILE_PREFIX);
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open %s: %s", setting, path, strerror(errno));
		return -1;
	}
	/* one byte more than the limit is read, so that a longer file is refused,
	 * not cut to a prefix that might parse */
	while (n < sizeof text && (got = read(fd, text + n, sizeof text - n)) > 0)
		n += (size_t)got;
	close(fd);
	if (n > RELAY_KEY_FILE_MAX) {
		crypto_wipe(text, sizeof text);
		snprintf(err, errlen, "%s: %s is longer than %d bytes", setting, path, RELAY_KEY_FILE_MAX);
		return -1;
	}
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		n--;
	if (n != plen + SEED_B64_LEN || memcmp(text, KEY_FILE_PREFIX, plen) != 0 ||
	    b64url_decode(seed, sizeof seed, text + plen, SEED_B64_LEN) != XWING_SEED_LEN) {
		crypto_wipe(text, sizeof text);
		snprintf(err, errlen, "%s: %s is not a key file of mte-relay --generate-relay-key", setting,
		    path);
		return -1;
	}
	derive(k, seed);
	crypto_wipe(seed, sizeof seed);
	crypto_wipe(text, sizeof text);
	return 0;
}

int
relay_key_load(const char *path, const char *previous_path, char *err, size_t errlen)
{
	key_count = 0;
	if (path != NULL && load_one(&keys[key_count++], "RELAY_KEY_FILE", path, err, errlen) != 0)
		return -1;
	if (previous_path != NULL) {
		if (load_one(&keys[key_count], "RELAY_KEY_FILE_PREVIOUS", previous_path, err,
		    errlen) != 0)
			return -1;
		if (key_count == 1 && strcmp(keys[0].id, keys[1].id) == 0) {
			snprintf(err, errlen, "RELAY_KEY_FILE_PREVIOUS: holds the same key as RELAY_KEY_FILE");
			return -1;
		}
		key_count++;
	}
	return 0;
}

const struct relay_key *
relay_key_find(const char *id, size_t len)
{
	size_t i;

	for (i = 0; i < key_count; i++)
		if (len == RELAY_KEY_ID_LEN && memcmp(keys[i].id, id, len) == 0)
			return &keys[i];
	return NULL;
}

int
relay_key_loaded(void)
{
	return key_count > 0;
}

int
relay_key_generate(const char *path, FILE *out, char *err, size_t errlen)
{
	static struct relay_key k;
	static char pk64[XWING_PK_LEN * 4 / 3 + 4];
	char line[sizeof KEY_FILE_PREFIX + SEED_B64_LEN + 2];
	uint8_t seed[XWING_SEED_LEN];
	int fd, n, ok;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "--generate-relay-key: cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	rand_bytes(seed, sizeof seed);
	derive(&k, seed);
	memcpy(line, KEY_FILE_PREFIX, strlen(KEY_FILE_PREFIX));
	b64url_encode(line + strlen(KEY_FILE_PREFIX), sizeof line - strlen(KEY_FILE_PREFIX), seed,
	    sizeof seed);
	n = (int)strlen(line);
	line[n++] = '\n';
	ok = write(fd, line, (size_t)n) == n && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	crypto_wipe(seed, sizeof seed);
	crypto_wipe(line, sizeof line);
	if (!ok) {
		snprintf(err, errlen, "--generate-relay-key: cannot write %s: %s", path, strerror(errno));
		unlink(path);
		crypto_wipe(&k, sizeof k);
		return -1;
	}
	b64url_encode(pk64, sizeof pk64, k.pk, sizeof k.pk);
	fprintf(out, "relay key written to %s\npublic key: %s\nkey id: %s\n", path, pk64, k.id);
	crypto_wipe(&k, sizeof k);
	return 0;
}
