import jsonata from 'jsonata';
import { z } from 'zod';
import { maskPhonesInText, normalisePhone } from './phone.js';
import { MAX_DELAY_SECONDS } from './schedule.js';
import { hydrate, TemplateLimits, type TemplateShape } from './templates.js';
import { encodeForUrl, renderValue, sanitiseParameter } from './text.js';
import type {
  TemplateComponent,
  TemplateMessageRequest,
  TemplateParameter,
} from './whatsapp.js';

/**
 * A mapping turns one kind of event into WhatsApp template messages. Every
 * value is a JSONata expression over `{ body, headers, webhook }`.
 */
const expression = z.string().trim().min(1);
/** Literal text used when a value comes out empty. */
const fallback = z.string().trim().min(1).optional();
/** For templates created with named parameters (body and header). */
const parameterName = z
  .string()
  .regex(/^[a-z][a-z0-9_]*$/)
  .optional();

const textParameterSchema = z.strictObject({
  type: z.literal('text').optional(),
  value: expression,
  fallback,
  name: parameterName,
});

/** An amount WhatsApp shows in the reader's locale. */
const currencyParameterSchema = z.strictObject({
  type: z.literal('currency'),
  /** The text shown where the amount cannot be localised. */
  value: expression,
  fallback,
  /** ISO 4217 code, such as `USD`. */
  code: expression,
  /** The amount times 1,000, a whole number: 20.50 is 20500. */
  amount1000: expression,
  name: parameterName,
});

const dateTimeParameterSchema = z.strictObject({
  type: z.literal('date_time'),
  /** The date as text. */
  value: expression,
  fallback,
  name: parameterName,
});

/** A media header: the file by a public http(s) link. */
const mediaParameterSchema = z.strictObject({
  type: z.enum(['image', 'video']),
  link: expression,
  /** A literal link used when the expression comes out empty. */
  fallback,
});

const documentParameterSchema = z.strictObject({
  type: z.literal('document'),
  link: expression,
  fallback,
  /** The file name the reader sees. */
  filename: expression.optional(),
});

const componentSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('header'),
    parameters: z
      .array(
        z.union([
          textParameterSchema,
          mediaParameterSchema,
          documentParameterSchema,
        ])
      )
      .max(1),
  }),
  z.strictObject({
    type: z.literal('body'),
    parameters: z
      .array(
        z.union([
          textParameterSchema,
          currencyParameterSchema,
          dateTimeParameterSchema,
        ])
      )
      .max(100),
  }),
  z.strictObject({
    type: z.literal('button'),
    subType: z.enum(['url', 'quick_reply', 'copy_code']),
    index: z.number().int().min(0).max(9),
    parameters: z.array(textParameterSchema).length(1),
  }),
]);

/** A mapping's id: 1 to 64 letters, digits, dashes or underscores. */
export const MAPPING_ID = /^[A-Za-z0-9_-]{1,64}$/;

const templateSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/)
    .max(512),
  language: z.string().regex(/^[a-z]{2,3}(_[A-Za-z]{2,4})?$/),
  components: z.array(componentSchema).max(12),
});

export const mappingInputSchema = z
  .strictObject({
    /** The event key, exactly, or a pattern with `*` (`orders/*`). */
    eventKey: z.string().trim().min(1).max(200),
    condition: z.string().trim().min(1).optional(),
    /** One phone number or a list of them; absent when it only cancels. */
    recipients: z.string().trim().min(1).optional(),
    /** The template to send; absent when it only cancels. */
    template: templateSchema.optional(),
    /** Holds the message this long after the event was accepted. */
    delaySeconds: z.number().int().min(1).max(MAX_DELAY_SECONDS).optional(),
    /**
     * What ties events together (an order id, a payment intent id), so a
     * later event can cancel this one's messages still waiting.
     */
    businessKey: expression.optional(),
    /** Mappings whose waiting messages with the same business key stop. */
    cancels: z
      .array(z.string().regex(MAPPING_ID, 'is not a mapping id'))
      .min(1)
      .max(20)
      .optional(),
    active: z.boolean().default(true),
  })
  .superRefine((mapping, context) => {
    for (const [path, message] of shapeProblems(mapping)) {
      context.addIssue({ code: 'custom', path: [path], message });
    }
  });

/**
 * What a mapping must hold together: it sends a template (with recipients),
 * cancels, or both; a delay needs a template, a cancellation a business key.
 */
const shapeProblems = (mapping: {
  recipients?: string;
  template?: unknown;
  delaySeconds?: number;
  businessKey?: string;
  cancels?: string[];
}): [string, string][] => {
  const problems: [string, string][] = [];
  const sends = mapping.template !== undefined;
  if (!sends && mapping.cancels === undefined) {
    problems.push([
      'template',
      'a mapping sends a template, cancels waiting messages, or both; this one does neither',
    ]);
  }
  if (sends && mapping.recipients === undefined) {
    problems.push([
      'recipients',
      'a mapping that sends a template needs recipients',
    ]);
  }
  if (!sends && mapping.recipients !== undefined) {
    problems.push([
      'recipients',
      'recipients are given but there is no template to send',
    ]);
  }
  if (!sends && mapping.delaySeconds !== undefined) {
    problems.push([
      'delaySeconds',
      'only a mapping that sends a template can be delayed',
    ]);
  }
  if (mapping.cancels !== undefined && mapping.businessKey === undefined) {
    problems.push([
      'businessKey',
      'a mapping that cancels needs a businessKey to find the messages waiting for the same key',
    ]);
  }

  return problems;
};

export type MappingInput = z.infer<typeof mappingInputSchema>;
/** A mapping that sends a template. */
export type SendingMapping = MappingInput & {
  readonly template: z.infer<typeof templateSchema>;
  readonly recipients: string;
};
export type ComponentMapping = SendingMapping['template']['components'][number];
export type ParameterMapping = ComponentMapping['parameters'][number];

/** A mapping with the approved template it was checked against. */
export interface CheckedMapping extends MappingInput {
  /**
   * The template's text and category when the mapping was saved, for the
   * length rules. LIMITATION: a template edited in WhatsApp Manager after
   * the mapping was saved is judged by its old text until the mapping is
   * saved again; mappings saved before templates were checked have none,
   * and their filled lengths are left to Meta (132005).
   */
  readonly approvedTemplate?: TemplateShape;
}

export interface Mapping extends CheckedMapping {
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
      /** The business key, when the mapping has one. */
      readonly businessKey?: string;
      /** Recipients that could not be used, each with its reason. */
      readonly rejected: readonly {
        readonly raw: string;
        readonly reason: string;
      }[];
    };

/**
 * Bounds on one expression: a runaway one fails its mapping only.
 * LIMITATION: a regular expression that backtracks catastrophically runs
 * inside one native call that no time box can interrupt, so it stalls the
 * mapper until the function times out.
 */
const EXPRESSION_LIMITS = { timeout: 250, stack: 200, sequence: 10_000 };
/** JSONata's code for an expression that ran past its time box. */
const TIME_BOX_CODE = 'D1012';
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

/**
 * Forgets every compiled expression. The mapper never calls it: the
 * benchmark does, to measure evaluation without the cache.
 */
export const clearCompiledExpressions = (): void => {
  compiled.clear();
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
  const fields: [string, string][] = [];
  if (mapping.recipients) fields.push(['recipients', mapping.recipients]);
  if (mapping.condition) fields.push(['condition', mapping.condition]);
  if (mapping.businessKey) fields.push(['businessKey', mapping.businessKey]);
  for (const [name, parameter] of parameterFields(mapping)) {
    for (const [part, source] of expressionsOf(parameter)) {
      fields.push([`${name}${part}`, source]);
    }
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
  (mapping.template?.components ?? []).flatMap((component) =>
    component.parameters.map((parameter, index): [string, ParameterMapping] => [
      `${componentLabel(component)} parameter ${index + 1}`,
      parameter,
    ])
  );

/** A parameter's expressions, each with the suffix naming its part. */
const expressionsOf = (parameter: ParameterMapping): [string, string][] => {
  if ('link' in parameter) {
    return [
      [' link', parameter.link],
      ...(parameter.type === 'document' && parameter.filename
        ? ([[' filename', parameter.filename]] as [string, string][])
        : []),
    ];
  }
  if (parameter.type === 'currency') {
    return [
      ['', parameter.value],
      [' code', parameter.code],
      [' amount1000', parameter.amount1000],
    ];
  }

  return [['', parameter.value]];
};

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
  mapping: CheckedMapping,
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
    const key = await businessKeyOf(mapping, input);
    if (typeof key === 'object') return { status: 'failed', ...key };
    const businessKey = key === undefined ? {} : { businessKey: key };
    if (!sendsTemplate(mapping)) {
      return { status: 'matched', messages: [], rejected: [], ...businessKey };
    }
    const components = await buildComponents(mapping, input);
    if (typeof components === 'string') {
      return { status: 'failed', reason: components };
    }
    const planned = await planMessages(
      mapping,
      input,
      components,
      defaultCountry
    );

    return { ...planned, ...businessKey };
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

/** True when the mapping sends a template (it may also cancel). */
export const sendsTemplate = (
  mapping: MappingInput
): mapping is SendingMapping =>
  mapping.template !== undefined && mapping.recipients !== undefined;

/** The business key as text, none when not asked for, or why it is empty. */
const businessKeyOf = async (
  mapping: MappingInput,
  input: EvaluationInput
): Promise<string | undefined | { reason: string }> => {
  if (mapping.businessKey === undefined) return undefined;
  const text = renderValue(await evaluate(mapping.businessKey, input))?.trim();
  if (text === undefined || text === '') {
    return { reason: 'businessKey is empty' };
  }

  return text;
};

/**
 * Evaluates within the time box. The box is on the clock, so a pause of
 * the process (garbage collection, a busy host) can end it early: when
 * the expression used under half its time in CPU, it is run once more.
 */
const evaluate = async (
  source: string,
  input: EvaluationInput
): Promise<unknown> => {
  const expression = compile(source);
  const cpuAtStart = process.cpuUsage();
  try {
    return unwrap(await expression.evaluate(input));
  } catch (error) {
    const cpu = process.cpuUsage(cpuAtStart);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const paused =
      (error as { code?: string }).code === TIME_BOX_CODE &&
      cpuMs < EXPRESSION_LIMITS.timeout / 2;
    if (!paused) throw error;
    return unwrap(await expression.evaluate(input));
  }
};

// JSONata marks result sequences with extra properties; copy to plain data.
const unwrap = (value: unknown): unknown =>
  Array.isArray(value) ? Array.from(value, unwrap) : value;

const isTruthy = (value: unknown): boolean =>
  Array.isArray(value) ? value.some(isTruthy) : Boolean(value);

const planMessages = async (
  mapping: SendingMapping,
  input: EvaluationInput,
  components: TemplateComponent[],
  defaultCountry?: string
): Promise<Extract<MappingOutcome, { status: 'matched' }>> => {
  const raw = await evaluate(mapping.recipients, input);
  // Recipients take a list; an empty one is a missing recipient.
  // LIMITATION: JSONata leaves a path that matches nothing out of a list such as `[body.phone, "+15550100199"]`, so only a null element, not an absent field, is recorded as missing.
  const listed = Array.isArray(raw) ? raw.flat(Infinity) : [raw];
  const values = (listed.length === 0 ? [undefined] : listed) as unknown[];
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
  mapping: SendingMapping,
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
  mapping: CheckedMapping & SendingMapping,
  input: EvaluationInput
): Promise<TemplateComponent[] | string> => {
  const result: TemplateComponent[] = [];
  const filled: FilledValues = { header: new Map(), body: new Map() };
  for (const component of mapping.template.components) {
    const parameters: TemplateParameter[] = [];
    for (const [index, parameter] of component.parameters.entries()) {
      const label = `${componentLabel(component)} parameter ${index + 1}`;
      const built = await buildParameter(component, parameter, input);
      if ('problem' in built) return `${label} ${built.problem}`;
      const problem = valueRuleProblem(mapping, component, built.shown);
      if (problem) return `${label} ${problem}`;
      if (component.type !== 'button') {
        filled[component.type].set(
          ('name' in parameter && parameter.name) || String(index + 1),
          built.shown
        );
      }
      parameters.push(built.parameter);
    }
    // A component without parameters is fixed text in the template.
    if (parameters.length > 0) result.push(toComponent(component, parameters));
  }
  const problem = filledLengthProblem(mapping.approvedTemplate, filled);

  return problem ?? result;
};

interface FilledValues {
  readonly header: Map<string, string>;
  readonly body: Map<string, string>;
}

type Built =
  | { readonly parameter: TemplateParameter; readonly shown: string }
  | { readonly problem: string };

/** The rules one value must keep, whatever the template's text. */
const valueRuleProblem = (
  mapping: CheckedMapping,
  component: ComponentMapping,
  shown: string
): string | undefined => {
  const { headerTextChars, codeChars } = TemplateLimits;
  if (component.type === 'header' && shown.length > headerTextChars) {
    return `has ${shown.length} characters; a header allows ${headerTextChars}`;
  }
  const isCode =
    (component.type === 'button' && component.subType === 'copy_code') ||
    (mapping.approvedTemplate?.category === 'AUTHENTICATION' &&
      (component.type === 'body' || component.type === 'button'));
  if (isCode && shown.length > codeChars) {
    return `has ${shown.length} characters; a code allows ${codeChars}`;
  }

  return undefined;
};

/** The header and body once filled in, against WhatsApp's limits. */
const filledLengthProblem = (
  template: TemplateShape | undefined,
  filled: FilledValues
): string | undefined => {
  if (template === undefined) return undefined;
  const { bodyChars, headerTextChars } = TemplateLimits;
  const body = hydrate(template.bodyText, filled.body).length;
  if (body > bodyChars) {
    return `the body has ${body} characters once filled in; WhatsApp allows ${bodyChars}`;
  }
  const header =
    template.headerText === undefined
      ? 0
      : hydrate(template.headerText, filled.header).length;
  if (header > headerTextChars) {
    return `the header has ${header} characters once filled in; WhatsApp allows ${headerTextChars}`;
  }

  return undefined;
};

/** One parameter in WhatsApp's shape, and the text it shows. */
const buildParameter = async (
  component: ComponentMapping,
  parameter: ParameterMapping,
  input: EvaluationInput
): Promise<Built> => {
  if ('link' in parameter) return buildMedia(parameter, input);
  const text = await parameterText(parameter, input);
  if (typeof text !== 'string') return text;
  const named = parameter.name ? { parameter_name: parameter.name } : {};
  if (component.type === 'button') {
    return { parameter: buttonParameter(component.subType, text), shown: text };
  }
  if (parameter.type === 'date_time') {
    return {
      parameter: {
        type: 'date_time',
        date_time: { fallback_value: text },
        ...named,
      },
      shown: text,
    };
  }
  if (parameter.type === 'currency') {
    const currency = await currencyParts(parameter, input);
    if ('problem' in currency) return currency;
    return {
      parameter: {
        type: 'currency',
        currency: { fallback_value: text, ...currency },
        ...named,
      },
      shown: text,
    };
  }

  return { parameter: { type: 'text', text, ...named }, shown: text };
};

type MediaMapping = Extract<ParameterMapping, { link: string }>;
type CurrencyMapping = Extract<ParameterMapping, { type: 'currency' }>;

const buildMedia = async (
  parameter: MediaMapping,
  input: EvaluationInput
): Promise<Built> => {
  const link = await parameterText(
    { value: parameter.link, fallback: parameter.fallback },
    input
  );
  if (typeof link !== 'string') return link;
  if (!isWebLink(link)) return { problem: 'link is not an http or https URL' };
  const media = { link: encodeForUrl(link) };
  if (parameter.type !== 'document') {
    return {
      parameter:
        parameter.type === 'image'
          ? { type: 'image', image: media }
          : { type: 'video', video: media },
      shown: '',
    };
  }
  const filename = parameter.filename
    ? renderValue(await evaluate(parameter.filename, input))
    : undefined;
  const name = filename && sanitiseParameter(filename);

  return {
    parameter: {
      type: 'document',
      document: { ...media, ...(name ? { filename: name } : {}) },
    },
    shown: '',
  };
};

const isWebLink = (text: string): boolean => {
  try {
    const url = new URL(text);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
};

/** Accepted as a whole number: float noise such as 19990.000000000004. */
const WHOLE_NUMBER_TOLERANCE = 1e-6;

const currencyParts = async (
  parameter: CurrencyMapping,
  input: EvaluationInput
): Promise<{ code: string; amount_1000: number } | { problem: string }> => {
  const code = renderValue(await evaluate(parameter.code, input))
    ?.trim()
    .toUpperCase();
  if (code === undefined || !/^[A-Z]{3}$/.test(code)) {
    return { problem: 'code is not a three-letter currency code (ISO 4217)' };
  }
  const raw = await evaluate(parameter.amount1000, input);
  const amount =
    typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  const whole = typeof amount === 'number' ? Math.round(amount) : Number.NaN;
  if (
    !Number.isSafeInteger(whole) ||
    Math.abs((amount as number) - whole) > WHOLE_NUMBER_TOLERANCE
  ) {
    return { problem: 'amount1000 is not a whole number' };
  }

  return { code, amount_1000: whole };
};

/** The parameter's text, or what is wrong with its value. */
const parameterText = async (
  parameter: { readonly value: string; readonly fallback?: string },
  input: EvaluationInput
): Promise<string | { problem: string }> => {
  const value = single(await evaluate(parameter.value, input));
  if (Array.isArray(value)) {
    return {
      problem: `matches ${value.length} values; join them ($join(..., ", ")) or pick one ([0])`,
    };
  }
  if (typeof value === 'object' && value !== null) {
    return { problem: 'is an object, not text; pick one of its fields' };
  }
  const rendered = renderValue(value);
  const text = rendered === undefined ? '' : sanitiseParameter(rendered);
  if (text !== '') return text;
  const fallback = parameter.fallback && sanitiseParameter(parameter.fallback);
  if (fallback) return fallback;

  return { problem: 'is empty and has no fallback' };
};

/**
 * A path that matches one item gives that item; one that matches none
 * gives nothing (the fallback applies); one that matches several gives
 * the list, which a text value refuses rather than picking one silently.
 */
const single = (value: unknown): unknown => {
  if (!Array.isArray(value)) return value;
  const items = value
    .flat(Number.POSITIVE_INFINITY)
    .filter((item) => item !== null && item !== undefined);
  if (items.length === 0) return undefined;

  return items.length === 1 ? items[0] : items;
};

const toComponent = (
  component: ComponentMapping,
  parameters: TemplateParameter[]
): TemplateComponent => {
  if (component.type !== 'button') {
    return { type: component.type, parameters };
  }

  return {
    type: 'button',
    sub_type: component.subType,
    index: String(component.index),
    parameters,
  };
};

const buttonParameter = (
  subType: 'url' | 'quick_reply' | 'copy_code',
  text: string
): TemplateParameter => {
  if (subType === 'quick_reply') return { type: 'payload', payload: text };
  if (subType === 'copy_code')
    return { type: 'coupon_code', coupon_code: text };

  // The value ends the button's URL, so it must be a valid part of one.
  return { type: 'text', text: encodeForUrl(text) };
};
