import jsonata from 'jsonata';
import { z } from 'zod';
import { maskPhonesInText, normalisePhone } from './phone.js';
import { renderValue, sanitiseParameter } from './text.js';
import type {
  TemplateComponent,
  TemplateMessageRequest,
  TemplateParameter,
} from './whatsapp.js';

/**
 * A mapping turns one kind of event into WhatsApp template messages. Every
 * value is a JSONata expression over `{ body, headers, webhook }`.
 */
const parameterSchema = z.strictObject({
  value: z.string().trim().min(1),
  /** Literal text used when the value comes out empty. */
  fallback: z.string().trim().min(1).optional(),
  /** For templates created with named parameters (body and header). */
  name: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/)
    .optional(),
});

const componentSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('header'),
    parameters: z.array(parameterSchema).max(1),
  }),
  z.strictObject({
    type: z.literal('body'),
    parameters: z.array(parameterSchema).max(100),
  }),
  z.strictObject({
    type: z.literal('button'),
    subType: z.enum(['url', 'quick_reply', 'copy_code']),
    index: z.number().int().min(0).max(9),
    parameters: z.array(parameterSchema).length(1),
  }),
]);

export const mappingInputSchema = z.strictObject({
  /** The event key, exactly, or a pattern with `*` (`orders/*`). */
  eventKey: z.string().trim().min(1).max(200),
  condition: z.string().trim().min(1).optional(),
  /** One phone number or a list of them. */
  recipients: z.string().trim().min(1),
  template: z.strictObject({
    name: z
      .string()
      .regex(/^[a-z][a-z0-9_]*$/)
      .max(512),
    language: z.string().regex(/^[a-z]{2,3}(_[A-Za-z]{2,4})?$/),
    components: z.array(componentSchema).max(12),
  }),
  active: z.boolean().default(true),
});

export type MappingInput = z.infer<typeof mappingInputSchema>;
export type ComponentMapping = MappingInput['template']['components'][number];
export type ParameterMapping = ComponentMapping['parameters'][number];

export interface Mapping extends MappingInput {
  readonly mappingId: string;
  readonly webhookId: string;
  readonly updatedAt: string;
}

/** What expressions see. */
export interface EvaluationInput {
  readonly body: unknown;
  readonly headers: Readonly<Record<string, string>>;
  readonly webhook: {
    readonly webhookId: string;
    readonly name: string;
    readonly provider: string;
  };
}

export interface PlannedMessage {
  readonly recipient: string;
  readonly request: TemplateMessageRequest;
}

export type MappingOutcome =
  | { readonly status: 'skipped'; readonly reason: string }
  | { readonly status: 'failed'; readonly reason: string }
  | {
      readonly status: 'matched';
      readonly messages: readonly PlannedMessage[];
      /** Recipients that could not be used, each with its reason. */
      readonly rejected: readonly {
        readonly raw: string;
        readonly reason: string;
      }[];
    };

/** WhatsApp's limit on a text header (FACTS A9). */
const HEADER_TEXT_MAX_CHARS = 60;

/**
 * Bounds on one expression: a runaway one fails its mapping only.
 * LIMITATION: a regular expression that backtracks catastrophically runs
 * inside one native call that no time box can interrupt, so it stalls the
 * mapper until the function times out.
 */
const EXPRESSION_LIMITS = { timeout: 250, stack: 200, sequence: 10_000 };
const MAX_CACHED_EXPRESSIONS = 1_000;

const compiled = new Map<string, jsonata.Expression>();

/** Compiles an expression once; syntax errors throw `ExpressionError`. */
const compile = (source: string): jsonata.Expression => {
  let expression = compiled.get(source);
  if (expression === undefined) {
    try {
      expression = jsonata(source, EXPRESSION_LIMITS);
    } catch (error) {
      throw new ExpressionError(source, error);
    }
    if (compiled.size >= MAX_CACHED_EXPRESSIONS) compiled.clear();
    compiled.set(source, expression);
  }

  return expression;
};

export class ExpressionError extends Error {
  constructor(
    readonly source: string,
    cause: unknown
  ) {
    super(describeJsonataError(cause), { cause });
    this.name = 'ExpressionError';
  }
}

const describeJsonataError = (error: unknown): string => {
  const detail = error as {
    code?: string;
    position?: number;
    message?: string;
  };
  const where =
    detail.position === undefined ? '' : ` at position ${detail.position}`;

  return `${detail.code ?? 'error'}${where}: ${detail.message ?? String(error)}`;
};

/** Every syntax error in a mapping's expressions, by field. */
export const expressionProblems = (mapping: MappingInput): string[] => {
  const fields: [string, string][] = [['recipients', mapping.recipients]];
  if (mapping.condition) fields.push(['condition', mapping.condition]);
  for (const [name, parameter] of parameterFields(mapping)) {
    fields.push([name, parameter.value]);
  }
  const problems: string[] = [];
  for (const [field, source] of fields) {
    try {
      compile(source);
    } catch (error) {
      problems.push(`${field}: ${(error as Error).message}`);
    }
  }

  return problems;
};

const parameterFields = (mapping: MappingInput): [string, ParameterMapping][] =>
  mapping.template.components.flatMap((component) =>
    component.parameters.map((parameter, index): [string, ParameterMapping] => [
      `${componentLabel(component)} parameter ${index + 1}`,
      parameter,
    ])
  );

const componentLabel = (component: ComponentMapping): string =>
  component.type === 'button' ? `button ${component.index}` : component.type;

/** True when a mapping's event key or pattern covers the event key. */
export const matchesEventKey = (pattern: string, eventKey: string): boolean => {
  if (!pattern.includes('*')) return pattern === eventKey;
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
    .join('.*');

  return new RegExp(`^${source}$`).test(eventKey);
};

/**
 * Evaluates a mapping against one event. Never throws for bad data: every
 * problem comes back as a `failed` outcome or a rejected recipient.
 */
export const evaluateMapping = async (
  mapping: MappingInput,
  input: EvaluationInput,
  defaultCountry?: string
): Promise<MappingOutcome> => {
  try {
    if (mapping.condition) {
      const verdict = await evaluate(mapping.condition, input);
      if (!isTruthy(verdict)) {
        return { status: 'skipped', reason: 'condition is false' };
      }
    }
    const components = await buildComponents(mapping, input);
    if (typeof components === 'string') {
      return { status: 'failed', reason: components };
    }

    return await planMessages(mapping, input, components, defaultCountry);
  } catch (error) {
    const message =
      error instanceof ExpressionError
        ? error.message
        : describeJsonataError(error);
    // Error texts quote the values they choked on, phone numbers included.
    return {
      status: 'failed',
      reason: `expression failed: ${maskPhonesInText(message)}`,
    };
  }
};

const evaluate = async (
  source: string,
  input: EvaluationInput
): Promise<unknown> => unwrap(await compile(source).evaluate(input));

// JSONata marks result sequences with extra properties; copy to plain data.
const unwrap = (value: unknown): unknown =>
  Array.isArray(value) ? Array.from(value, unwrap) : value;

const isTruthy = (value: unknown): boolean =>
  Array.isArray(value) ? value.some(isTruthy) : Boolean(value);

const planMessages = async (
  mapping: MappingInput,
  input: EvaluationInput,
  components: TemplateComponent[],
  defaultCountry?: string
): Promise<MappingOutcome> => {
  const raw = await evaluate(mapping.recipients, input);
  const values = (Array.isArray(raw) ? raw.flat(Infinity) : [raw]) as unknown[];
  const recipients = new Set<string>();
  const rejected: { raw: string; reason: string }[] = [];
  for (const value of values) {
    const phone = normalisePhone(value, defaultCountry);
    if (phone.ok) recipients.add(phone.e164);
    else rejected.push({ raw: rawText(value), reason: phone.reason });
  }
  const messages = [...recipients].map((recipient) => ({
    recipient,
    request: templateRequest(mapping, recipient, components),
  }));

  return { status: 'matched', messages, rejected };
};

/** A rejected recipient as text; structures have no useful text form. */
const rawText = (value: unknown): string =>
  typeof value === 'string' || typeof value === 'number' ? String(value) : '';

const templateRequest = (
  mapping: MappingInput,
  recipient: string,
  components: TemplateComponent[]
): TemplateMessageRequest => ({
  messaging_product: 'whatsapp',
  recipient_type: 'individual',
  to: recipient,
  type: 'template',
  template: {
    name: mapping.template.name,
    language: { code: mapping.template.language },
    components,
  },
});

/** The filled components, or the reason they cannot be filled. */
const buildComponents = async (
  mapping: MappingInput,
  input: EvaluationInput
): Promise<TemplateComponent[] | string> => {
  const result: TemplateComponent[] = [];
  for (const component of mapping.template.components) {
    const texts: string[] = [];
    for (const [index, parameter] of component.parameters.entries()) {
      const text = await parameterText(parameter, input);
      const label = `${componentLabel(component)} parameter ${index + 1}`;
      if (typeof text !== 'string') return `${label} ${text.problem}`;
      if (component.type === 'header' && text.length > HEADER_TEXT_MAX_CHARS) {
        return `${label} has ${text.length} characters; a header allows ${HEADER_TEXT_MAX_CHARS}`;
      }
      texts.push(text);
    }
    // A component without parameters is fixed text in the template.
    if (texts.length > 0) result.push(toComponent(component, texts));
  }

  return result;
};

/** The parameter's text, or what is wrong with its value. */
const parameterText = async (
  parameter: ParameterMapping,
  input: EvaluationInput
): Promise<string | { problem: string }> => {
  const value = await evaluate(parameter.value, input);
  const rendered = renderValue(value);
  const text = rendered === undefined ? '' : sanitiseParameter(rendered);
  if (text !== '') return text;
  const fallback = parameter.fallback && sanitiseParameter(parameter.fallback);
  if (fallback) return fallback;
  const isStructure = typeof value === 'object' && value !== null;

  return {
    problem: isStructure
      ? 'is a list or object, not text, and has no fallback'
      : 'is empty and has no fallback',
  };
};

const toComponent = (
  component: ComponentMapping,
  texts: string[]
): TemplateComponent => {
  if (component.type !== 'button') {
    return {
      type: component.type,
      parameters: texts.map((text, index) => {
        const name = component.parameters[index]?.name;
        return name
          ? { type: 'text', parameter_name: name, text }
          : { type: 'text', text };
      }),
    };
  }

  return {
    type: 'button',
    sub_type: component.subType,
    index: String(component.index),
    parameters: texts.map((text) => buttonParameter(component.subType, text)),
  };
};

const buttonParameter = (
  subType: 'url' | 'quick_reply' | 'copy_code',
  text: string
): TemplateParameter => {
  if (subType === 'quick_reply') return { type: 'payload', payload: text };
  if (subType === 'copy_code')
    return { type: 'coupon_code', coupon_code: text };

  return { type: 'text', text };
};
