import { CfnResource, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Records why a scanner finding is deliberate, next to the resource it is
 * about: cdk-nag acknowledgements go through CDK's validation framework,
 * checkov skips into the resource's template metadata.
 */

/**
 * Validation namespace of cdk-nag's AWS Solutions pack: acknowledgements
 * name it so they match that pack's findings and no other plugin's.
 */
const NAG_NAMESPACE = 'AwsSolutions';

/** A cdk-nag rule (optionally one finding of it) and why it does not apply. */
export interface NagAcknowledgement {
  /** Rule id as cdk-nag prints it, e.g. `AwsSolutions-IAM5[Resource::*]`. */
  readonly id: string;
  readonly reason: string;
}

/** A checkov check and why the template deliberately fails it. */
export interface CheckovSkip {
  readonly id: string;
  readonly comment: string;
}

export const acknowledgeNag = (
  scope: IConstruct,
  ...acknowledgements: NagAcknowledgement[]
): void => {
  Validations.of(scope).acknowledge(
    ...acknowledgements.map(({ id, reason }) => ({
      id: `${NAG_NAMESPACE}::${id}`,
      reason,
    }))
  );
};

/**
 * Adds checkov skips to the CloudFormation resource behind `scope`, keeping
 * the skips already recorded there.
 */
export const skipCheckov = (
  scope: IConstruct,
  ...skips: CheckovSkip[]
): void => {
  const resource = toCfnResource(scope);
  const recorded = resource.getMetadata('checkov') as
    | { skip?: CheckovSkip[] }
    | undefined;
  resource.addMetadata('checkov', {
    skip: [...(recorded?.skip ?? []), ...skips],
  });
};

const toCfnResource = (scope: IConstruct): CfnResource => {
  const resource =
    scope instanceof CfnResource ? scope : scope.node.defaultChild;
  if (!(resource instanceof CfnResource)) {
    throw new Error(`${scope.node.path} has no CloudFormation resource.`);
  }

  return resource;
};

/** Why log groups use CloudWatch's own encryption, not a customer key. */
export const LOG_GROUP_KMS_SKIP: CheckovSkip = {
  id: 'CKV_AWS_158',
  comment:
    'Logs are encrypted at rest by CloudWatch Logs; by design they hold ' +
    'no secrets, tokens, bodies or full phone numbers, so a customer key ' +
    'would add cost and key policy without protecting anything more.',
};

/** Why SQS queues fail checkov CKV_AWS_27 although they are encrypted. */
export const SQS_MANAGED_SSE_SKIP: CheckovSkip = {
  id: 'CKV_AWS_27',
  comment:
    'Encrypted at rest with SSE-SQS (SqsManagedSseEnabled); the check ' +
    'only recognises a KMS key id.',
};
