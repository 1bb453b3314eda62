import { parsePhoneNumberFromString } from 'libphonenumber-js';
import {
  buttonNeedsParameter,
  FORBIDDEN_PARAMETER_TEXT,
  findComponent,
  hydrate,
  placeholders,
  type TemplateButton,
  type TemplateDefinition,
  TemplateLimits,
} from '../lambdas/shared/domain/templates.js';

/**
 * Judges a send request the way the Cloud API does for template messages
 * (FACTS A2–A6, A9), and names the failure with Meta's code and details.
 */

export interface GraphFailure {
  readonly status: number;
  readonly code: number;
  readonly message: string;
  readonly details: string;
}

export type CheckResult =
  | {
      readonly ok: true;
      readonly waId: string;
      readonly template: TemplateDefinition;
    }
  | { readonly ok: false; readonly failure: GraphFailure };

interface Parameter {
  readonly type?: unknown;
  readonly text?: unknown;
  readonly parameter_name?: unknown;
  readonly payload?: unknown;
  readonly coupon_code?: unknown;
  readonly currency?: unknown;
  readonly date_time?: unknown;
}

interface Component {
  readonly type?: unknown;
  readonly sub_type?: unknown;
  readonly index?: unknown;
  readonly parameters?: unknown;
}

const BODY_MAX_CHARS = TemplateLimits.bodyChars;
const HEADER_MAX_CHARS = TemplateLimits.headerTextChars;
const COUPON_MAX_CHARS = TemplateLimits.codeChars;
const MEDIA_FORMATS = new Set(['IMAGE', 'VIDEO', 'DOCUMENT', 'LOCATION']);

class Reject extends Error {
  constructor(readonly failure: GraphFailure) {
    super(failure.details);
  }
}

const fail = (status: number, code: number, message: string, details: string) =>
  new Reject({ status, code, message: `(#${code}) ${message}`, details });

const invalid = (details: string) =>
  fail(400, 100, 'Invalid parameter', details);

const countMismatch = (component: string, given: number, expected: number) =>
  fail(
    400,
    132000,
    'Number of parameters does not match the expected number of params',
    `${component}: number of localizable_params (${given}) does not match ` +
      `the expected number of params (${expected})`
  );

const badParameter = (details: string) =>
  fail(
    400,
    132018,
    'There was an issue with the parameters in your template.',
    details
  );

/** Checks a parsed request body against the approved templates. */
export const checkSendRequest = (
  templates: readonly TemplateDefinition[],
  body: unknown
): CheckResult => {
  try {
    const request = asObject(body, 'the request body');
    if (request.messaging_product !== 'whatsapp') {
      throw invalid('messaging_product must be "whatsapp"');
    }
    const waId = checkRecipient(request.to);
    if (request.type !== 'template') {
      throw fail(
        400,
        131051,
        'Unsupported message type',
        'the stand-in sends template messages only, ' +
          `not ${JSON.stringify(request.type)}`
      );
    }
    const template = checkTemplate(
      templates,
      asObject(request.template, 'template')
    );

    return { ok: true, waId, template };
  } catch (error) {
    if (error instanceof Reject) return { ok: false, failure: error.failure };
    throw error;
  }
};

const asObject = (value: unknown, what: string): Record<string, unknown> => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`${what} must be an object`);
  }

  return value as Record<string, unknown>;
};

/** Meta takes digits with the country code, with or without `+`. */
const checkRecipient = (to: unknown): string => {
  const digits = typeof to === 'string' ? to.replace(/^\+/, '') : '';
  const phone = /^\d{4,15}$/.test(digits)
    ? parsePhoneNumberFromString(`+${digits}`)
    : undefined;
  if (phone === undefined || !phone.isPossible()) {
    throw invalid(`to ${JSON.stringify(to)} is not a possible phone number`);
  }

  return digits;
};

const checkTemplate = (
  templates: readonly TemplateDefinition[],
  template: Record<string, unknown>
): TemplateDefinition => {
  const name = template.name;
  const language = asObject(template.language, 'template.language').code;
  const found = templates.find(
    (candidate) => candidate.name === name && candidate.language === language
  );
  if (
    found === undefined ||
    found.status === 'REJECTED' ||
    found.status === 'PENDING'
  ) {
    throw fail(
      404,
      132001,
      'Template name does not exist in the translation',
      `template name (${String(name)}) does not exist in ${String(language)}`
    );
  }
  if (found.status === 'PAUSED') {
    throw fail(
      400,
      132015,
      'Template is Paused',
      `template ${found.name} is paused`
    );
  }
  if (found.status === 'DISABLED') {
    throw fail(
      400,
      132016,
      'Template is disabled',
      `template ${found.name} is disabled`
    );
  }
  const components = template.components ?? [];
  if (!Array.isArray(components))
    throw invalid('template.components must be a list');
  checkComponents(found, components as Component[]);

  return found;
};

const checkComponents = (
  template: TemplateDefinition,
  components: readonly Component[]
): void => {
  const byType = (type: string) =>
    components.filter((item) => item.type === type);
  for (const component of components) {
    if (!['header', 'body', 'button'].includes(String(component.type))) {
      throw invalid(
        `component type ${JSON.stringify(component.type)} is not supported`
      );
    }
  }
  for (const type of ['header', 'body']) {
    if (byType(type).length > 1)
      throw invalid(`more than one ${type} component`);
  }
  checkHeader(template, byType('header')[0]);
  checkBody(template, byType('body')[0]);
  checkButtons(template, byType('button'));
};

const parametersOf = (component: Component | undefined): Parameter[] => {
  if (component === undefined) return [];
  if (!Array.isArray(component.parameters)) {
    throw invalid(`${String(component.type)}: parameters must be a list`);
  }

  return component.parameters as Parameter[];
};

const checkHeader = (template: TemplateDefinition, component?: Component) => {
  const header = findComponent(template, 'HEADER');
  const given = parametersOf(component);
  if (header !== undefined && MEDIA_FORMATS.has(header.format)) {
    const wanted = header.format.toLowerCase();
    if (given.length !== 1) throw countMismatch('header', given.length, 1);
    if (given[0]?.type !== wanted) {
      throw fail(
        400,
        132012,
        'Parameter format does not match format in the created template',
        `header: Format mismatch, expected ${header.format}, ` +
          `received ${String(given[0]?.type).toUpperCase()}`
      );
    }
    return;
  }
  const text = header?.text ?? '';
  const values = textValues(template, 'header', text, given);
  const hydrated = hydrate(text, values);
  if (hydrated.length > HEADER_MAX_CHARS) {
    throw fail(
      400,
      132005,
      'Translated text too long',
      `header: ${hydrated.length} characters; the limit is ${HEADER_MAX_CHARS}`
    );
  }
};

const checkBody = (template: TemplateDefinition, component?: Component) => {
  const text = findComponent(template, 'BODY')?.text ?? '';
  const values = textValues(template, 'body', text, parametersOf(component));
  const hydrated = hydrate(text, values);
  if (hydrated.length > BODY_MAX_CHARS) {
    throw fail(
      400,
      132005,
      'Translated text too long',
      `body: ${hydrated.length} characters; the limit is ${BODY_MAX_CHARS}`
    );
  }
};

/**
 * Checks the text parameters of a header or body against the template's
 * variables and returns the values by variable name.
 */
const textValues = (
  template: TemplateDefinition,
  label: string,
  text: string,
  given: readonly Parameter[]
): Map<string, string> => {
  const expected = placeholders(text);
  if (given.length !== expected.length) {
    throw countMismatch(label, given.length, expected.length);
  }
  const named = template.parameter_format === 'NAMED';
  const values = new Map<string, string>();
  given.forEach((parameter, index) => {
    const where = `${label} parameter ${index + 1}`;
    const value =
      label === 'body'
        ? bodyValueOf(parameter, where)
        : textOf(parameter, where);
    checkCodeLength(template, value, where);
    const name = parameter.parameter_name;
    if (named) {
      if (typeof name !== 'string' || !expected.includes(name)) {
        throw fail(
          400,
          132000,
          'Number of parameters does not match the expected number of params',
          `${label}: parameter_name ${JSON.stringify(name)} ` +
            `is not one of ${expected.join(', ')}`
        );
      }
      values.set(name, value);
    } else {
      if (name !== undefined) {
        throw invalid(
          `${label}: parameter_name is only valid for templates ` +
            'with named parameters'
        );
      }
      values.set(String(index + 1), value);
    }
  });
  if (named && values.size !== expected.length) {
    const missing = expected.filter((name) => !values.has(name));
    throw countMismatch(
      `${label} (missing ${missing.join(', ')})`,
      values.size,
      expected.length
    );
  }

  return values;
};

const textOf = (parameter: Parameter, label: string): string => {
  if (parameter.type !== 'text' || typeof parameter.text !== 'string') {
    throw invalid(`${label} must be {type: "text", text: string}`);
  }
  checkContent(parameter.text, label);

  return parameter.text;
};

/** A body value: text, or a currency or date whose fallback is shown. */
const bodyValueOf = (parameter: Parameter, label: string): string => {
  if (parameter.type === 'currency') {
    const currency = (parameter.currency ?? {}) as Record<string, unknown>;
    if (
      typeof currency.fallback_value !== 'string' ||
      typeof currency.code !== 'string' ||
      !Number.isInteger(currency.amount_1000)
    ) {
      throw invalid(
        `${label} needs currency {fallback_value, code, amount_1000 integer}`
      );
    }
    checkContent(currency.fallback_value, label);
    return currency.fallback_value;
  }
  if (parameter.type === 'date_time') {
    const date = (parameter.date_time ?? {}) as Record<string, unknown>;
    if (typeof date.fallback_value !== 'string') {
      throw invalid(`${label} needs date_time {fallback_value}`);
    }
    checkContent(date.fallback_value, label);
    return date.fallback_value;
  }

  return textOf(parameter, label);
};

/** Authentication templates take codes of at most 15 characters. */
const checkCodeLength = (
  template: TemplateDefinition,
  value: string,
  label: string
): void => {
  if (
    template.category === 'AUTHENTICATION' &&
    value.length > COUPON_MAX_CHARS
  ) {
    throw badParameter(
      `${label} exceeds the parameter length limit ${COUPON_MAX_CHARS}`
    );
  }
};

const checkContent = (value: string, label: string): void => {
  if (value.trim() === '') throw badParameter(`${label} is empty`);
  if (FORBIDDEN_PARAMETER_TEXT.test(value)) {
    throw badParameter(
      `${label}: Param text cannot have new-line/tab characters ` +
        'or more than 4 consecutive spaces'
    );
  }
};

const SUB_TYPES: Record<string, TemplateButton['type']> = {
  url: 'URL',
  quick_reply: 'QUICK_REPLY',
  copy_code: 'COPY_CODE',
};

const checkButtons = (
  template: TemplateDefinition,
  components: readonly Component[]
): void => {
  const buttons = findComponent(template, 'BUTTONS')?.buttons ?? [];
  const seen = new Set<number>();
  for (const component of components) {
    const index = Number(component.index);
    const label = `button at index ${String(component.index)}`;
    const button = buttons[index];
    if (!Number.isInteger(index) || button === undefined) {
      throw invalid(`${label}: the template has no button there`);
    }
    if (seen.has(index)) throw invalid(`${label} appears twice`);
    seen.add(index);
    if (SUB_TYPES[String(component.sub_type)] !== button.type) {
      throw invalid(
        `${label} is a ${button.type} button, ` +
          `not sub_type ${String(component.sub_type)}`
      );
    }
    checkButtonParameters(template, button, parametersOf(component), label);
  }
  buttons.forEach((button, index) => {
    if (!seen.has(index) && buttonNeedsParameter(button)) {
      throw countMismatch(`button at index ${index}`, 0, 1);
    }
  });
};

const checkButtonParameters = (
  template: TemplateDefinition,
  button: TemplateButton,
  given: readonly Parameter[],
  label: string
): void => {
  const expected =
    button.type === 'QUICK_REPLY' || buttonNeedsParameter(button) ? 1 : 0;
  if (given.length !== expected)
    throw countMismatch(label, given.length, expected);
  const parameter = given[0];
  if (parameter === undefined) return;
  if (button.type === 'URL') {
    checkCodeLength(template, textOf(parameter, label), label);
  } else if (button.type === 'QUICK_REPLY') {
    if (parameter.type !== 'payload' || typeof parameter.payload !== 'string') {
      throw invalid(`${label} needs {type: "payload", payload: string}`);
    }
  } else if (
    parameter.type !== 'coupon_code' ||
    typeof parameter.coupon_code !== 'string'
  ) {
    throw invalid(`${label} needs {type: "coupon_code", coupon_code: string}`);
  } else if (parameter.coupon_code.length > COUPON_MAX_CHARS) {
    throw badParameter(
      `${label}: coupon_code exceeds ${COUPON_MAX_CHARS} characters`
    );
  }
};
