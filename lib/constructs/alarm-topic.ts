import { CfnCondition, Fn, RemovalPolicy } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

export interface AlarmTopicProps {
  /**
   * Address that receives every alarm; an empty string (the parameter's
   * default) means no subscription. May be a parameter token.
   */
  readonly email: string;
}

/**
 * The SNS topic every alarm notifies, encrypted with its own key (alarms
 * cannot publish to a topic under the AWS-managed SNS key), TLS-only, with
 * an e-mail subscription when an address is given.
 */
export class AlarmTopic extends Construct {
  readonly topic: sns.Topic;
  readonly key: kms.Key;
  /** Publishes to the topic; give it to alarms as alarm and OK action. */
  readonly action: cloudwatch.IAlarmAction;

  constructor(scope: Construct, id: string, props: AlarmTopicProps) {
    super(scope, id);
    this.key = this.createKey();
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'Wapto webhook bridge alarms',
      masterKey: this.key,
      enforceSSL: true,
    });
    this.action = new SnsAction(this.topic);
    this.subscribeEmail(props.email);
  }

  private createKey(): kms.Key {
    const key = new kms.Key(this, 'Key', {
      description: 'Encrypts the alarm notifications of the webhook bridge.',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'LetCloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      })
    );

    return key;
  }

  private subscribeEmail(email: string): void {
    const hasEmail = new CfnCondition(this, 'HasAlarmEmail', {
      expression: Fn.conditionNot(Fn.conditionEquals(email, '')),
    });
    const subscription = new sns.CfnSubscription(this, 'EmailSubscription', {
      topicArn: this.topic.topicArn,
      protocol: sns.SubscriptionProtocol.EMAIL,
      endpoint: email,
    });
    subscription.cfnOptions.condition = hasEmail;
  }
}
