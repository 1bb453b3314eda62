import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  maskPhone,
  maskPhonesInText,
  normalisePhone,
} from '../../../lambdas/shared/domain/phone.js';

describe('normalisePhone', () => {
  it.each([
    ['9876543210', 'IN', '+919876543210'],
    ['09876543210', 'IN', '+919876543210'],
    ['00919876543210', 'IN', '+919876543210'],
    ['+91 98765 43210', undefined, '+919876543210'],
    ['(555) 555-5555', 'US', '+15555555555'],
    ['011 44 20 7946 0018', 'US', '+442079460018'],
    ['+1 555 0100 142', undefined, '+15550100142'],
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
  ])('refuses %j', (raw, reason) => {
    expect(normalisePhone(raw, 'US')).toEqual({ ok: false, reason });
  });

  it('returns E.164 or a reason for any text, never throwing', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.constantFrom('US', 'IN', 'GB', undefined),
        (raw, country) => {
          const result = normalisePhone(raw, country);
          if (result.ok) expect(result.e164).toMatch(/^\+[1-9]\d{5,14}$/);
          else expect(result.reason).not.toBe('');
        }
      )
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
