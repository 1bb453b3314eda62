import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  maskPhone,
  maskPhonesInText,
  normalisePhone,
} from '../../../lambdas/shared/domain/phone.js';

const E164 = /^\+[1-9]\d{6,14}$/;

const country = fc.constantFrom('US', 'IN', 'GB', 'DE', 'BR', 'AR', undefined);

/** Digits with the punctuation people put in phone numbers, or anything. */
const phoneLike = fc.oneof(
  fc.string({
    unit: fc.constantFrom(...'0123456789 +-().', '00', '011', 'tel:', 'x'),
    maxLength: 24,
  }),
  fc.string(),
  fc.integer({ min: 0, max: 99_999_999_999_999 })
);

/** Fake numbers in each country's national form, trunk 0 included. */
const NUMBERS = [
  { country: 'US', code: '1', idd: '011', national: '5550100142' },
  { country: 'IN', code: '91', idd: '00', national: '09876543210' },
  { country: 'GB', code: '44', idd: '00', national: '07700900123' },
  { country: 'DE', code: '49', idd: '00', national: '030123456789' },
] as const;

/** The same number as payloads write it, punctuated by the seed. */
const writings = (
  number: (typeof NUMBERS)[number],
  national: string,
  seed: number
): string[] => {
  const bare = national.replace(/^0/, '');
  const separators = [' ', '-', '.', '', ' - '];
  const split = (digits: string) => {
    const size = 2 + (seed % 3);
    const groups = digits.match(new RegExp(`.{1,${size}}`, 'g')) ?? [];
    return groups.join(separators[seed % separators.length]);
  };

  return [
    national,
    split(national),
    `+${number.code} ${split(bare)}`,
    `+${number.code}${bare}`,
    `(+${number.code}) ${bare}`,
    `${number.idd} ${number.code} ${split(bare)}`,
    `${number.idd}${number.code}${bare}`,
    `tel:+${number.code}-${split(bare)}`,
    `  ${split(national)}  `,
  ];
};

describe('normalisePhone', () => {
  it.each([
    ['9876543210', 'IN', '+919876543210'],
    ['09876543210', 'IN', '+919876543210'],
    ['00919876543210', 'IN', '+919876543210'],
    ['+91 98765 43210', undefined, '+919876543210'],
    ['(555) 555-5555', 'US', '+15555555555'],
    ['011 44 20 7946 0018', 'US', '+442079460018'],
    ['+1 555 0100 142', undefined, '+15550100142'],
    // International dialling prefixes, as the default country dials them.
    ['0049 30 1234567', 'DE', '+49301234567'],
    ['00 1 555 010 0142', 'IN', '+15550100142'],
    ['011 91 98765 43210', 'US', '+919876543210'],
    ['0033 1 23 45 67 89', 'FR', '+33123456789'],
    ['810 44 20 7946 0018', 'RU', '+442079460018'],
    // Trunk prefixes and the country code typed without its plus.
    ['07700 900123', 'GB', '+447700900123'],
    ['+44 (0)7700 900123', undefined, '+447700900123'],
    ['91 98765 43210', 'IN', '+919876543210'],
    ['98765-43210', 'IN', '+919876543210'],
    // Punctuation, tel: links and other ways of writing the plus.
    ['(555) 010.0142', 'US', '+15550100142'],
    ['tel:+1-555-010-0142', undefined, '+15550100142'],
    ['TEL:+15550100142', undefined, '+15550100142'],
    ['(+91) 98765 43210', undefined, '+919876543210'],
    ['+91 98765 43210 ext. 12', undefined, '+919876543210'],
    ['\uff0b1 555 010 0142', undefined, '+15550100142'],
    ['+1\u00a0555\u2011010\u20110142', undefined, '+15550100142'],
    // A JSON number field: the digits as typed, so national.
    [15550100142, 'US', '+15550100142'],
    [9876543210, 'IN', '+919876543210'],
  ])('normalises %j with default country %s to %s', (raw, country, e164) => {
    expect(normalisePhone(raw, country)).toEqual({ ok: true, e164 });
  });

  it('never guesses the country of a national number', () => {
    expect(normalisePhone('9876543210')).toEqual({
      ok: false,
      reason:
        'recipient has no country code and the webhook has no default country',
    });
  });

  it.each([
    [null, 'recipient is missing'],
    [true, 'recipient is a boolean, not text'],
    [{ phone: '+15550100142' }, 'recipient is an object, not text'],
    ['   ', 'recipient is empty'],
    ['555-555-SHIP', 'recipient is not a possible phone number'],
    ['+1 555', 'recipient is not a possible phone number'],
    ['001 555 010 0142', 'recipient is not a possible phone number'],
    ['call me on 555 010 0142', 'recipient is not a possible phone number'],
    ['+15550100142, +15550100143', 'recipient is not a possible phone number'],
    [1e21, 'recipient is not a possible phone number'],
  ])('refuses %j', (raw, reason) => {
    expect(normalisePhone(raw, 'US')).toEqual({ ok: false, reason });
  });

  it.each([
    ['00919876543210'],
    ['09876543210'],
    ['919876543210'],
    [919876543210],
    ['tel:9876543210'],
  ])('never guesses a country for %j without a default', (raw) => {
    expect(normalisePhone(raw)).toEqual({
      ok: false,
      reason:
        'recipient has no country code and the webhook has no default country',
    });
  });

  it('refuses a number longer than E.164 allows', () => {
    expect(normalisePhone('+49 30 1234 5678 9012 34')).toEqual({
      ok: false,
      reason: 'recipient is not a possible phone number',
    });
  });

  it('returns E.164 or a reason for any text, never throwing', () => {
    fc.assert(
      fc.property(phoneLike, country, (raw, defaultCountry) => {
        const result = normalisePhone(raw, defaultCountry);
        if (result.ok) expect(result.e164).toMatch(E164);
        else expect(result.reason).toMatch(/^recipient /);
      }),
      { numRuns: 500 }
    );
  });

  it('gives its own output back unchanged, whatever the default country', () => {
    fc.assert(
      fc.property(phoneLike, country, country, (raw, first, second) => {
        const result = normalisePhone(raw, first);
        fc.pre(result.ok);
        if (!result.ok) return;
        expect(normalisePhone(result.e164, second)).toEqual(result);
      }),
      { numRuns: 500 }
    );
  });

  it('normalises every way of writing one number to the same E.164', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...NUMBERS),
        fc.stringMatching(/^\d{3}$/),
        fc.nat(),
        (number, tail, seed) => {
          const national = number.national.slice(0, -3) + tail;
          const expected = normalisePhone(
            `+${number.code}${national.replace(/^0/, '')}`
          );
          fc.pre(expected.ok);
          for (const written of writings(number, national, seed)) {
            expect([written, normalisePhone(written, number.country)]).toEqual([
              written,
              expected,
            ]);
          }
        }
      ),
      { numRuns: 300 }
    );
  });
});

describe('maskPhone', () => {
  it('keeps only the last four digits', () => {
    expect(maskPhone('+15550100142')).toBe('***0142');
  });

  it('never reveals more than four digits of any input', () => {
    fc.assert(
      fc.property(fc.string(), (raw) => {
        expect(maskPhone(raw).replace(/\D/g, '').length).toBeLessThanOrEqual(4);
      })
    );
  });
});

describe('maskPhonesInText', () => {
  it('masks every phone-like run and leaves other numbers alone', () => {
    const text = 'Unable to cast "+1 (555) 010-7777x"; order 1234, id 20251201';

    expect(maskPhonesInText(text)).toBe(
      'Unable to cast "***7777x"; order 1234, id ***1201'
    );
  });
});
