import { createHmac, timingSafeEqual } from 'node:crypto';
import { findHeader, type HeaderMap } from './http.js';

export type HmacAlgorithm = 'sha1' | 'sha256' | 'sha512';

/** Where the signature sits in its header value. */
export type SignatureLayout =
  /** The signature alone, after an optional prefix such as `sha256=`. */
  | { readonly kind: 'plain'; readonly prefix?: string }
  /** Comma-separated `key=value` pairs, as in Stripe's `t=…,v1=…`. */
  | {
      readonly kind: 'keyed';
      readonly signatureKey: string;
      readonly timestampKey: string;
    };

/**
 * A provider's signing scheme, as data. `signedContent` is the string that
 * was signed, with `{body}` standing for the raw body bytes and
 * `{timestamp}` for the timestamp exactly as sent.
 */
export interface SignatureScheme {
  readonly header: readonly string[];
  readonly algorithm: HmacAlgorithm;
  readonly encoding: 'hex' | 'base64';
  readonly layout: SignatureLayout;
  readonly signedContent: string;
  /** Allowed distance between the signed time and arrival, either way. */
  readonly toleranceSeconds?: number;
}

export type SignatureFailure =
  | 'signature_missing'
  | 'signature_malformed'
  | 'signature_mismatch'
  | 'timestamp_outside_tolerance';

export type VerifyResult =
  | { readonly ok: true; readonly timestamp?: number }
  | { readonly ok: false; readonly reason: SignatureFailure };

export interface SignedRequest {
  readonly body: Buffer;
  readonly headers: HeaderMap;
}

interface ParsedHeader {
  readonly signatures: readonly string[];
  readonly timestamp?: string;
}

const TIMESTAMP_TEXT = /^\d{1,12}$/;
const HEX_TEXT = /^(?:[0-9a-fA-F]{2})+$/;
const BASE64_TEXT = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Verifies a request against a scheme with any of the given secrets (more
 * than one during a rotation overlap). Comparison is constant-time over the
 * decoded digests, and the timestamp is judged only once a signature
 * matched, so a forger learns nothing from the reason.
 */
export const verifySignature = (
  scheme: SignatureScheme,
  request: SignedRequest,
  secrets: readonly string[],
  nowSeconds: number
): VerifyResult => {
  const headerValue = findHeader(request.headers, scheme.header);
  if (headerValue === undefined || headerValue.trim() === '') {
    return { ok: false, reason: 'signature_missing' };
  }
  const parsed = parseHeader(scheme.layout, headerValue);
  const needsTimestamp = scheme.signedContent.includes('{timestamp}');
  const timestampMissing =
    needsTimestamp &&
    (parsed.timestamp === undefined || !TIMESTAMP_TEXT.test(parsed.timestamp));
  if (parsed.signatures.length === 0 || timestampMissing) {
    return { ok: false, reason: 'signature_malformed' };
  }

  const content = signedContent(scheme, request.body, parsed.timestamp);
  const candidates = parsed.signatures
    .map((text) => decodeDigest(text, scheme.encoding))
    .filter((digest): digest is Buffer => digest !== undefined);
  const matched = secrets.some((secret) =>
    matchesAny(hmac(scheme.algorithm, secret, content), candidates)
  );
  if (!matched) return { ok: false, reason: 'signature_mismatch' };

  return judgeTimestamp(scheme, parsed.timestamp, nowSeconds);
};

/**
 * Signs a body the way the scheme's provider does and returns the header
 * to send. Used to sign test events and the stand-in's callbacks.
 */
export const signRequest = (
  scheme: SignatureScheme,
  body: Buffer,
  secret: string,
  nowSeconds: number
): Record<string, string> => {
  const timestamp = String(Math.floor(nowSeconds));
  const content = signedContent(scheme, body, timestamp);
  const digest = hmac(scheme.algorithm, secret, content).toString(
    scheme.encoding
  );
  const [name] = scheme.header;
  if (name === undefined) throw new Error('Scheme names no header.');
  const value =
    scheme.layout.kind === 'plain'
      ? `${scheme.layout.prefix ?? ''}${digest}`
      : `${scheme.layout.timestampKey}=${timestamp},` +
        `${scheme.layout.signatureKey}=${digest}`;

  return { [name]: value };
};

const parseHeader = (layout: SignatureLayout, value: string): ParsedHeader => {
  if (layout.kind === 'plain') {
    const text = value.trim();
    const prefix = layout.prefix ?? '';
    const hasPrefix = text.toLowerCase().startsWith(prefix.toLowerCase());

    return { signatures: hasPrefix ? [text.slice(prefix.length)] : [] };
  }
  const signatures: string[] = [];
  let timestamp: string | undefined;
  for (const pair of value.split(',')) {
    const separator = pair.indexOf('=');
    if (separator < 0) continue;
    const key = pair.slice(0, separator).trim();
    const item = pair.slice(separator + 1).trim();
    if (key === layout.signatureKey) signatures.push(item);
    if (key === layout.timestampKey) timestamp ??= item;
  }

  return { signatures, timestamp };
};

const signedContent = (
  scheme: SignatureScheme,
  body: Buffer,
  timestamp: string | undefined
): Buffer => {
  const parts = scheme.signedContent.split(/(\{body\}|\{timestamp\})/);

  return Buffer.concat(
    parts.map((part) => {
      if (part === '{body}') return body;
      if (part === '{timestamp}') return Buffer.from(timestamp ?? '', 'utf8');
      return Buffer.from(part, 'utf8');
    })
  );
};

const hmac = (
  algorithm: HmacAlgorithm,
  secret: string,
  content: Buffer
): Buffer => createHmac(algorithm, secret).update(content).digest();

const decodeDigest = (
  text: string,
  encoding: 'hex' | 'base64'
): Buffer | undefined => {
  const pattern = encoding === 'hex' ? HEX_TEXT : BASE64_TEXT;
  return pattern.test(text) ? Buffer.from(text, encoding) : undefined;
};

const matchesAny = (expected: Buffer, candidates: readonly Buffer[]) =>
  candidates.some(
    (candidate) =>
      candidate.length === expected.length &&
      timingSafeEqual(candidate, expected)
  );

const judgeTimestamp = (
  scheme: SignatureScheme,
  timestamp: string | undefined,
  nowSeconds: number
): VerifyResult => {
  if (timestamp === undefined) return { ok: true };
  const signedAt = Number(timestamp);
  const tolerance = scheme.toleranceSeconds;
  if (tolerance !== undefined && Math.abs(nowSeconds - signedAt) > tolerance) {
    return { ok: false, reason: 'timestamp_outside_tolerance' };
  }

  return { ok: true, timestamp: signedAt };
};
