import {
  type ComponentMapping,
  type MappingInput,
  type SendingMapping,
  sendsTemplate,
} from './mapping.js';
import {
  buttonNeedsParameter,
  findComponent,
  placeholders,
  SENDABLE_STATUSES,
  type TemplateDefinition,
  type TemplateShape,
  templateShape,
  type UnreadableTemplate,
} from './templates.js';

/**
 * Checks a mapping against the approved templates before it is saved, so
 * a mismatch is told to the admin once instead of failing every event at
 * Meta. Each problem is one exact sentence.
 */
export const mappingContractProblems = (
  mapping: MappingInput,
  templates: readonly TemplateDefinition[],
  unreadable: readonly UnreadableTemplate[] = []
): string[] => {
  // A mapping that only cancels sends no template to check.
  if (!sendsTemplate(mapping)) return [];
  const found = findTemplate(mapping, templates);
  if (typeof found === 'string') {
    const skipped = unreadable.find(
      (item) =>
        item.name === mapping.template.name &&
        item.language === mapping.template.language
    );
    return [
      skipped
        ? `template ${skipped.name} (${skipped.language}) has parts this product cannot fill: ${skipped.problem}`
        : found,
    ];
  }
  const components = mapping.template.components;
  const problems: string[] = [];
  if (!SENDABLE_STATUSES.has(found.status)) {
    problems.push(
      `template ${found.name} (${found.language}) is ${found.status}, not APPROVED`
    );
  }
  for (const type of ['header', 'body'] as const) {
    if (components.filter((item) => item.type === type).length > 1) {
      problems.push(`the mapping has more than one ${type}`);
    }
  }
  problems.push(
    ...headerProblems(found, componentOf(components, 'header')),
    ...bodyProblems(found, componentOf(components, 'body')),
    ...buttonProblems(found, components)
  );

  return problems;
};

/** The template the mapping names, or why there is none. */
export const findTemplate = (
  mapping: SendingMapping,
  templates: readonly TemplateDefinition[]
): TemplateDefinition | string => {
  const { name, language } = mapping.template;
  const named = templates.filter((template) => template.name === name);
  if (named.length === 0) return `template ${name} does not exist`;
  const found = named.find((template) => template.language === language);
  if (found === undefined) {
    const languages = named.map((template) => template.language).join(', ');
    return `template ${name} has no language ${language} (it has ${languages})`;
  }

  return found;
};

const componentOf = <T extends ComponentMapping['type']>(
  components: readonly ComponentMapping[],
  type: T
): Extract<ComponentMapping, { type: T }> | undefined =>
  components.find(
    (item): item is Extract<ComponentMapping, { type: T }> => item.type === type
  );

const count = (n: number): string => `${n} parameter${n === 1 ? '' : 's'}`;

const headerProblems = (
  template: TemplateDefinition,
  mapped: Extract<ComponentMapping, { type: 'header' }> | undefined
): string[] => {
  const header = findComponent(template, 'HEADER');
  const given = mapped?.parameters ?? [];
  if (header === undefined) {
    return given.length > 0
      ? [`template ${template.name} has no header, mapping gives one`]
      : [];
  }
  if (header.format === 'TEXT') {
    const media = given.find((parameter) => 'link' in parameter);
    if (media !== undefined) {
      return [`header is a TEXT header and takes text, not ${media.type}`];
    }
    return namedValueProblems(
      template,
      'header',
      placeholders(header.text),
      given.map((parameter) =>
        'name' in parameter ? parameter.name : undefined
      )
    );
  }
  if (header.format === 'LOCATION') {
    // LIMITATION: location headers (latitude, longitude) cannot be mapped yet.
    return ['header is a LOCATION header, which mappings cannot fill yet'];
  }
  const wanted = header.format.toLowerCase();
  const first = given[0];
  if (first === undefined || !('link' in first) || first.type !== wanted) {
    return [
      `header is ${article(header.format)} ${header.format} header and needs ${article(wanted)} ${wanted} link`,
    ];
  }

  return [];
};

const bodyProblems = (
  template: TemplateDefinition,
  mapped: Extract<ComponentMapping, { type: 'body' }> | undefined
): string[] =>
  namedValueProblems(
    template,
    'body',
    placeholders(findComponent(template, 'BODY')?.text),
    (mapped?.parameters ?? []).map((parameter) => parameter.name)
  );

/**
 * Header and body values against the template's variables: by count for
 * positional templates, by name for named ones.
 */
const namedValueProblems = (
  template: TemplateDefinition,
  label: string,
  expected: readonly string[],
  names: readonly (string | undefined)[]
): string[] => {
  const problems: string[] = [];
  if (names.length !== expected.length) {
    problems.push(
      `${label} expects ${count(expected.length)}, mapping gives ${names.length}`
    );
  }
  const positional = template.parameter_format !== 'NAMED';
  names.forEach((name, index) => {
    const where = `${label} parameter ${index + 1}`;
    if (positional && name !== undefined) {
      problems.push(
        `${where} has the name ${name}, but template ${template.name} takes positional parameters`
      );
    } else if (!positional && name === undefined) {
      problems.push(
        `${where} needs a name: template ${template.name} takes named parameters (${expected.join(', ')})`
      );
    } else if (!positional && name !== undefined && !expected.includes(name)) {
      problems.push(
        `${where} is named ${name}, which template ${template.name} does not have (it has ${expected.join(', ')})`
      );
    }
  });
  if (!positional) {
    for (const name of expected) {
      if (!names.includes(name)) {
        problems.push(`${label} parameter ${name} is missing`);
      }
    }
  }

  return problems;
};

const SUB_TYPE_OF: Record<string, string> = {
  URL: 'url',
  QUICK_REPLY: 'quick_reply',
  COPY_CODE: 'copy_code',
};

const buttonProblems = (
  template: TemplateDefinition,
  components: readonly ComponentMapping[]
): string[] => {
  const buttons = findComponent(template, 'BUTTONS')?.buttons ?? [];
  const mapped = components.filter(
    (item): item is Extract<ComponentMapping, { type: 'button' }> =>
      item.type === 'button'
  );
  const problems: string[] = [];
  const seen = new Set<number>();
  for (const component of mapped) {
    const { index, subType } = component;
    const button = buttons[index];
    if (seen.has(index)) {
      problems.push(`button ${index} is given twice`);
      continue;
    }
    seen.add(index);
    if (button === undefined) {
      problems.push(
        `button ${index} does not exist: template ${template.name} has ${buttons.length} button${buttons.length === 1 ? '' : 's'}`
      );
    } else if (SUB_TYPE_OF[button.type] !== subType) {
      problems.push(
        `button ${index} is ${article(button.type)} ${button.type} button, mapping gives ${subType}`
      );
    } else if (button.type === 'URL' && !buttonNeedsParameter(button)) {
      problems.push(
        `button ${index} is a URL button with a fixed address and takes no parameter`
      );
    }
  }
  buttons.forEach((button, index) => {
    if (seen.has(index) || !buttonNeedsParameter(button)) return;
    problems.push(
      button.type === 'URL'
        ? `button ${index} is a URL button and needs one text parameter`
        : `button ${index} is a COPY_CODE button and needs the code`
    );
  });

  return problems;
};

const article = (word: string): string => (/^[aeiou]/i.test(word) ? 'an' : 'a');

/**
 * A mapping checked against the templates: the problems, or the approved
 * template's shape to keep with it.
 */
export const checkMapping = (
  mapping: MappingInput,
  templates: readonly TemplateDefinition[],
  unreadable: readonly UnreadableTemplate[] = []
): { problems: string[] } | { approvedTemplate?: TemplateShape } => {
  if (!sendsTemplate(mapping)) return {};
  const problems = mappingContractProblems(mapping, templates, unreadable);
  const found = findTemplate(mapping, templates);
  if (problems.length > 0 || typeof found === 'string') {
    return { problems: problems.length > 0 ? problems : [String(found)] };
  }

  return { approvedTemplate: templateShape(found) };
};
