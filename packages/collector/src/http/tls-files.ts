// The certificate and key for HTTPS (--tls-cert, --tls-key), read and checked before the server
// starts, so that a mistake names the flag and the file.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { CollectorError } from '../errors.js';

/** A PEM file for TLS, or an error that names the flag and the file (not Node's bare ENOENT). */
function readPem(path: string, flag: string): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (error) {
    throw new CollectorError('invalid_tls', `${flag} ${path} cannot be read: ${(error as Error).message}`);
  }
  if (!pem.includes('-----BEGIN ')) {
    throw new CollectorError('invalid_tls', `${flag} ${path} is not a PEM file (it has no -----BEGIN line)`);
  }
  return pem;
}

/**
 * The certificate and key for HTTPS, checked here so that a mistake names the flags and files:
 * OpenSSL's own messages ("PEM routines::no start line", "key values mismatch") name neither.
 */
export function tlsFiles(certPath: string, keyPath: string): { cert: Buffer; key: Buffer } {
  const cert = readPem(certPath, '--tls-cert');
  const key = readPem(keyPath, '--tls-key');
  const isCert = (pem: Buffer) => pem.includes('-----BEGIN CERTIFICATE-----');
  const isKey = (pem: Buffer) => /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem.toString('latin1'));
  if (!isCert(cert) && isKey(cert) && isCert(key))
    throw new CollectorError(
      'invalid_tls',
      `--tls-cert ${certPath} holds a private key and --tls-key ${keyPath} a certificate: the two are swapped`,
    );
  if (!isCert(cert))
    throw new CollectorError(
      'invalid_tls',
      `--tls-cert ${certPath} holds no certificate (-----BEGIN CERTIFICATE-----)`,
    );
  if (!isKey(key))
    throw new CollectorError(
      'invalid_tls',
      `--tls-key ${keyPath} holds no private key (-----BEGIN … PRIVATE KEY-----)`,
    );
  try {
    createSecureContext({ cert, key });
    // The server presents the file's first certificate: it must be the key's (a key of another
    // type, or a chain with the leaf not first, passes createSecureContext and fails every handshake).
    if (!new X509Certificate(cert).checkPrivateKey(createPrivateKey(key)))
      throw new Error('key values mismatch');
  } catch (error) {
    const reason = (error as Error).message;
    throw new CollectorError(
      'invalid_tls',
      /key values mismatch/.test(reason)
        ? `--tls-key ${keyPath} is not the private key of the first certificate in --tls-cert ${certPath} (a chain file starts with the server's own certificate)`
        : `--tls-cert ${certPath} with --tls-key ${keyPath} cannot be used: ${reason}` +
            (/ENCRYPTED|bad decrypt|passphrase/i.test(`${reason} ${key.toString('latin1', 0, 200)}`)
              ? ' (the key is encrypted: give the collector an unencrypted key, readable by it alone)'
              : ''),
    );
  }
  return { cert, key };
}
