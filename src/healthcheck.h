/*
 * healthcheck.h - `mte-relay --healthcheck`: one GET /api/mte-echo to the
 * relay running on this host (a container's HEALTHCHECK has no curl).
 */
#ifndef MTE_HEALTHCHECK_H
#define MTE_HEALTHCHECK_H

#include <stdio.h>

/*
 * Connects to the relay listening on bind_addr:port -- the loopback address
 * when bind_addr is a wildcard ("::", "0.0.0.0") -- sends one GET
 * /api/mte-echo and reads the status line, all within HEALTHCHECK_TIMEOUT_S.
 * Returns 0 when the status is 200, else 1, after writing one line saying
 * why to err.  tls: the relay serves HTTPS (TLS_CERT_FILE set), so the
 * probe speaks TLS 1.2; it does not verify the certificate chain or name
 * (it reaches its own port; see tls_probe), only that a TLS server answers
 * with an unexpired certificate and a 200.
 */
int healthcheck_run(const char *bind_addr, unsigned port, int tls, FILE *err);

#endif
