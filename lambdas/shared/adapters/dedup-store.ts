import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { Env } from '../../../lib/definitions.js';
import { requireEnv } from '../config.js';
import { DUPLICATE_WINDOW_SECONDS, keyHash } from '../domain/messages.js';
import { dynamo } from './clients.js';

export type Claim =
  | { readonly claimed: true }
  | { readonly claimed: false; readonly originalEventId: string };

/**
 * Claims a provider's event id for one of our events, in the log table, for
 * longer than any provider re-delivers. The same event may claim again (a
 * retry after a crash); any other event finds the first one's id.
 */
export const claimProviderEvent = async (
  webhookId: string,
  providerEventId: string,
  eventId: string,
  now: Date
): Promise<Claim> => {
  const key = {
    pk: `DEDUP#${webhookId}#${keyHash(providerEventId)}`,
    sk: 'DEDUP',
  };
  try {
    await dynamo.send(
      new PutCommand({
        TableName: requireEnv(Env.LogTable),
        Item: {
          ...key,
          eventId,
          at: now.toISOString(),
          expiresAt:
            Math.floor(now.getTime() / 1000) + DUPLICATE_WINDOW_SECONDS,
        },
        ConditionExpression: 'attribute_not_exists(pk) OR eventId = :eventId',
        ExpressionAttributeValues: { ':eventId': eventId },
      })
    );
    return { claimed: true };
  } catch (error) {
    if ((error as Error).name !== 'ConditionalCheckFailedException') {
      throw error;
    }
  }
  const { Item } = await dynamo.send(
    new GetCommand({ TableName: requireEnv(Env.LogTable), Key: key })
  );

  return { claimed: false, originalEventId: String(Item?.eventId ?? '') };
};
