import {
  type CountryCode,
  isSupportedCountry,
  parsePhoneNumberFromString,
} from 'libphonenumber-js';

/** A `tel:` link's scheme (RFC 3966), as CRMs store numbers. */
const TEL_LINK = /^tel:/i;
/** A leading plus, also in brackets: `(+91) 98765 43210`. */
const PLUS = /^\(?\+/;
/** E.164: a country code and at most 15 digits in all. */
const E164 = /^\+[1-9]\d{6,14}$/;

export type PhoneResult =
  | { readonly ok: true; readonly e164: string }
  | { readonly ok: false; readonly reason: string };

/**
 * Normalises a phone number from a payload to E.164. A number without a
 * country code needs the webhook's default country: it is never guessed.
 * The check is on length per country, not on number ranges, so WhatsApp
 * stays the judge of reachability (it answers 131026) and newly opened
 * ranges are not refused on stale metadata. A number without a plus is
 * read as the default country dials it: its international prefix (`00`,
 * `011`, `810`, ...) or trunk `0` and national number; a JSON number is
 * such a number too, since it cannot carry a plus.
 */
export const normalisePhone = (
  raw: unknown,
  defaultCountry?: string
): PhoneResult => {
  if (raw === null || raw === undefined) {
    return { ok: false, reason: 'recipient is missing' };
  }
  if (typeof raw !== 'string' && typeof raw !== 'number') {
    return { ok: false, reason: `recipient is ${typeName(raw)}, not text` };
  }
  const text = String(raw)
    .trim()
    .replace(TEL_LINK, '')
    .replace(/\uff0b/g, '+');
  if (text === '') return { ok: false, reason: 'recipient is empty' };
  const international = PLUS.test(text);
  const country = toCountry(defaultCountry);
  if (!international && country === undefined) {
    return {
      ok: false,
      reason:
        'recipient has no country code and the webhook has no default country',
    };
  }
  const parsed = parsePhoneNumberFromString(
    text,
    country ? { defaultCountry: country } : undefined
  );
  if (
    parsed === undefined ||
    isSentence(text) ||
    !parsed.isPossible() ||
    !E164.test(parsed.number) ||
    !isStable(parsed.number)
  ) {
    return { ok: false, reason: 'recipient is not a possible phone number' };
  }

  return { ok: true, e164: parsed.number };
};

/** An extension at the end (`ext. 12`, `x12`, `;ext=12`), which is allowed. */
const EXTENSION = /\s*(?:;ext=|ext\.?|extension|x|#)\s*\d+\s*$/i;

/**
 * True for text with words in it: the number would be picked out of a
 * sentence ("call me on ..."), which is a guess.
 */
const isSentence = (text: string): boolean =>
  /\p{L}/u.test(text.replace(EXTENSION, ''));

/**
 * True when the number reads back as itself. A national number that
 * starts with the country's trunk digits (`0000000000` in Brazil) becomes
 * an E.164 form that reads back shorter: it was never a real number.
 */
const isStable = (e164: string): boolean =>
  parsePhoneNumberFromString(e164)?.number === e164;

const typeName = (value: unknown): string => {
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
};

const toCountry = (value: string | undefined): CountryCode | undefined =>
  value !== undefined && isSupportedCountry(value.toUpperCase())
    ? (value.toUpperCase() as CountryCode)
    : undefined;

export const isCountryCode = (value: string): boolean =>
  toCountry(value) !== undefined;

/** Runs of digits long enough to be a phone number, however written. */
const PHONE_LIKE = /\+?\d[\d\s().-]{5,}\d/g;

/** Text fit for logs and traces: every phone-like run is masked. */
export const maskPhonesInText = (text: string): string =>
  text.replace(PHONE_LIKE, (match) =>
    match.replace(/\D/g, '').length >= 7 ? maskPhone(match) : match
  );

/** A phone number fit for logs: only the last four digits remain. */
export const maskPhone = (phone: string): string => {
  const digits = phone.replace(/\D/g, '');
  return digits.length <= 4 ? '****' : `***${digits.slice(-4)}`;
};
