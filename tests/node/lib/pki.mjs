// pki.mjs - a throwaway certificate authority made with the openssl CLI in a
// temporary folder, for the relay's own HTTPS (TLS_CERT_FILE, TLS_KEY_FILE):
// leaf certificates with RSA or EC keys for localhost and 127.0.0.1, signed
// by an EC CA, with any validity window (openssl ca -startdate/-enddate),
// and the base64 SHA-256 of a leaf's SPKI (Chromium's
// --ignore-certificate-errors-spki-list).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { createHash, X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const run = (dir, args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });

export function makeCA() {
  const dir = mkdtempSync(join(tmpdir(), 'mte-pki-'));
  run(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '3', '-subj', '/CN=mte-relay test CA']);
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  writeFileSync(join(dir, 'ca.cnf'), [
    '[ca]', 'default_ca = d',
    '[d]', 'dir = .', 'database = index.txt', 'new_certs_dir = .', 'serial = serial',
    'default_md = sha256', 'policy = p', 'copy_extensions = none', 'unique_subject = no',
    'x509_extensions = leaf',
    '[p]', 'commonName = supplied',
    '[leaf]', 'subjectAltName = DNS:localhost,IP:127.0.0.1', 'basicConstraints = CA:FALSE',
    'keyUsage = digitalSignature,keyEncipherment', 'extendedKeyUsage = serverAuth', '',
  ].join('\n'));
  let n = 0;
  const ca = {
    dir,
    caFile: join(dir, 'ca.pem'),
    /**
     * A new leaf: key 'rsa' (2048 bits), 'rsa4096', 'rsa:BITS', 'ec' (P-256), 'ec384' or 'ec521';
     * start/end as YYYYMMDDHHMMSSZ (default: valid now for a day).  Returns
     * {cert (leaf only), chain (leaf + CA), key, serial (upper-case hex)}.
     */
    leaf(key = 'rsa', { start, end } = {}) {
      const name = `leaf${++n}`;
      const bits = key === 'rsa4096' ? 4096 : key.startsWith('rsa:') ? Number(key.slice(4)) : 2048;
      const keyArgs = key.startsWith('rsa') ? ['-newkey', `rsa:${bits}`]
        : ['-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${{ ec384: 'P-384', ec521: 'P-521' }[key] ?? 'P-256'}`];
      run(dir, ['req', ...keyArgs, '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=localhost']);
      const dates = start || end
        ? ['-startdate', start || '20200101000000Z', '-enddate', end || '20991231000000Z']
        : ['-days', '1'];
      run(dir, ['ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-notext',
        '-in', `${name}.csr`, '-out', `${name}.pem`, ...dates]);
      const cert = join(dir, `${name}.pem`);
      const chain = join(dir, `${name}-chain.pem`);
      writeFileSync(chain, readFileSync(cert, 'utf8') + readFileSync(ca.caFile, 'utf8'));
      return { cert, chain, key: join(dir, `${name}.key`), serial: new X509Certificate(readFileSync(cert)).serialNumber };
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  return ca;
}

/** base64(sha256(SubjectPublicKeyInfo)) of the certificate in file. */
export function spkiHash(file) {
  const spki = new X509Certificate(readFileSync(file)).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}
