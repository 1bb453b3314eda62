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
): secretsmanager.Secret =>
  recordOperatorSecret(
    new secretsmanager.Secret(scope, id, {
      description:
        'WhatsApp Cloud API access token the sender uses. Store the real ' +
        'token with aws secretsmanager put-secret-value.',
      secretStringValue: SecretValue.unsafePlainText(TOKEN_PLACEHOLDER),
    }),
    'the WhatsApp token',
    'the sender and admin roles'
  );

/** Length of the verify token the stack generates for Meta's challenge. */
const VERIFY_TOKEN_LENGTH = 32;

/**
 * The secret of Meta's status callbacks, JSON
 * `{"appSecret": "...", "verifyToken": "..."}`. The stack generates the
 * verify token and leaves the app secret empty; the operator stores the
 * Meta app's secret beside the token (docs/deploy.md). Until then the
 * callback URL answers 503 and Meta retries.
 */
export const createWhatsAppAppSecret = (
  scope: Construct,
  id: string
): secretsmanager.Secret =>
  recordOperatorSecret(
    new secretsmanager.Secret(scope, id, {
      description:
        'Meta app secret that signs WhatsApp status callbacks, and the ' +
        'verify token of the callback subscription, as JSON ' +
        '{"appSecret":"...","verifyToken":"..."}.',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ appSecret: '' }),
        generateStringKey: 'verifyToken',
        passwordLength: VERIFY_TOKEN_LENGTH,
        excludePunctuation: true,
      },
    }),
    'the Meta app secret',
    'the status function role'
  );

/** Why a secret Meta issues has no rotation and the AWS-managed key. */
const recordOperatorSecret = (
  secret: secretsmanager.Secret,
  what: string,
  reader: string
): secretsmanager.Secret => {
  acknowledgeNag(secret, {
    id: 'AwsSolutions-SMG4',
    reason:
      `Meta issues ${what}; Secrets Manager has no rotation ` +
      'function for it. The operator replaces it with put-secret-value.',
  });
  skipCheckov(secret, {
    id: 'CKV_AWS_149',
    comment:
      `The AWS-managed Secrets Manager key is deliberate: only ${reader} ` +
      'may read the secret, and a customer key would add cost without ' +
      'narrowing access.',
  });

  return secret;
};
