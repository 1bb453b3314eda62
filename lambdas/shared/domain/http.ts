/** Header names as API Gateway's payload 2.0 delivers them: lower-case. */
export type HeaderMap = Readonly<Record<string, string | undefined>>;

/**
 * Returns the first present header among `names`, matching any case.
 * Repeated headers arrive comma-joined, which callers parse themselves.
 */
export const findHeader = (
  headers: HeaderMap,
  names: readonly string[]
): string | undefined => {
  const wanted = new Set(names.map((name) => name.toLowerCase()));
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && wanted.has(name.toLowerCase())) return value;
  }
  return undefined;
};

/** Lower-cases every header name, keeping the first value of duplicates. */
export const normaliseHeaders = (
  headers: HeaderMap
): Record<string, string> => {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const key = name.toLowerCase();
    if (value !== undefined && !(key in result)) result[key] = value;
  }
  return result;
};

/**
 * The exact bytes the provider sent. API Gateway hands non-text bodies over
 * base64-encoded; signatures are computed over the decoded bytes.
 */
export const rawBodyBytes = (
  body: string | undefined,
  isBase64Encoded: boolean
): Buffer => {
  if (body === undefined) return Buffer.alloc(0);

  return isBase64Encoded
    ? Buffer.from(body, 'base64')
    : Buffer.from(body, 'utf8');
};
