import { describe, expect, it } from 'vitest';
import {
  checkMapping,
  mappingContractProblems,
} from '../../../lambdas/shared/domain/contract.js';
import {
  type MappingInput,
  mappingInputSchema,
} from '../../../lambdas/shared/domain/mapping.js';
import { parseTemplatePage } from '../../../lambdas/shared/domain/templates.js';
import { loadTemplates } from '../../../local/whatsapp-templates.js';

const templates = loadTemplates();

const mapping = (
  name: string,
  components: unknown[],
  language = 'en_US'
): MappingInput =>
  mappingInputSchema.parse({
    eventKey: 'any',
    recipients: 'body.phone',
    template: { name, language, components },
  });

const text = (value: string, name?: string) => ({
  value,
  ...(name ? { name } : {}),
});
const body = (...parameters: unknown[]) => ({ type: 'body', parameters });
const urlButton = (index = 0) => ({
  type: 'button',
  subType: 'url',
  index,
  parameters: [text('body.path')],
});

describe('mappingContractProblems', () => {
  it('has no template to check in a mapping that only cancels', () => {
    const cancelOnly = mappingInputSchema.parse({
      eventKey: 'payment_intent.succeeded',
      businessKey: 'body.data.object.id',
      cancels: ['payment-failed-reminder'],
    });

    expect(mappingContractProblems(cancelOnly, [])).toEqual([]);
    expect(checkMapping(cancelOnly, [])).toEqual({});
  });

  it('finds nothing wrong in a mapping that fits its template', () => {
    const paymentLink = mapping('payment_link', [
      body(text('body.amount'), text('body.reason')),
      urlButton(),
    ]);

    expect(mappingContractProblems(paymentLink, templates)).toEqual([]);
  });

  it('names a template that does not exist', () => {
    const problems = mappingContractProblems(
      mapping('payment_linx', []),
      templates
    );

    expect(problems).toEqual(['template payment_linx does not exist']);
  });

  it('names a language the template does not have', () => {
    const problems = mappingContractProblems(
      mapping('payment_link', [], 'fr'),
      templates
    );

    expect(problems).toEqual([
      'template payment_link has no language fr (it has en_US, es)',
    ]);
  });

  it('counts body parameters and asks for the URL button', () => {
    const problems = mappingContractProblems(
      mapping('order_confirmation', [body(text('a'), text('b'))]),
      templates
    );

    expect(problems).toEqual(['body expects 3 parameters, mapping gives 2']);
  });

  it('says a URL button with a variable needs its text parameter', () => {
    const problems = mappingContractProblems(
      mapping('payment_link', [body(text('a'), text('b'))]),
      templates
    );

    expect(problems).toEqual([
      'button 0 is a URL button and needs one text parameter',
    ]);
  });

  it('says a button of another kind is not the one mapped', () => {
    const problems = mappingContractProblems(
      mapping('discount_offer', [
        body(text('a'), text('b')),
        { ...urlButton(0) },
        { ...urlButton(1) },
      ]),
      templates
    );

    expect(problems).toEqual([
      'button 0 is a COPY_CODE button, mapping gives url',
      'button 1 is a URL button with a fixed address and takes no parameter',
    ]);
  });

  it('asks for the image link of an IMAGE header', () => {
    const problems = mappingContractProblems(
      mapping('order_shipped', [
        { type: 'header', parameters: [text('body.title')] },
        body(text('a'), text('b'), text('c')),
        urlButton(),
      ]),
      templates
    );

    expect(problems).toEqual([
      'header is an IMAGE header and needs an image link',
    ]);
  });

  it('accepts an image link for an IMAGE header', () => {
    const problems = mappingContractProblems(
      mapping('order_shipped', [
        { type: 'header', parameters: [{ type: 'image', link: 'body.img' }] },
        body(text('a'), text('b'), text('c')),
        urlButton(),
      ]),
      templates
    );

    expect(problems).toEqual([]);
  });

  it('checks the names of a named template', () => {
    const problems = mappingContractProblems(
      mapping('delivery_update', [
        { type: 'header', parameters: [text('body.number', 'order_number')] },
        body(text('a', 'customer'), text('b')),
      ]),
      templates
    );

    expect(problems).toEqual([
      'body parameter 1 is named customer, which template delivery_update does not have (it has customer_name, tracking_number)',
      'body parameter 2 needs a name: template delivery_update takes named parameters (customer_name, tracking_number)',
      'body parameter customer_name is missing',
      'body parameter tracking_number is missing',
    ]);
  });

  it('refuses names on a positional template', () => {
    const problems = mappingContractProblems(
      mapping('invoice_ready', [
        { type: 'header', parameters: [{ type: 'document', link: 'l' }] },
        body(text('a', 'customer_name'), text('b')),
      ]),
      templates
    );

    expect(problems).toEqual([
      'body parameter 1 has the name customer_name, but template invoice_ready takes positional parameters',
    ]);
  });

  it('takes currency and date_time values as body parameters', () => {
    const problems = mappingContractProblems(
      mapping('payment_due', [
        body(
          text('body.name'),
          {
            type: 'currency',
            value: 'body.amount_text',
            code: 'body.currency',
            amount1000: 'body.amount * 10',
          },
          { type: 'date_time', value: 'body.due' }
        ),
      ]),
      templates
    );

    expect(problems).toEqual([]);
  });

  it('says a template that is not approved cannot be mapped', () => {
    const rejected = parseTemplatePage({
      data: [{ ...templates[0], status: 'REJECTED' }],
    }).templates;

    const problems = mappingContractProblems(
      mapping('order_confirmation', [body(text('a'), text('b'), text('c'))]),
      rejected
    );

    expect(problems).toEqual([
      'template order_confirmation (en_US) is REJECTED, not APPROVED',
    ]);
  });

  it('says when a template has parts this product cannot read', () => {
    const page = parseTemplatePage({
      data: [
        {
          name: 'spring_carousel',
          language: 'en_US',
          status: 'APPROVED',
          category: 'MARKETING',
          components: [{ type: 'CAROUSEL', cards: [] }],
        },
      ],
    });

    const problems = mappingContractProblems(
      mapping('spring_carousel', []),
      page.templates,
      page.unreadable
    );

    expect(page.templates).toEqual([]);
    expect(problems).toEqual([
      expect.stringMatching(
        /^template spring_carousel \(en_US\) has parts this product cannot fill: /
      ),
    ]);
  });
});
