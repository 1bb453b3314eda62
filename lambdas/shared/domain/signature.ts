import {
  createHmac,
  createSecretKey,
  type KeyObject,
  timingSafeEqual,
} from 'node:crypto';
import { findHeader, type HeaderMap } from './http.js';

export type HmacAlgorithm = 'sha1' | 'sha256' | 'sha512';

/** Where the signatures sit in their header value. */
export type SignatureLayout =
  /** The signature alone, after an optional prefix such as `sha256=`. */
  | { readonly kind: 'plain'; readonly prefix?: string }
  /** Comma-separated `key=value` pairs, as in Stripe's `t=…,v1=…`. */
  | {
      readonly kind: 'keyed';
      readonly signatureKey: string;
      readonly timestampKey: string;
    }
  /** Space-separated `version,signature` entries (Standard Webhooks). */
  | { readonly kind: 'versioned'; readonly version: string };

/**
 * How the shared secret becomes the HMAC key:
 * - `text`: its UTF-8 bytes, as typed (Stripe keeps the `whsec_` prefix);
 * - `whsec-base64`: base64 after an optional `whsec_` (Standard Webhooks);
 * - `html-entities`: HTML entities decoded first, as WooCommerce does.
 */
export type SecretFormat = 'text' | 'whsec-base64' | 'html-entities';

/**
 * A provider's signing scheme, as data. `signedContent` is the signed
 * string: `{body}` stands for the raw body bytes, `{timestamp}` and `{id}`
 * for those values exactly as sent.
 */
export interface SignatureScheme {
  readonly header: readonly string[];
  readonly algorithm: HmacAlgorithm;
  readonly encoding: 'hex' | 'base64';
  readonly layout: SignatureLayout;
  readonly signedContent: string;
  /** Headers carrying the timestamp, when it is not in the signature. */
  readonly timestampHeader?: readonly string[];
  /** Headers carrying the message id that `{id}` stands for. */
  readonly idHeader?: readonly string[];
  /** @default 'text' */
  readonly secretFormat?: SecretFormat;
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

// Up to 16 digits, so a timestamp sent in milliseconds by mistake is
// refused as outside the tolerance, which names the actual problem.
const TIMESTAMP_TEXT = /^\d{1,16}$/;
const HEX_TEXT = /^(?:[0-9a-fA-F]{2})+$/;
const BASE64_TEXT = /^[A-Za-z0-9+/]+={0,2}$/;
const WHSEC_PREFIX = 'whsec_';

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
  const parsed = parseHeader(scheme, headerValue, request.headers);
  const id = scheme.idHeader && findHeader(request.headers, scheme.idHeader);
  if (!isComplete(scheme, parsed, id)) {
    return { ok: false, reason: 'signature_malformed' };
  }

  const content = signedParts(scheme, request.body, parsed.timestamp, id);
  const candidates = parsed.signatures
    .map((text) => decodeDigest(text, scheme.encoding))
    .filter((digest): digest is Buffer => digest !== undefined);
  const matched = secrets.some((secret) => {
    const key = secretKey(scheme.secretFormat, secret);
    return (
      key !== undefined &&
      matchesAny(hmac(scheme.algorithm, key, content), candidates)
    );
  });
  if (!matched) return { ok: false, reason: 'signature_mismatch' };

  return judgeTimestamp(scheme, parsed.timestamp, nowSeconds);
};

/**
 * Signs a body the way the scheme's provider does and returns the headers
 * to send. Used to sign test events and the stand-in's callbacks.
 */
export const signRequest = (
  scheme: SignatureScheme,
  body: Buffer,
  secret: string,
  nowSeconds: number,
  id = 'msg_wapto_test'
): Record<string, string> => {
  const timestamp = String(Math.floor(nowSeconds));
  const key = secretKey(scheme.secretFormat, secret);
  const [name] = scheme.header;
  if (name === undefined || key === undefined) {
    throw new Error('The scheme names no header or the secret is unusable.');
  }
  const digest = hmac(
    scheme.algorithm,
    key,
    signedParts(scheme, body, timestamp, id)
  ).toString(scheme.encoding);
  const headers: Record<string, string> = {
    [name]: headerValueFor(scheme.layout, digest, timestamp),
  };
  const [timestampName] = scheme.timestampHeader ?? [];
  if (timestampName) headers[timestampName] = timestamp;
  const [idName] = scheme.idHeader ?? [];
  if (idName) headers[idName] = id;

  return headers;
};

const headerValueFor = (
  layout: SignatureLayout,
  digest: string,
  timestamp: string
): string => {
  if (layout.kind === 'plain') return `${layout.prefix ?? ''}${digest}`;
  if (layout.kind === 'versioned') return `${layout.version},${digest}`;

  return `${layout.timestampKey}=${timestamp},${layout.signatureKey}=${digest}`;
};

const isComplete = (
  scheme: SignatureScheme,
  parsed: ParsedHeader,
  id: string | undefined
): boolean => {
  const needsTimestamp = scheme.signedContent.includes('{timestamp}');
  const timestampOk =
    !needsTimestamp ||
    (parsed.timestamp !== undefined && TIMESTAMP_TEXT.test(parsed.timestamp));
  const idOk = !scheme.signedContent.includes('{id}') || Boolean(id);

  return parsed.signatures.length > 0 && timestampOk && idOk;
};

const parseHeader = (
  scheme: SignatureScheme,
  value: string,
  headers: HeaderMap
): ParsedHeader => {
  const layout = scheme.layout;
  const timestamp =
    scheme.timestampHeader && findHeader(headers, scheme.timestampHeader);
  if (layout.kind === 'plain') {
    // A repeated header arrives comma-joined; digests never hold a comma.
    const prefix = (layout.prefix ?? '').toLowerCase();
    const signatures = value
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry.toLowerCase().startsWith(prefix))
      .map((entry) => entry.slice(prefix.length));

    return { signatures, timestamp: timestamp?.trim() };
  }
  if (layout.kind === 'versioned') {
    const wanted = `${layout.version},`;
    // Space-separated; a repeated header adds a joining comma.
    const signatures = value
      .split(/\s+/)
      .map((entry) => entry.replace(/,+$/, ''))
      .filter((entry) => entry.startsWith(wanted))
      .map((entry) => entry.slice(wanted.length));

    return { signatures, timestamp: timestamp?.trim() };
  }

  return parseKeyed(layout, value);
};

const parseKeyed = (
  layout: { readonly signatureKey: string; readonly timestampKey: string },
  value: string
): ParsedHeader => {
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

/** The signed string's pieces, hashed in turn without copying the body. */
const signedParts = (
  scheme: SignatureScheme,
  body: Buffer,
  timestamp: string | undefined,
  id: string | undefined
): (Buffer | string)[] =>
  scheme.signedContent
    .split(/(\{body\}|\{timestamp\}|\{id\})/)
    .filter((part) => part !== '')
    .map((part) => {
      if (part === '{body}') return body;
      if (part === '{timestamp}') return timestamp ?? '';
      if (part === '{id}') return id ?? '';
      return part;
    });

/**
 * The HMAC key, or `undefined` when the secret cannot be one. Text keys
 * stay strings and binary keys become cached key objects: Node hashes with
 * either several times faster than with a raw buffer.
 */
const secretKey = (
  format: SecretFormat = 'text',
  secret: string
): string | KeyObject | undefined => {
  if (format === 'text') return secret;
  if (format === 'html-entities') return decodeHtmlEntities(secret);
  const encoded = secret.startsWith(WHSEC_PREFIX)
    ? secret.slice(WHSEC_PREFIX.length)
    : secret;
  if (!BASE64_TEXT.test(encoded)) return undefined;
  let key = binaryKeys.get(encoded);
  if (key === undefined) {
    key = createSecretKey(Buffer.from(encoded, 'base64'));
    if (binaryKeys.size >= MAX_CACHED_KEYS) binaryKeys.clear();
    binaryKeys.set(encoded, key);
  }

  return key;
};

const MAX_CACHED_KEYS = 1_000;
const binaryKeys = new Map<string, KeyObject>();

// The entities WordPress's wp_specialchars_decode() turns back with
// ENT_QUOTES before WooCommerce hashes with the secret.
const HTML_ENTITIES: Readonly<Record<string, string>> = {
  '&amp;': '&',
  '&#038;': '&',
  '&#x26;': '&',
  '&lt;': '<',
  '&#060;': '<',
  '&gt;': '>',
  '&#062;': '>',
  '&quot;': '"',
  '&#034;': '"',
  '&#x22;': '"',
  '&#039;': "'",
  '&#x27;': "'",
};

const decodeHtmlEntities = (text: string): string =>
  text.replace(
    /&(?:amp|lt|gt|quot|#0?38|#x26|#0?60|#0?62|#0?34|#x22|#0?39|#x27);/gi,
    (entity) => HTML_ENTITIES[normaliseEntity(entity)] ?? entity
  );

const normaliseEntity = (entity: string): string => {
  const lower = entity.toLowerCase();
  return /^&#\d\d;$/.test(lower) ? `&#0${lower.slice(2)}` : lower;
};

const hmac = (
  algorithm: HmacAlgorithm,
  key: string | KeyObject,
  parts: readonly (Buffer | string)[]
): Buffer => {
  const mac = createHmac(algorithm, key);
  for (const part of parts) mac.update(part);

  return mac.digest();
};

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
  if (timestamp === undefined || !TIMESTAMP_TEXT.test(timestamp)) {
    return { ok: true };
  }
  const signedAt = Number(timestamp);
  const tolerance = scheme.toleranceSeconds;
  if (tolerance !== undefined && Math.abs(nowSeconds - signedAt) > tolerance) {
    return { ok: false, reason: 'timestamp_outside_tolerance' };
  }

  return { ok: true, timestamp: signedAt };
};
