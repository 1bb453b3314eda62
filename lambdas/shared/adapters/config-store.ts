import {
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { Env } from '../../../lib/definitions.js';
import { requireEnv } from '../config.js';
import type { Mapping } from '../domain/mapping.js';
import type { Webhook, WebhookStatus } from '../domain/webhook.js';
import { dynamo } from './clients.js';

/**
 * Webhooks and mappings in the config table: one partition per webhook,
 * the webhook itself under `CONFIG`, each mapping under `MAPPING#<id>`.
 */
const WEBHOOK_SK = 'CONFIG';
const MAPPING_PREFIX = 'MAPPING#';

const table = () => requireEnv(Env.ConfigTable);
const webhookPk = (webhookId: string) => `WEBHOOK#${webhookId}`;

type Item = Record<string, unknown>;

const strip = <T>(item: Item): T => {
  const { pk: _pk, sk: _sk, ...rest } = item;
  return rest as T;
};

export const getWebhook = async (
  webhookId: string
): Promise<Webhook | undefined> => {
  const { Item } = await dynamo.send(
    new GetCommand({
      TableName: table(),
      Key: { pk: webhookPk(webhookId), sk: WEBHOOK_SK },
    })
  );

  return Item ? strip<Webhook>(Item) : undefined;
};

/** A webhook and all its mappings, in one query. */
export const getWebhookWithMappings = async (
  webhookId: string
): Promise<{ webhook?: Webhook; mappings: Mapping[] }> => {
  const items: Item[] = [];
  let startKey: Item | undefined;
  do {
    const page = await dynamo.send(
      new QueryCommand({
        TableName: table(),
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': webhookPk(webhookId) },
        ExclusiveStartKey: startKey,
      })
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  const webhookItem = items.find((item) => item.sk === WEBHOOK_SK);
  const mappings = items
    .filter((item) => String(item.sk).startsWith(MAPPING_PREFIX))
    .map((item) => strip<Mapping>(item));

  return {
    ...(webhookItem ? { webhook: strip<Webhook>(webhookItem) } : {}),
    mappings,
  };
};

// LIMITATION: listing scans the table, which is fine for the hundreds of
// webhooks one company runs but would need an index beyond that.
export const listWebhooks = async (): Promise<Webhook[]> => {
  const webhooks: Webhook[] = [];
  let startKey: Item | undefined;
  do {
    const page = await dynamo.send(
      new ScanCommand({
        TableName: table(),
        FilterExpression: 'sk = :sk',
        ExpressionAttributeValues: { ':sk': WEBHOOK_SK },
        ExclusiveStartKey: startKey,
      })
    );
    webhooks.push(...(page.Items ?? []).map((item) => strip<Webhook>(item)));
    startKey = page.LastEvaluatedKey;
  } while (startKey);

  return webhooks.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
};

/** Stores a new webhook; fails if the id is taken. */
export const createWebhook = async (webhook: Webhook): Promise<void> => {
  await dynamo.send(
    new PutCommand({
      TableName: table(),
      Item: { pk: webhookPk(webhook.webhookId), sk: WEBHOOK_SK, ...webhook },
      ConditionExpression: 'attribute_not_exists(pk)',
    })
  );
};

/** Sets a webhook's status; `undefined` when the webhook does not exist. */
export const setWebhookStatus = async (
  webhookId: string,
  status: WebhookStatus,
  now: Date
): Promise<Webhook | undefined> => {
  try {
    const { Attributes } = await dynamo.send(
      new UpdateCommand({
        TableName: table(),
        Key: { pk: webhookPk(webhookId), sk: WEBHOOK_SK },
        UpdateExpression: 'SET #status = :status, updatedAt = :at',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':status': status,
          ':at': now.toISOString(),
        },
        ReturnValues: 'ALL_NEW',
      })
    );
    return Attributes ? strip<Webhook>(Attributes) : undefined;
  } catch (error) {
    if ((error as Error).name === 'ConditionalCheckFailedException') {
      return undefined;
    }
    throw error;
  }
};

export const putMapping = async (mapping: Mapping): Promise<void> => {
  await dynamo.send(
    new PutCommand({
      TableName: table(),
      Item: {
        pk: webhookPk(mapping.webhookId),
        sk: `${MAPPING_PREFIX}${mapping.mappingId}`,
        ...mapping,
      },
    })
  );
};
