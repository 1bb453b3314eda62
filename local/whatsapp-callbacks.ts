import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { Providers } from '../lambdas/shared/domain/providers.js';
import { signRequest } from '../lambdas/shared/domain/signature.js';
import { UNDELIVERABLE_ERROR } from './whatsapp-faults.js';
import type { Clock } from './whatsapp-limits.js';

/**
 * Status callbacks as Meta posts them after a send (FACTS A8): one POST
 * per status, in the `whatsapp_business_account` webhook shape, signed
 * with `X-Hub-Signature-256` over the exact body with the app secret.
 * Every callback sent is recorded with the status code it got back.
 */

export const callbackSettingsSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  appSecret: z.string().min(1),
  /** Posted in this order for an accepted message. */
  statuses: z
    .array(z.enum(['sent', 'delivered', 'read']))
    .default(['sent', 'delivered', 'read']),
  /** Pause before each callback. */
  delayMs: z.number().int().min(0).max(60_000).default(50),
  /** The WhatsApp Business Account id in `entry[].id`. */
  wabaId: z.string().regex(/^\d+$/).default('100000000000009'),
  displayPhoneNumber: z.string().regex(/^\d+$/).default('15550100999'),
});

export type CallbackSettings = z.output<typeof callbackSettingsSchema>;
export type CallbackSettingsInput = z.input<typeof callbackSettingsSchema>;

export type CallbackStatus = 'sent' | 'delivered' | 'read' | 'failed';

/** One callback the stand-in posted. */
export interface CallbackRecord {
  readonly at: string;
  readonly wamid: string;
  readonly status: CallbackStatus;
  readonly url: string;
  /** The body exactly as posted (and signed). */
  readonly body: string;
  readonly signature: string;
  /** The receiver's HTTP status, absent when the request failed. */
  readonly responseStatus?: number;
  /** Why the request failed (refused, timed out), when it did. */
  readonly error?: string;
}

/** A message the stand-in accepted and now reports on. */
export interface AcceptedMessage {
  readonly wamid: string;
  readonly phoneNumberId: string;
  /** The `wa_id` the send answered with. */
  readonly recipientId: string;
  /** The template's category, lower-cased (`utility`, `marketing`, ...). */
  readonly category: string;
  /** The send's `biz_opaque_callback_data`, echoed in every status. */
  readonly bizOpaqueCallbackData?: string;
}

interface StatusInput extends AcceptedMessage {
  readonly status: CallbackStatus;
  readonly timestampSeconds: number;
  readonly conversationId: string;
  readonly wabaId: string;
  readonly displayPhoneNumber: string;
}

/** How long a receiver may take before the callback counts as failed. */
const CALLBACK_TIMEOUT_MS = 5_000;
const MAX_RECORDS = 5_000;
/** A conversation opened by a send stays open for 24 hours. */
const CONVERSATION_SECONDS = 24 * 60 * 60;

/** The webhook body for one status, in Meta's field order. */
export const statusPayload = (input: StatusInput) => {
  const billed = input.status !== 'failed';
  const conversation = {
    id: input.conversationId,
    ...(input.status === 'sent'
      ? {
          expiration_timestamp: String(
            input.timestampSeconds + CONVERSATION_SECONDS
          ),
        }
      : {}),
    origin: { type: input.category },
  };

  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: input.wabaId,
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: {
                display_phone_number: input.displayPhoneNumber,
                phone_number_id: input.phoneNumberId,
              },
              statuses: [
                {
                  id: input.wamid,
                  status: input.status,
                  timestamp: String(input.timestampSeconds),
                  recipient_id: input.recipientId,
                  ...(input.bizOpaqueCallbackData === undefined
                    ? {}
                    : {
                        biz_opaque_callback_data: input.bizOpaqueCallbackData,
                      }),
                  ...(billed
                    ? {
                        conversation,
                        pricing: {
                          billable: true,
                          pricing_model: 'CBP',
                          category: input.category,
                        },
                      }
                    : { errors: [UNDELIVERABLE_ERROR] }),
                },
              ],
            },
            field: 'messages',
          },
        ],
      },
    ],
  };
};

/** Posts status callbacks in the background and keeps their record. */
export class StatusCallbacks {
  private settings: CallbackSettings | undefined;
  private readonly recorded: CallbackRecord[] = [];
  private readonly pending = new Set<Promise<void>>();
  private stopping = new AbortController();

  constructor(
    settings: CallbackSettingsInput | undefined,
    private readonly clock: Clock
  ) {
    this.configure(settings);
  }

  configure(settings: CallbackSettingsInput | undefined): void {
    this.settings =
      settings === undefined
        ? undefined
        : callbackSettingsSchema.parse(settings);
  }

  current(): CallbackSettings | undefined {
    return this.settings;
  }

  records(): readonly CallbackRecord[] {
    return [...this.recorded];
  }

  clearRecords(): void {
    this.recorded.splice(0);
  }

  /**
   * Reports on an accepted message: the configured statuses in order, or
   * a single `failed` with 131026 when it cannot be delivered.
   */
  report(message: AcceptedMessage, deliverable: boolean): void {
    const settings = this.settings;
    if (settings === undefined) return;
    const statuses: CallbackStatus[] = deliverable
      ? [...settings.statuses]
      : ['failed'];
    const conversationId = randomBytes(16).toString('hex');
    const run = (async () => {
      for (const status of statuses) {
        await sleep(settings.delayMs, undefined, {
          signal: this.stopping.signal,
        });
        await this.post(settings, {
          ...message,
          status,
          conversationId,
          timestampSeconds: Math.floor(this.clock() / 1000),
          wabaId: settings.wabaId,
          displayPhoneNumber: settings.displayPhoneNumber,
        });
      }
    })().catch(() => undefined);
    this.pending.add(run);
    void run.finally(() => this.pending.delete(run));
  }

  /** Resolves once every callback scheduled so far has been posted. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** Cancels what is not yet posted and waits for what is in flight. */
  async close(): Promise<void> {
    this.stopping.abort();
    await this.idle();
    this.stopping = new AbortController();
  }

  private async post(
    settings: CallbackSettings,
    input: StatusInput
  ): Promise<void> {
    const body = JSON.stringify(statusPayload(input));
    const headers = signRequest(
      Providers.meta.scheme,
      Buffer.from(body),
      settings.appSecret,
      this.clock() / 1000
    );
    const signature = Object.values(headers)[0] ?? '';
    const base = {
      at: new Date(this.clock()).toISOString(),
      wamid: input.wamid,
      status: input.status,
      url: settings.url,
      body,
      signature,
    };
    let outcome: Pick<CallbackRecord, 'responseStatus' | 'error'>;
    try {
      const response = await fetch(settings.url, {
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/json',
          'user-agent': 'facebookexternalua',
        },
        body,
        signal: AbortSignal.any([
          this.stopping.signal,
          AbortSignal.timeout(CALLBACK_TIMEOUT_MS),
        ]),
      });
      await response.arrayBuffer();
      outcome = { responseStatus: response.status };
    } catch (error) {
      outcome = {
        error: error instanceof Error ? error.message : String(error),
      };
    }
    this.recorded.push({ ...base, ...outcome });
    if (this.recorded.length > MAX_RECORDS) this.recorded.shift();
  }
}
