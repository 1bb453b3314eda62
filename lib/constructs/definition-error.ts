import type { IConstruct } from 'constructs';

/**
 * Thrown at synth when `definitions.ts` describes resources that cannot
 * work together; lists every problem found, prefixed with the construct.
 */
export class DefinitionError extends Error {
  override readonly name = 'DefinitionError';
  readonly problems: readonly string[];

  constructor(scope: IConstruct, problems: readonly string[]) {
    super(`${scope.node.path}: ${problems.join(' ')}`);
    this.problems = problems;
  }
}

/** @throws {DefinitionError} when `problems` is not empty. */
export const assertNoProblems = (
  scope: IConstruct,
  problems: readonly string[]
): void => {
  if (problems.length > 0) throw new DefinitionError(scope, problems);
};
