/** The parts of the WhatsApp Cloud API's message format the product uses. */

/** A value in a header or body; `parameter_name` for named templates. */
export type TextParameter =
  | {
      readonly type: 'text';
      readonly text: string;
      readonly parameter_name?: string;
    }
  | {
      readonly type: 'currency';
      /** `fallback_value` is what a client that cannot localise shows. */
      readonly currency: {
        readonly fallback_value: string;
        readonly code: string;
        /** The amount times 1,000: 20.50 is 20500. */
        readonly amount_1000: number;
      };
      readonly parameter_name?: string;
    }
  | {
      readonly type: 'date_time';
      readonly date_time: { readonly fallback_value: string };
      readonly parameter_name?: string;
    };

/** A media header's value: the file by its public link. */
export type MediaParameter =
  | { readonly type: 'image'; readonly image: { readonly link: string } }
  | { readonly type: 'video'; readonly video: { readonly link: string } }
  | {
      readonly type: 'document';
      readonly document: { readonly link: string; readonly filename?: string };
    };

export type TemplateParameter =
  | TextParameter
  | MediaParameter
  | { readonly type: 'payload'; readonly payload: string }
  | { readonly type: 'coupon_code'; readonly coupon_code: string };

export type ButtonSubType = 'url' | 'quick_reply' | 'copy_code';

export type TemplateComponent =
  | {
      readonly type: 'header' | 'body';
      readonly parameters: readonly TemplateParameter[];
    }
  | {
      readonly type: 'button';
      readonly sub_type: ButtonSubType;
      readonly index: string;
      readonly parameters: readonly TemplateParameter[];
    };

export interface TemplateMessageRequest {
  readonly messaging_product: 'whatsapp';
  readonly recipient_type: 'individual';
  readonly to: string;
  readonly type: 'template';
  readonly template: {
    readonly name: string;
    readonly language: { readonly code: string };
    readonly components: readonly TemplateComponent[];
  };
}

/** What the send endpoint answers with on success (FACTS A4). */
export interface SendSuccess {
  readonly messages: readonly { readonly id: string }[];
  readonly contacts?: readonly {
    readonly input: string;
    readonly wa_id: string;
  }[];
}

/** Meta's error body: `{ error: { code, message, error_data } }`. */
export interface GraphError {
  readonly code?: number;
  readonly message?: string;
  readonly error_data?: { readonly details?: string };
}

export type SendVerdict =
  | { readonly kind: 'sent'; readonly wamid: string; readonly waId?: string }
  | {
      readonly kind: 'retry' | 'failed';
      readonly code: string;
      readonly reason: string;
    };

/**
 * Meta codes that a later attempt can clear (FACTS A6). Everything else
 * with an error body is permanent until a person changes something.
 */
const TRANSIENT_CODES = new Set([
  1, 2, 4, 80007, 130429, 131000, 131016, 131056, 133004,
]);

/**
 * Judges Meta's answer by its error code, not the HTTP status, as Meta
 * asks; a 5xx or an unreadable answer is retried.
 */
export const judgeSendResponse = (
  status: number,
  body: unknown
): SendVerdict => {
  const success = body as Partial<SendSuccess> | undefined;
  const wamid = success?.messages?.[0]?.id;
  if (status >= 200 && status < 300 && typeof wamid === 'string') {
    return { kind: 'sent', wamid, waId: success?.contacts?.[0]?.wa_id };
  }
  const error = (body as { error?: GraphError } | undefined)?.error;
  const code = error?.code;
  const reason = [error?.message, error?.error_data?.details]
    .filter(Boolean)
    .join(': ');
  if (code === undefined || status >= 500) {
    return {
      kind: 'retry',
      code: code === undefined ? `http_${status}` : `meta_${code}`,
      reason: reason || `WhatsApp answered HTTP ${status}`,
    };
  }

  return {
    kind: TRANSIENT_CODES.has(code) ? 'retry' : 'failed',
    code: `meta_${code}`,
    reason: reason || `WhatsApp error ${code}`,
  };
};
