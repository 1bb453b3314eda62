import { describe, expect, it } from 'vitest';
import {
  createWebhookSchema,
  newWebhook,
} from '../../../lambdas/shared/domain/webhook.js';

const base = { name: 'CRM', provider: 'standard-webhooks' } as const;

describe('a webhook spacing per recipient', () => {
  it('keeps the minGapSeconds an admin asks for', () => {
    const input = createWebhookSchema.parse({ ...base, minGapSeconds: 30 });

    const { webhook } = newWebhook(input, new Date('2026-12-03T10:00:00Z'));

    expect(webhook.minGapSeconds).toBe(30);
  });

  it('leaves it out when not given, so the sender default applies', () => {
    const { webhook } = newWebhook(
      createWebhookSchema.parse(base),
      new Date('2026-12-03T10:00:00Z')
    );

    expect(webhook).not.toHaveProperty('minGapSeconds');
  });

  it.each([-1, 1.5, 86_401, '6'])('refuses %s', (minGapSeconds) => {
    const result = createWebhookSchema.safeParse({ ...base, minGapSeconds });

    expect(result.success).toBe(false);
  });
});
