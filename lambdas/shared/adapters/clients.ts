import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * SDK clients, created once per container. The SDK reads the Region and,
 * locally, AWS_ENDPOINT_URL from the environment.
 */
export const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
  marshallOptions: { removeUndefinedValues: true },
});
export const sqs = new SQSClient({});
export const secretsManager = new SecretsManagerClient({});
// Path-style addressing works with AWS and with any local endpoint alike.
export const s3 = new S3Client({ forcePathStyle: true });
