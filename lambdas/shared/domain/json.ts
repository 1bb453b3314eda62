/**
 * Parses JSON without losing integers larger than 2^53: such numbers come
 * back as their exact digits in a string (Shopify order ids exceed 2^53).
 * Returns `undefined` when the text is not JSON.
 */
export const parseJsonExact = (text: string): unknown => {
  try {
    return JSON.parse(text, keepLargeIntegers as JsonReviver);
  } catch {
    return undefined;
  }
};

type JsonReviver = (this: unknown, key: string, value: unknown) => unknown;

const INTEGER_TEXT = /^-?\d+$/;

// Node 21+ passes the source text of primitives to the reviver.
function keepLargeIntegers(
  _key: string,
  value: unknown,
  context?: { source?: string }
): unknown {
  if (
    typeof value === 'number' &&
    !Number.isSafeInteger(value) &&
    context?.source !== undefined &&
    INTEGER_TEXT.test(context.source)
  ) {
    return context.source;
  }

  return value;
}

/** Reads a dotted path (`data.object.id`) from parsed JSON. */
export const readPath = (value: unknown, path: string): unknown => {
  let current = value;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }

  return current;
};
