/**
 * Rendering of payload values into WhatsApp template parameters, within
 * Meta's rules (FACTS A9): no newline or tab, no run of more than four
 * spaces. Whitespace runs collapse to one space, as a person would type.
 */

/** Significant digits a fraction keeps: the float noise lies beyond. */
const PRECISION_DIGITS = 15;

/**
 * Turns a value into the text a person expects: numbers without float
 * noise or exponents, booleans as words, nothing for empty values. A list
 * of exactly one value is that value; a longer list or an object has no
 * text (the caller says why).
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

/**
 * Whole numbers as their shortest exact-enough digits (integers beyond
 * 2^53 from the payload arrive as text and never reach here); fractions
 * rounded to 15 significant digits, so 0.1 + 0.2 is 0.3. Never an
 * exponent: 1e21 is written out.
 * LIMITATION: a number joined into text inside an expression (`'x' & 1e21`, `$string`) is written by JSONata, in exponent form from 1e21 up and below 1e-6; `$formatNumber` avoids it.
 */
const renderNumber = (value: number): string | undefined => {
  if (!Number.isFinite(value)) return undefined;
  if (Object.is(value, -0)) return '0';
  const shortest = Number.isInteger(value)
    ? String(value)
    : String(Number(value.toPrecision(PRECISION_DIGITS)));

  return withoutExponent(shortest);
};

const EXPONENT_FORM = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/;

/** `1.5e-7` as `0.00000015`, `1e+21` as `1000000000000000000000`. */
const withoutExponent = (text: string): string => {
  const match = EXPONENT_FORM.exec(text);
  if (match === null) return text;
  const [, sign = '', whole = '', fraction = '', exponent = '0'] = match;
  const digits = whole + fraction;
  const point = whole.length + Number(exponent);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) {
    return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  }

  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
};

/**
 * Characters that never show and can disguise what a message says:
 * control characters, format characters (zero-width spaces, soft hyphens,
 * bidirectional overrides, tags) and the Hangul fillers used as blanks.
 * The zero-width joiner and non-joiner are format characters too, but
 * Indic and Persian words and emoji sequences need them: they are kept
 * between two visible characters and dropped anywhere else.
 */
const CONTROLS = /\p{Cc}+/gu;
const FORMAT = /[\p{Cf}\u115f\u1160\u3164\uffa0]/u;
const SEEN = String.raw`[^\s\p{Cc}\p{Cf}\u115f\u1160\u3164\uffa0]`;
const JOINERS_BETWEEN_VISIBLE = new RegExp(
  String.raw`(?<=${SEEN})[\u200c\u200d]+(?=${SEEN})`,
  'gu'
);
const FORMAT_RUN = /[\p{Cf}\u115f\u1160\u3164\uffa0]+/gu;

/** Makes text acceptable as a template parameter. */
export const sanitiseParameter = (text: string): string => {
  const visible = text
    .toWellFormed()
    .replace(CONTROLS, ' ')
    .replace(/[\u115f\u1160\u3164\uffa0]/g, ' ');
  const kept: string[] = [];
  let last = 0;
  for (const match of visible.matchAll(JOINERS_BETWEEN_VISIBLE)) {
    kept.push(dropFormat(visible.slice(last, match.index)), match[0]);
    last = match.index + match[0].length;
  }
  kept.push(dropFormat(visible.slice(last)));

  const clean = kept.join('').replace(/\s+/g, ' ').trim();
  // Marks or selectors with nothing to sit on show as nothing at all.
  return HAS_BASE.test(clean) ? clean : '';
};

/** Anything but marks, blanks and invisibles: something a reader sees. */
const HAS_BASE = /[^\p{M}\s\p{Cc}\p{Cf}\u115f\u1160\u3164\uffa0]/u;

const dropFormat = (text: string): string =>
  FORMAT.test(text) ? text.replace(FORMAT_RUN, '') : text;

/** Characters a URL carries as they are, and escapes already made. */
const NEEDS_ESCAPE =
  /%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~!$&'()*+,;=:@/?#[\]%]/gu;

/**
 * Text made safe to end or be a URL: spaces, non-ASCII letters and other
 * characters a URL cannot hold are percent-encoded as UTF-8; what is
 * already encoded stays as it is.
 */
export const encodeForUrl = (text: string): string =>
  text.replace(NEEDS_ESCAPE, (character) => encodeURIComponent(character));
