import { CfnParameter, type Stack } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import {
  DEFAULT_LOG_RECORD_TTL_DAYS,
  DEFAULT_THROUGHPUT_MPS,
} from '../definitions.js';
import {
  DEFAULT_LOG_RETENTION_DAYS,
  LOG_RETENTION_CHOICES_DAYS,
} from './defaults.js';

/** Longest trace-record lifetime the parameter accepts: ten years. */
const MAX_LOG_RECORD_TTL_DAYS = 3650;

/** The values a deployer passes with `cdk deploy --parameters`. */
export interface DeployParameters {
  /** Meta's id of the sending phone number (not the number itself). */
  readonly whatsAppPhoneNumberId: string;
  /** Meta's id of the WhatsApp Business Account that owns the templates. */
  readonly whatsAppBusinessAccountId: string;
  /** Address for alarm e-mails, or '' for none. */
  readonly alarmEmail: string;
  /** Days CloudWatch keeps function and access logs. */
  readonly logRetention: logs.RetentionDays;
  /** Days a trace record stays in the log table before TTL removes it. */
  readonly logRecordTtlDays: string;
  /** Messages per second the sending number may send. */
  readonly whatsAppThroughput: string;
}

/** The names to use with `--parameters Name=value`. */
export const ParameterName = {
  WhatsAppPhoneNumberId: 'WhatsAppPhoneNumberId',
  WhatsAppBusinessAccountId: 'WhatsAppBusinessAccountId',
  AlarmEmail: 'AlarmEmail',
  LogRetentionDays: 'LogRetentionDays',
  LogRecordTtlDays: 'LogRecordTtlDays',
  WhatsAppThroughput: 'WhatsAppThroughput',
} as const;

/**
 * Declares the stack's CloudFormation parameters. They live at stack level
 * so their logical ids are exactly the names above.
 */
export const declareDeployParameters = (stack: Stack): DeployParameters => {
  const phoneNumberId = new CfnParameter(
    stack,
    ParameterName.WhatsAppPhoneNumberId,
    {
      type: 'String',
      description:
        'WhatsApp Business phone number id from Meta (digits, not the ' +
        'phone number itself).',
      allowedPattern: '^[0-9]{5,32}$',
      constraintDescription: 'must be the numeric id Meta shows.',
    }
  );
  const businessAccountId = new CfnParameter(
    stack,
    ParameterName.WhatsAppBusinessAccountId,
    {
      type: 'String',
      description:
        'WhatsApp Business Account id from Meta, whose approved templates ' +
        'mappings are checked against.',
      allowedPattern: '^[0-9]{5,32}$',
      constraintDescription: 'must be the numeric id Meta shows.',
    }
  );
  const alarmEmail = new CfnParameter(stack, ParameterName.AlarmEmail, {
    type: 'String',
    description: 'E-mail address that receives alarms; empty for none.',
    default: '',
    allowedPattern: '^$|^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$',
    constraintDescription: 'must be an e-mail address or empty.',
  });

  return {
    whatsAppPhoneNumberId: phoneNumberId.valueAsString,
    whatsAppBusinessAccountId: businessAccountId.valueAsString,
    alarmEmail: alarmEmail.valueAsString,
    logRetention: declareLogRetention(stack),
    logRecordTtlDays: declareLogRecordTtl(stack),
    whatsAppThroughput: declareThroughput(stack),
  };
};

const declareLogRetention = (stack: Stack): logs.RetentionDays => {
  const parameter = new CfnParameter(stack, ParameterName.LogRetentionDays, {
    type: 'Number',
    description: 'Days CloudWatch Logs keeps function and API access logs.',
    default: String(DEFAULT_LOG_RETENTION_DAYS),
    allowedValues: LOG_RETENTION_CHOICES_DAYS.map(String),
  });

  return parameter.valueAsNumber as logs.RetentionDays;
};

const declareLogRecordTtl = (stack: Stack): string => {
  const parameter = new CfnParameter(stack, ParameterName.LogRecordTtlDays, {
    type: 'Number',
    description:
      'Days a trace record (the per-event log in DynamoDB) is kept ' +
      'before it expires.',
    default: DEFAULT_LOG_RECORD_TTL_DAYS,
    minValue: 1,
    maxValue: MAX_LOG_RECORD_TTL_DAYS,
  });

  return parameter.valueAsString;
};

/** Meta's highest throughput tier, in messages per second (FACTS A7). */
const MAX_THROUGHPUT_MPS = 1000;

const declareThroughput = (stack: Stack): string => {
  const parameter = new CfnParameter(stack, ParameterName.WhatsAppThroughput, {
    type: 'Number',
    description:
      'Messages per second the sending number may send (80 by default; ' +
      '1,000 after Meta upgrades it, 20 for a coexistence number). The ' +
      'sender paces itself to stay under it.',
    default: DEFAULT_THROUGHPUT_MPS,
    minValue: 1,
    maxValue: MAX_THROUGHPUT_MPS,
  });

  return parameter.valueAsString;
};
