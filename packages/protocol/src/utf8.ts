// UTF-8 decoding that keeps a leading U+FEFF. A TextDecoder drops a byte order mark at the start of
// what it decodes unless told not to, and protobuf-es decodes each string field with one: a
// RisingWave connector or event name that starts with U+FEFF lost it (and "\uFEFF" became empty).
// The wire format has no BOMs, only strings, so every string decoder here keeps them.
import { configureTextEncoding } from '@bufbuild/protobuf/wire';

const encoder = new TextEncoder();
const lenient = new TextDecoder('utf-8', { ignoreBOM: true });
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes UTF-8 exactly, BOM included; throws a TypeError on invalid bytes. */
export function decodeUtf8Strict(bytes: Uint8Array): string {
  return strict.decode(bytes);
}

configureTextEncoding({
  encodeUtf8: (text) => encoder.encode(text),
  decodeUtf8: (bytes, isStrict) => (isStrict ? strict : lenient).decode(bytes),
  checkUtf8: (text) => {
    try {
      encodeURIComponent(text); // throws URIError on a lone surrogate, as protobuf-es's own check
      return true;
    } catch {
      return false;
    }
  },
});
