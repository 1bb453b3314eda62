import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { buildStack, STACK_NAME } from './stack-fixture.js';

interface PluginReport {
  readonly pluginName: string;
  readonly violations: readonly { ruleName: string; severity: string }[];
}

const { app, outdir } = buildStack({
  prepare: (scope) =>
    Validations.of(scope).addPlugins(new AwsSolutionsChecks(scope)),
});

/** Every acknowledged rule in the app, by construct path. */
const acknowledgements = () =>
  app.node
    .findAll()
    .flatMap((construct) =>
      construct.node.metadata
        .filter(
          (entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY
        )
        .flatMap((entry) =>
          Object.entries(entry.data as Record<string, string>).map(
            ([id, reason]) => ({ path: construct.node.path, id, reason })
          )
        )
    );

const readReport = (): PluginReport[] =>
  (
    JSON.parse(
      readFileSync(path.join(outdir, 'validation-report.json'), 'utf8')
    ) as { pluginReports: PluginReport[] }
  ).pluginReports;

describe('cdk-nag AwsSolutionsChecks', () => {
  it('finds no unacknowledged error or warning', () => {
    // Act
    const synth = () => app.synth();

    // Assert
    expect(synth).not.toThrow();
    const violations = readReport()
      .filter((report) => report.pluginName === 'AwsSolutions')
      .flatMap((report) => report.violations);
    expect(violations).toEqual([]);
  });

  it('leaves only the reserved-concurrency caveat in the report', () => {
    // Arrange
    app.synth();

    // Act
    const rules = readReport().flatMap((report) =>
      report.violations.map((v) => `${v.severity} ${v.ruleName}`)
    );

    // Assert
    expect(rules).toEqual(['warning Annotation::wapto:reserved-concurrency']);
  });

  it('acknowledges only these findings', () => {
    // Arrange
    const secretsFinding =
      'AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:' +
      'secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:' +
      `wapto/${STACK_NAME}/webhooks/*]`;
    // The bucket's logical id ends in a hash; the finding names it.
    const payloadsFinding =
      'AwsSolutions::AwsSolutions-IAM5[Resource::<PayloadBucket.Arn>/payloads/*]';

    // Act
    const found = acknowledgements().map(({ path: at, id }) => [
      at,
      id.replace(/<PayloadBucket\w+\.Arn>/, '<PayloadBucket.Arn>'),
    ]);

    // Assert
    expect(found.sort()).toEqual(
      [
        [`${STACK_NAME}/AdminFunction/Role`, secretsFinding],
        ...['Verifier', 'Mapper', 'Admin'].map((name) => [
          `${STACK_NAME}/${name}Function/Role`,
          payloadsFinding,
        ]),
        [`${STACK_NAME}/PayloadBucket/Bucket`, 'AwsSolutions::AwsSolutions-S1'],
        ...['POST', 'GET', 'ANY'].map((method) => [
          `${STACK_NAME}/HttpApi/Api/${method}--webhooks--{webhookId}`,
          'AwsSolutions::AwsSolutions-APIG4',
        ]),
        ...['POST', 'GET', 'ANY'].map((method) => [
          `${STACK_NAME}/HttpApi/Api/${method}--whatsapp--events`,
          'AwsSolutions::AwsSolutions-APIG4',
        ]),
        [`${STACK_NAME}/VerifierFunction/Role`, secretsFinding],
        ...['WhatsAppTokenSecret', 'WhatsAppAppSecret'].map((id) => [
          `${STACK_NAME}/${id}`,
          'AwsSolutions::AwsSolutions-SMG4',
        ]),
      ].sort()
    );
  });

  it('gives every acknowledgement a reason a reviewer can check', () => {
    // Act
    const reasons = acknowledgements().map(({ reason }) => reason);

    // Assert
    for (const reason of reasons) {
      expect(reason.split(' ').length).toBeGreaterThanOrEqual(12);
    }
  });
});
