/**
 * The one error type of the collector: a failure with an HTTP status and a stable code that a
 * client or operator can act on. Decoding errors come from the protocol package as ProtocolError
 * and are answered the same way.
 */
export class CollectorError extends Error {
  constructor(
    public readonly code: string,
    message: string,
    public readonly status: number = 400,
  ) {
    super(message);
    this.name = 'CollectorError';
  }
}
