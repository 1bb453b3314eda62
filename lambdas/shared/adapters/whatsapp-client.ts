import { Env } from '../../../lib/definitions.js';
import { requireEnv } from '../config.js';
import type { TemplateMessageRequest } from '../domain/whatsapp.js';
import { readWhatsAppToken } from './secret-store.js';

/** Meta answers within seconds; beyond this the attempt is retried. */
const SEND_TIMEOUT_MS = 10_000;

export interface GraphResponse {
  readonly status: number;
  readonly body: unknown;
}

/** Posts one message to the Cloud API's `/messages` endpoint. */
export const postMessage = async (
  request: TemplateMessageRequest
): Promise<GraphResponse> => {
  const url = [
    requireEnv(Env.WhatsAppApiUrl).replace(/\/+$/, ''),
    requireEnv(Env.WhatsAppApiVersion),
    requireEnv(Env.WhatsAppPhoneNumberId),
    'messages',
  ].join('/');
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${await readWhatsAppToken()}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify(request),
    signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }

  return { status: response.status, body };
};
