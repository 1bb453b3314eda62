import { describe, expect, it } from 'vitest';
import {
  parseJsonExact,
  readPath,
} from '../../../lambdas/shared/domain/json.js';
import { payload } from '../../fixtures/payloads.js';

describe('parseJsonExact', () => {
  it('keeps integers beyond 2^53 as their exact digits', () => {
    const order = parseJsonExact(
      payload('shopify-orders-create.json').toString()
    );

    expect(readPath(order, 'id')).toBe('820982911946154508');
    expect(readPath(order, 'order_number')).toBe(1234);
  });

  it('keeps escaped characters as the text they stand for', () => {
    const value = parseJsonExact(
      '{"url":"https:\\/\\/x.test\\/a?b=1\\u0026c=2"}'
    );

    expect(value).toEqual({ url: 'https://x.test/a?b=1&c=2' });
  });

  it('returns undefined for text that is not JSON', () => {
    expect(parseJsonExact('webhook_id=12')).toBeUndefined();
  });
});
