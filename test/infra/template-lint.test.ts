import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildStack } from './stack-fixture.js';

const VENV_BIN = path.resolve(import.meta.dirname, '../../.venv/bin');
const LINT_TIMEOUT_MS = 120_000;

const { app, stack } = buildStack();
const templatePath = app
  .synth()
  .getStackByName(stack.stackName).templateFullPath;

/** Runs a tool from the project's Python tools and returns its stdout. */
const runTool = (tool: string, args: string[]): string => {
  const executable = path.join(VENV_BIN, tool);
  if (!existsSync(executable)) {
    throw new Error(
      `${executable} is missing: run 'bash scripts/python-tools.sh' first.`
    );
  }
  const result = spawnSync(executable, args, {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: LINT_TIMEOUT_MS,
  });
  if (result.error) throw result.error;

  return result.stdout;
};

interface CfnLintMatch {
  readonly Level: 'Error' | 'Warning' | 'Informational';
  readonly Message: string;
  readonly Rule: { readonly Id: string };
}

interface CheckovReport {
  readonly summary: { failed: number; skipped: number; passed: number };
  readonly results: {
    readonly failed_checks?: { check_id: string; resource: string }[];
  };
}

interface CheckovSkip {
  readonly id: string;
  readonly comment: string;
}

describe('the synthesised template', () => {
  it('has no cfn-lint error', { timeout: LINT_TIMEOUT_MS }, () => {
    // Act
    const output = runTool('cfn-lint', ['--format', 'json', templatePath]);
    const matches = JSON.parse(output) as CfnLintMatch[];

    // Assert
    const errors = matches.filter((match) => match.Level === 'Error');
    expect(errors.map((e) => `${e.Rule.Id}: ${e.Message}`)).toEqual([]);
  });

  it('passes every checkov check it does not skip', {
    timeout: LINT_TIMEOUT_MS,
  }, () => {
    // Act
    const output = runTool('checkov', [
      '--file',
      templatePath,
      '--framework',
      'cloudformation',
      '--quiet',
      '--compact',
      '--skip-download',
      '--output',
      'json',
    ]);
    const report = JSON.parse(output) as CheckovReport;

    // Assert
    const failed = (report.results.failed_checks ?? []).map(
      (check) => `${check.check_id} ${check.resource}`
    );
    expect(failed).toEqual([]);
    expect(report.summary.passed).toBeGreaterThan(50);
  });

  it('explains every checkov skip', () => {
    // Arrange
    const template = app.synth().getStackByName(stack.stackName).template as {
      Resources: Record<
        string,
        { Metadata?: { checkov?: { skip: CheckovSkip[] } } }
      >;
    };

    // Act
    const skips = Object.values(template.Resources).flatMap(
      (resource) => resource.Metadata?.checkov?.skip ?? []
    );

    // Assert
    expect(skips.length).toBeGreaterThan(0);
    for (const skip of skips) {
      expect(skip.id).toMatch(/^CKV2?_AWS_\d+$/);
      expect(skip.comment.split(' ').length).toBeGreaterThanOrEqual(10);
    }
  });
});
