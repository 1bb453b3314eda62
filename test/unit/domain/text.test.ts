import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeForUrl,
  renderValue,
  sanitiseParameter,
} from '../../../lambdas/shared/domain/text.js';

/** Characters a reader cannot see: controls, format characters, fillers. */
const INVISIBLE = /[\p{Cc}\p{Cf}\u115f\u1160\u3164\uffa0]/u;
/** A character that shows by itself: not a mark, blank or invisible. */
const BASE = /[^\p{M}\s\p{Cc}\p{Cf}\u115f\u1160\u3164\uffa0]/u;
/** A joiner is kept only between two characters a reader sees. */
const VISIBLE = /[^\s\p{Cc}\p{Cf}\u115f\u1160\u3164\uffa0]/u;

const invisibleOutsideJoins = (text: string): boolean =>
  [...text].some((char, index, chars) => {
    if (!INVISIBLE.test(char)) return false;
    if (char !== '\u200c' && char !== '\u200d') return true;
    const before = chars.slice(0, index).reverse();
    const after = chars.slice(index + 1);
    const neighbour = (side: string[]) =>
      side.find((c) => c !== '\u200c' && c !== '\u200d');
    return !(
      VISIBLE.test(neighbour(before) ?? ' ') &&
      VISIBLE.test(neighbour(after) ?? ' ')
    );
  });

/** Text as payloads carry it: letters, scripts, emoji, and the bad parts. */
const payloadText = fc.string({
  unit: fc.oneof(
    fc.constantFrom(
      ' ',
      '  ',
      '\n',
      '\r\n',
      '\t',
      '\u00a0',
      '\u2028',
      '\u0000',
      '\u001b',
      '\u007f',
      '\u0085',
      '\u00ad',
      '\u200b',
      '\u200c',
      '\u200d',
      '\u200e',
      '\u202e',
      '\u2060',
      '\u2066',
      '\ufeff',
      '\u3164',
      '\u{e0041}',
      '\ud800',
      'क्ष',
      'نام',
      '👨',
      '\u{1f469}\u200d\u{1f4bb}',
      'é'
    ),
    fc.string({ unit: 'grapheme', maxLength: 3 }),
    fc.string({ unit: 'binary', maxLength: 3 })
  ),
  maxLength: 40,
});

describe('sanitiseParameter', () => {
  it.each([
    ['line one\nline two\r\n\tend', 'line one line two end'],
    ['a      b', 'a b'],
    ['  padded  ', 'padded'],
    ['a\u0000b\u001bc', 'a b c'],
    ['pay\u202emoc.live\u200b', 'paymoc.live'],
    ['soft\u00adhyphen and word\u2060joiner', 'softhyphen and wordjoiner'],
    ['\u3164\u3164', ''],
    ['lone \ud800 surrogate', 'lone \ufffd surrogate'],
  ])('cleans %j to %j', (raw, expected) => {
    expect(sanitiseParameter(raw)).toBe(expected);
  });

  it('keeps the joiners that Indic, Persian and emoji text need', () => {
    const text = 'क्\u200dष می\u200cخواهم \u{1f469}\u200d\u{1f4bb}';

    expect(sanitiseParameter(text)).toBe(text);
  });

  it('drops a joiner with nothing to join', () => {
    expect(sanitiseParameter('\u200dstart end\u200c and \u200d alone')).toBe(
      'start end and alone'
    );
  });

  it('never leaves a newline, a tab or five spaces in a row', () => {
    fc.assert(
      fc.property(payloadText, (raw) => {
        expect(sanitiseParameter(raw)).not.toMatch(/[\n\r\t]| {5,}/);
      })
    );
  });

  it('never leaves a control or invisible character outside a join', () => {
    fc.assert(
      fc.property(payloadText, (raw) => {
        expect(invisibleOutsideJoins(sanitiseParameter(raw))).toBe(false);
      })
    );
  });

  it('is idempotent', () => {
    fc.assert(
      fc.property(payloadText, (raw) => {
        const once = sanitiseParameter(raw);
        expect(sanitiseParameter(once)).toBe(once);
      })
    );
  });

  it('never empties text that has something to read', () => {
    fc.assert(
      fc.property(payloadText, (raw) => {
        // Something other than marks, which show only on a character.
        fc.pre(BASE.test(raw));
        expect(sanitiseParameter(raw)).not.toBe('');
      })
    );
  });

  it('returns well-formed text with no whitespace at either end', () => {
    fc.assert(
      fc.property(payloadText, (raw) => {
        const clean = sanitiseParameter(raw);
        expect(clean.isWellFormed()).toBe(true);
        expect(clean).toBe(clean.trim());
      })
    );
  });
});

describe('renderValue', () => {
  it.each([
    [0.1 + 0.2, '0.3'],
    [34.629999999999995, '34.63'],
    [19.99 * 3, '59.97'],
    [1.005 * 1000, '1005'],
    [1e21, '1000000000000000000000'],
    [-1e21, '-1000000000000000000000'],
    [1e-7, '0.0000001'],
    [1.5e-25, '0.00000000000000000000000015'],
    [2 ** 53 + 2, '9007199254740994'],
    [-0, '0'],
    [12, '12'],
    [true, 'true'],
    ['820982911946154508', '820982911946154508'],
    [['only'], 'only'],
  ])('renders %j as %j', (value, expected) => {
    expect(renderValue(value)).toBe(expected);
  });

  it.each([
    [null],
    [undefined],
    [Number.NaN],
    [Number.POSITIVE_INFINITY],
    [[]],
    [['a', 'b']],
    [{ a: 1 }],
  ])('has no text for %j', (value) => {
    expect(renderValue(value)).toBeUndefined();
  });

  it('never writes a number in exponent form or with float noise', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (n) => {
        const text = renderValue(n) ?? '';
        expect(text).toMatch(/^-?\d+(\.\d+)?$/);
        const digits = text.replace(/^-?0*\.?0*|\.|0+$/g, '');
        expect(digits.length).toBeLessThanOrEqual(17);
        if (!Number.isInteger(n)) {
          expect(digits.length).toBeLessThanOrEqual(15);
        }
      })
    );
  });

  it('keeps the value of any number it writes to 15 significant digits', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (n) => {
        const back = Number(renderValue(n));
        const scale = Math.abs(n) === 0 ? 1 : Math.abs(n);
        expect(Math.abs(back - n) / scale).toBeLessThan(1e-14);
      })
    );
  });
});

describe('values with nothing visible', () => {
  it.each([
    ['a lone variation selector', '\ufe0f'],
    ['combining marks with no letter', '\u0301\u0301'],
    ['marks between spaces', ' \u0301 \ufe0f '],
  ])('comes out empty for %s', (_label, text) => {
    expect(sanitiseParameter(text)).toBe('');
  });

  it('keeps marks that sit on a letter, and emoji', () => {
    expect(sanitiseParameter('Jose\u0301 ❤\ufe0f')).toBe('Jose\u0301 ❤\ufe0f');
  });
});

describe('encodeForUrl', () => {
  it.each([
    ['checkout/pi_123', 'checkout/pi_123'],
    ['a b/c?d=é', 'a%20b/c?d=%C3%A9'],
    ['already%20encoded', 'already%20encoded'],
    ['100% sure', '100%25%20sure'],
    ['quote"and<angle>', 'quote%22and%3Cangle%3E'],
  ])('makes %j a valid part of a URL', (text, expected) => {
    expect(encodeForUrl(text)).toBe(expected);
  });
});
