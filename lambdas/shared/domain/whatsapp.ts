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
  /** Echoed in Meta's status callbacks; the sender puts the message key. */
  readonly biz_opaque_callback_data?: string;
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
