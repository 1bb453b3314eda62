import { SecretValue } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { acknowledgeNag, skipCheckov } from './compliance.js';

/**
 * Secret value until the operator stores the real WhatsApp token.
 * CloudFormation rewrites the secret only when this text changes, so
 * changing it would overwrite every deployed token on the next deploy.
 */
export const TOKEN_PLACEHOLDER = 'not-set-yet: store the WhatsApp access token';

/**
 * The secret that holds the WhatsApp Cloud API access token. The stack
 * creates it with a placeholder; the operator stores the token with
 * `aws secretsmanager put-secret-value` (docs/deploy.md).
 */
export const createWhatsAppTokenSecret = (
  scope: Construct,
  id: string
): secretsmanager.Secret => {
  const secret = new secretsmanager.Secret(scope, id, {
    description:
      'WhatsApp Cloud API access token the sender uses. Store the real ' +
      'token with aws secretsmanager put-secret-value.',
    secretStringValue: SecretValue.unsafePlainText(TOKEN_PLACEHOLDER),
  });
  acknowledgeNag(secret, {
    id: 'AwsSolutions-SMG4',
    reason:
      'Meta issues the WhatsApp token; Secrets Manager has no rotation ' +
      'function for it. The operator replaces it with put-secret-value.',
  });
  skipCheckov(secret, {
    id: 'CKV_AWS_149',
    comment:
      'The AWS-managed Secrets Manager key is deliberate: only the sender ' +
      'role may read the secret, and a customer key would add cost ' +
      'without narrowing access.',
  });

  return secret;
};
