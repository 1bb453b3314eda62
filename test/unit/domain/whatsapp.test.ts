import { describe, expect, it } from 'vitest';
import { judgeSendResponse } from '../../../lambdas/shared/domain/whatsapp.js';

const graphError = (code: number, details = 'detail') => ({
  error: {
    message: `(#${code}) message`,
    type: 'OAuthException',
    code,
    error_data: { messaging_product: 'whatsapp', details },
    fbtrace_id: 'trace',
  },
});

describe('judgeSendResponse', () => {
  it('reads the wamid of an accepted message', () => {
    const body = {
      messaging_product: 'whatsapp',
      contacts: [{ input: '+15550100142', wa_id: '15550100142' }],
      messages: [{ id: 'wamid.abc' }],
    };

    expect(judgeSendResponse(200, body)).toEqual({
      kind: 'sent',
      wamid: 'wamid.abc',
      waId: '15550100142',
    });
  });

  it.each([130429, 131056, 131000, 4, 80007, 133004])(
    'retries Meta code %i',
    (code) => {
      expect(judgeSendResponse(400, graphError(code)).kind).toBe('retry');
    }
  );

  it.each([132000, 132001, 132018, 131026, 131047, 100])(
    'fails Meta code %i permanently, with its reason',
    (code) => {
      expect(judgeSendResponse(400, graphError(code, 'why'))).toEqual({
        kind: 'failed',
        code: `meta_${code}`,
        reason: `(#${code}) message: why`,
      });
    }
  );

  it('retries a server error without a readable body', () => {
    expect(judgeSendResponse(503, undefined)).toEqual({
      kind: 'retry',
      code: 'http_503',
      reason: 'WhatsApp answered HTTP 503',
    });
  });
});
