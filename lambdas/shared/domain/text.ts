/**
 * Rendering of payload values into WhatsApp template parameters, within
 * Meta's rules (FACTS A9): no newline or tab, no run of more than four
 * spaces. Whitespace runs collapse to one space, as a person would type.
 */

/** Longest exactly representable integer digits before exponent form. */
const PRECISION_DIGITS = 15;

/**
 * Turns a value into the text a person expects: numbers without float
 * noise or exponents, booleans as words, nothing for empty values.
 */
export const renderValue = (value: unknown): string | undefined => {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return renderNumber(value);
  if (Array.isArray(value) && value.length === 1) return renderValue(value[0]);

  return undefined;
};

const renderNumber = (value: number): string | undefined => {
  if (!Number.isFinite(value)) return undefined;
  if (Number.isInteger(value)) return BigInt(value).toString();
  const rounded = Number(value.toPrecision(PRECISION_DIGITS));

  return rounded.toLocaleString('en-US', {
    useGrouping: false,
    maximumFractionDigits: 20,
  });
};

/**
 * Control characters (NUL, escape, ...) and invisible format characters
 * (zero-width spaces, bidirectional overrides) that have no place in a
 * message and can disguise what it says.
 */
const CONTROL_CHARACTERS =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: they are the target.
  /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;

/** Makes text acceptable as a template parameter. */
export const sanitiseParameter = (text: string): string =>
  text.replace(CONTROL_CHARACTERS, ' ').replace(/\s+/g, ' ').trim();
