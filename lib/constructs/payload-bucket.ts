import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { PAYLOAD_KEY_PREFIX } from '../../lambdas/shared/domain/messages.js';
import type { BucketDefinition } from '../definitions.js';
import type { BridgeFunction } from './bridge-function.js';
import { acknowledgeNag, skipCheckov } from './compliance.js';

export interface PayloadBucketProps {
  readonly definition: BucketDefinition;
}

/**
 * The payload store: private, encrypted, TLS only, and self-emptying, since
 * every object is a copy of a body that a queue message points at.
 */
export class PayloadBucket extends Construct {
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: PayloadBucketProps) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        {
          expiration: Duration.days(props.definition.expireAfterDays),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      // Emptied by its lifecycle rule; CloudFormation cannot delete a
      // bucket that still holds objects, so it is left for the deployer.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledgeNag(this.bucket, {
      id: 'AwsSolutions-S1',
      reason:
        'Only the stack functions read and write this bucket, under IAM; ' +
        'objects are short-lived copies of webhook bodies, and CloudTrail ' +
        'data events can be enabled where an audit needs object access.',
    });
    skipCheckov(
      this.bucket,
      {
        id: 'CKV_AWS_18',
        comment:
          'Access logging is left off: only the stack functions touch the ' +
          'bucket, and CloudTrail data events cover audits.',
      },
      {
        id: 'CKV_AWS_21',
        comment:
          'Objects are written once under a unique key and expire; ' +
          'versions would only keep payload copies longer.',
      },
      {
        id: 'CKV_AWS_144',
        comment:
          'Payloads are transient copies; replicating them to another ' +
          'Region would spread customer data without a use.',
      },
      {
        id: 'CKV_AWS_145',
        comment:
          'SSE-S3 encryption is deliberate: access is limited by IAM to ' +
          "this stack's functions, and a customer key would add cost " +
          'without narrowing who can read.',
      },
      {
        id: 'CKV2_AWS_62',
        comment:
          'No event notifications: nothing reacts to a new payload object, ' +
          'the queue message that points at it does.',
      }
    );
  }

  /** Lets `grantee` store payloads: `s3:PutObject`, nothing more. */
  grantWrite(grantee: BridgeFunction): void {
    this.grantObjects(grantee, 's3:PutObject');
  }

  /** Lets `grantee` read stored payloads: `s3:GetObject`, nothing more. */
  grantRead(grantee: BridgeFunction): void {
    this.grantObjects(grantee, 's3:GetObject');
  }

  private grantObjects(grantee: BridgeFunction, action: string): void {
    grantee.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [action],
        resources: [this.bucket.arnForObjects(`${PAYLOAD_KEY_PREFIX}*`)],
      })
    );
    acknowledgeNag(grantee.role, {
      id: `AwsSolutions-IAM5[Resource::<${this.logicalId()}.Arn>/${PAYLOAD_KEY_PREFIX}*]`,
      reason:
        'One object per accepted event, named by an event id made at run ' +
        'time; the grant covers only the payload prefix of this bucket.',
    });
  }

  private logicalId(): string {
    return Stack.of(this).getLogicalId(
      this.bucket.node.defaultChild as s3.CfnBucket
    );
  }
}
