/*
 * clientid.h - signed client ids (protocol.md, section Identity).
 *
 *   clientId = 16 random bytes as 32 lower-case hex characters
 *   signed   = clientId "." hex(HMAC-SHA256(CLIENT_ID_SECRET, clientId))
 *
 * The HMAC input is the 32-character hex string itself.  The signed form is
 * exactly CLIENT_ID_SIGNED_LEN (97) characters, all hex lower-case.  MACs
 * are compared in constant time.  Secrets must be non-empty (the
 * configuration guarantees it); nothing here logs them.
 */
#ifndef MTE_CLIENTID_H
#define MTE_CLIENTID_H

#include <stddef.h>

#include "limits.h"

/*
 * Mints a fresh client id (16 bytes from rand_bytes) and writes its signed
 * form under secret, NUL-terminated, to out.  An empty secret is a
 * programming error and aborts.
 */
void clientid_mint(char out[CLIENT_ID_SIGNED_LEN + 1], const char *secret, size_t secret_len);

/*
 * Writes the signed form of client_id_hex under secret, NUL-terminated, to
 * out.  client_id_hex is read up to CLIENT_ID_HEX_LEN characters (it need
 * not be NUL-terminated; reading stops at the first bad character).  Returns
 * 0, or -1 (out set to "") when those are not exactly 32 lower-case hex
 * characters or secret_len == 0.  Used to answer with the current secret an
 * id that verified under the previous one.
 */
int clientid_sign(char out[CLIENT_ID_SIGNED_LEN + 1], const char *client_id_hex,
                  const char *secret, size_t secret_len);

/*
 * Verifies signed_id[0..len) (no terminator needed).  Valid means: len is
 * exactly CLIENT_ID_SIGNED_LEN; 32 lower-case hex characters, '.', 64
 * lower-case hex characters; and the MAC equals HMAC-SHA256 of the first 32
 * characters under secret or, when prev_secret != NULL and prev_len > 0,
 * under prev_secret (rotation).  Both MACs are computed and compared in
 * constant time whichever matches.  Returns 0 and writes the 32-character
 * client id, NUL-terminated, to client_id_out; otherwise -1 with
 * client_id_out set to "" (also when secret_len == 0).
 */
int clientid_verify(const char *signed_id, size_t len, const char *secret, size_t secret_len,
                    const char *prev_secret, size_t prev_len,
                    char client_id_out[CLIENT_ID_HEX_LEN + 1]);

/* 1 when signed_id[0..len) has the signed form's syntax (length, case,
 * the '.'); says nothing of the MAC. */
int clientid_syntax_ok(const char *signed_id, size_t len);

/* clientid_verify under NUL-terminated secrets, as configured: secret (the
 * current CLIENT_ID_SECRET) and previous (CLIENT_ID_SECRET_PREVIOUS or
 * NULL).  The one call every route makes. */
int clientid_check(const char *signed_id, size_t len, const char *secret, const char *previous,
                   char client_id_out[CLIENT_ID_HEX_LEN + 1]);

/* clientid_check that, on success, also writes to signed_current the id
 * signed under secret (the one to echo, as clientid_sign would make it) from
 * the MAC the check computed: one HMAC less per request.  On failure
 * signed_current is left as it was. */
int clientid_check_echo(const char *signed_id, size_t len, const char *secret, const char *previous,
                        char client_id_out[CLIENT_ID_HEX_LEN + 1],
                        char signed_current[CLIENT_ID_SIGNED_LEN + 1]);

#endif
