/**
 * The one error type of the protocol package: what is wrong with a client's bytes, with the HTTP
 * status the collector answers and a stable machine-readable code.
 */
export class ProtocolError extends Error {
  constructor(
    public readonly code: string,
    message: string,
    public readonly status: 400 | 404 | 413 | 415 = 400,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}
