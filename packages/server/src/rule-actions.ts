/**
 * How the platform carries out rule actions (issue 13, point 3; docs/reference/rules.md "Actions"): the deliverers
 * the ActionDispatcher (@iip/rules) hands outbox jobs to.
 *
 * - **webhook**: a POST of the notice as JSON, signed: `X-IIP-Signature: sha256=<hex HMAC-SHA256 of
 *   "<X-IIP-Timestamp>.<body>" with the tenant's signing secret>`, `X-IIP-Delivery: <job id>` (the same on every
 *   retry: a receiver drops repeats by it). 2xx is done; 408, 429, 5xx and network failures are retried; other answers
 *   are given up at once. Redirects are not followed (a signed call goes where it was configured to).
 * - **email**: over the SMTP server of IIP_SMTP_URL (nodemailer), from IIP_SMTP_FROM; 4xx answers retried, 5xx not.
 * - **write** / **invoke**: through the gateway manager's audited command path, with `rule:<id>` as the actor.
 * - **publish**: to the device's own MQTT subtree, under rules/ so that a rule can never speak on the platform's own
 *   topics (commands, config): iip/<tenant>/<device>/rules/<topic> (QoS 1, not retained).
 */
import { createHmac } from 'node:crypto';
import { IipError, type PointValue, type TenantId, type ThingModel } from '@iip/core';
import { type ActionDeliverer, ActionFailure, type ActionKind, type ActionNotice, type ActionPayload } from '@iip/rules';
import type { ActionOutbox } from '@iip/storage';
import nodemailer from 'nodemailer';

/** A webhook call waits this long for its answer. */
const WEBHOOK_TIMEOUT_MS = 10_000;

export interface RuleActionPorts {
  readonly outbox: Pick<ActionOutbox, 'signingSecret'>;
  /** The gateway manager's audited command path (write, invoke). */
  readonly commands?: {
    write(req: { tenant: TenantId; device: string; property: string; value: PointValue; oldValue: PointValue | null; actor: string }): Promise<unknown>;
    invokeService(req: { tenant: TenantId; device: string; service: string; inputs: unknown; model: ThingModel; actor: string }): Promise<unknown>;
  };
  /** The device's product model (invoke checks inputs against it). */
  readonly model?: (tenant: TenantId, device: string) => Promise<ThingModel>;
  /** The device's latest value of a property (the audit entry's old value). */
  readonly latest?: (tenant: TenantId, device: string, property: string) => Promise<PointValue | null>;
  /** MQTT to a device's subtree (the front door, or the bus router scaled out). */
  readonly publisher?: { publishToDevice(tenant: string, device: string, subtopic: string, payload: string, opts: { retain: boolean; qos: 0 | 1 }): Promise<void> };
  /** smtp:// or smtps:// URL of the SMTP server (IIP_SMTP_URL); without it e-mail actions are refused when saved. */
  readonly smtpUrl?: string;
  /** The From address (IIP_SMTP_FROM; default iip@<the SMTP host>). */
  readonly smtpFrom?: string;
  /** Sign webhook calls at this time (tests). */
  readonly now?: () => number;
}

/** The signature of a webhook body as the receiver checks it. */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

const TRANSITION_TEXT = { raise: { en: 'raised', zh: '报警' }, clear: { en: 'cleared', zh: '恢复' } } as const;

/** An e-mail's subject and text for a notice, in English and Chinese. */
export function noticeMail(n: ActionNotice, subject: string | null): { subject: string; text: string } {
  const t = TRANSITION_TEXT[n.transition];
  const when = new Date(n.ts).toISOString();
  return {
    subject: subject ?? `[iip] ${t.zh} ${t.en}: ${n.message} (${n.device})`,
    text: [
      `${n.message}`,
      '',
      `Rule / 规则: ${n.rule.name} (${n.rule.id})`,
      `Device / 设备: ${n.device}`,
      `Transition / 状态: ${t.en} / ${t.zh}`,
      `Severity / 级别: ${n.severity}`,
      `Time / 时间: ${when}`,
      `Values / 数值: ${JSON.stringify(n.values)}`,
      `Tenant / 租户: ${n.tenant}`,
    ].join('\n'),
  };
}

/** The deliverers this process can run, by kind (kinds whose ports are missing are left to other processes). */
export function ruleActionDeliverers(ports: RuleActionPorts): Partial<Record<ActionKind, ActionDeliverer>> {
  const now = ports.now ?? Date.now;
  const out: Partial<Record<ActionKind, ActionDeliverer>> = {};

  out.webhook = async (job, p) => {
    if (p.action.type !== 'webhook') throw new ActionFailure('IIP_ERR_RULE_INVALID', 'not a webhook action', true);
    const body = JSON.stringify(p.notice);
    const timestamp = String(Math.floor(now() / 1000));
    const secret = await ports.outbox.signingSecret(job.tenant);
    let res: Response;
    try {
      res = await fetch(p.action.url, {
        method: 'POST',
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
        headers: {
          ...p.action.headers,
          'content-type': 'application/json',
          'user-agent': 'iip-rule-action/1',
          'x-iip-delivery': job.id,
          'x-iip-timestamp': timestamp,
          'x-iip-signature': webhookSignature(secret, timestamp, body),
        },
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code;
      throw new ActionFailure('IIP_ERR_ACTION_NETWORK', `${p.action.url}: ${cause ?? (e instanceof Error ? e.message : String(e))}`, false);
    }
    await res.body?.cancel().catch(() => undefined);
    if (res.status >= 200 && res.status < 300) return;
    const retry = res.status === 408 || res.status === 429 || res.status >= 500;
    throw new ActionFailure('IIP_ERR_ACTION_HTTP_STATUS', `${p.action.url} answered ${res.status}${retry ? '' : ' (not retried: a 4xx other than 408/429)'}`, !retry);
  };

  if (ports.smtpUrl) {
    const transport = nodemailer.createTransport(ports.smtpUrl);
    const from = ports.smtpFrom ?? `iip@${new URL(ports.smtpUrl).hostname}`;
    out.email = async (job, p) => {
      if (p.action.type !== 'email') throw new ActionFailure('IIP_ERR_RULE_INVALID', 'not an e-mail action', true);
      const mail = noticeMail(p.notice, p.action.subject);
      try {
        await transport.sendMail({ from, to: [...p.action.to], subject: mail.subject, text: mail.text, headers: { 'X-IIP-Delivery': job.id } });
      } catch (e) {
        const code = (e as { responseCode?: number }).responseCode;
        if (typeof code === 'number') throw new ActionFailure('IIP_ERR_ACTION_SMTP', `the SMTP server answered ${code}: ${(e as { response?: string }).response ?? String(e)}`, code >= 500);
        throw new ActionFailure('IIP_ERR_ACTION_NETWORK', `SMTP: ${(e as { code?: string }).code ?? ''} ${e instanceof Error ? e.message : String(e)}`.trim(), false);
      }
    };
  }

  const commands = ports.commands;
  if (commands) {
    // A device that refused, or has no gateway, will refuse again; a command that expired or timed out may not.
    const permanent = new Set(['IIP_ERR_COMMAND_FAILED', 'IIP_ERR_WRITE_NO_ROUTE', 'IIP_ERR_SERVICE_UNKNOWN', 'IIP_ERR_SERVICE_NOT_BOUND', 'IIP_ERR_VALIDATION']);
    const command = async (run: () => Promise<unknown>) => {
      try {
        await run();
      } catch (e) {
        if (e instanceof IipError) throw new ActionFailure('IIP_ERR_ACTION_COMMAND', `${e.code}: ${e.message}`, permanent.has(e.code));
        throw e;
      }
    };
    out.write = (job, p) => {
      if (p.action.type !== 'write') throw new ActionFailure('IIP_ERR_RULE_INVALID', 'not a write action', true);
      const a = p.action;
      return command(async () =>
        commands.write({
          tenant: job.tenant,
          device: job.device,
          property: a.property,
          value: a.value,
          oldValue: (await ports.latest?.(job.tenant, job.device, a.property)) ?? null,
          actor: `rule:${job.rule}`,
        }),
      );
    };
    if (ports.model) {
      const model = ports.model;
      out.invoke = (job, p) => {
        if (p.action.type !== 'invoke') throw new ActionFailure('IIP_ERR_RULE_INVALID', 'not an invoke action', true);
        const a = p.action;
        return command(async () =>
          commands.invokeService({ tenant: job.tenant, device: job.device, service: a.service, inputs: a.inputs, model: await model(job.tenant, job.device), actor: `rule:${job.rule}` }),
        );
      };
    }
  }

  if (ports.publisher) {
    const publisher = ports.publisher;
    out.publish = async (job, p: ActionPayload) => {
      if (p.action.type !== 'publish') throw new ActionFailure('IIP_ERR_RULE_INVALID', 'not a publish action', true);
      await publisher.publishToDevice(job.tenant, job.device, `rules/${p.action.topic}`, JSON.stringify(p.notice), { retain: false, qos: 1 });
    };
  }
  return out;
}
