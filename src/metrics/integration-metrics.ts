/**
 * Metrics of what the gateway tells and asks the outside world: signals the agent sends (context
 * use, guardrails, MCP approvals), webhook delivery, and campaigns. Registered on the gateway's own
 * registry (GatewayMetrics.registry), never on prom-client's global one.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { METRICS_PREFIX } from './metrics';

/** Agent signals counted: context reports, guardrails, MCP approvals answered by policy. */
export type AgentSignalKind = 'context_usage' | 'guardrail_triggered' | 'mcp_approved' | 'mcp_denied';

/** How one webhook delivery attempt ended. */
export type WebhookAttemptOutcome = 'delivered' | 'retried' | 'failed';

/** The outbox as last read: events waiting, and the age of the oldest. */
export interface WebhookBacklog {
  pending: number;
  oldestPendingAgeMs: number;
  dead: number;
}

export class IntegrationMetrics {
  readonly #agentSignals: Counter<'kind'>;
  readonly #webhookAttempts: Counter<'outcome'>;
  readonly #campaignCalls: Counter<'outcome'>;
  #backlog: WebhookBacklog = { pending: 0, oldestPendingAgeMs: 0, dead: 0 };

  constructor(registry: Registry) {
    const registers = [registry];
    this.#agentSignals = new Counter({
      name: `${METRICS_PREFIX}agent_signals_total`,
      help: 'Agent reports counted by kind: context_usage, guardrail_triggered, mcp_approved, mcp_denied (MCP_APPROVAL)',
      labelNames: ['kind'],
      registers,
    });
    this.#webhookAttempts = new Counter({
      name: `${METRICS_PREFIX}webhook_deliveries_total`,
      help: 'Webhook delivery attempts by outcome: delivered (2xx), retried (failed, will be tried again), failed (dead-lettered)',
      labelNames: ['outcome'],
      registers,
    });
    const backlog = (): WebhookBacklog => this.#backlog;
    new Gauge({
      name: `${METRICS_PREFIX}webhook_pending`,
      help: 'Webhook deliveries waiting in the outbox (one per event and destination)',
      registers,
      collect() {
        this.set(backlog().pending);
      },
    });
    new Gauge({
      name: `${METRICS_PREFIX}webhook_oldest_pending_age_seconds`,
      help: 'Age of the oldest webhook delivery still waiting, seconds (0 when none waits)',
      registers,
      collect() {
        this.set(backlog().oldestPendingAgeMs / 1000);
      },
    });
    new Gauge({
      name: `${METRICS_PREFIX}webhook_dead_letters`,
      help: 'Webhook deliveries given up after WEBHOOK_MAX_ATTEMPTS (listed by GET /api/webhooks/dead-letters)',
      registers,
      collect() {
        this.set(backlog().dead);
      },
    });
    this.#campaignCalls = new Counter({
      name: `${METRICS_PREFIX}campaign_attempts_total`,
      help: 'Campaign call attempts by outcome: completed, busy, no-answer, failed, refused, deferred (not placed now: capacity or rate limit)',
      labelNames: ['outcome'],
      registers,
    });
    for (const kind of ['context_usage', 'guardrail_triggered', 'mcp_approved', 'mcp_denied'] as const) this.#agentSignals.inc({ kind }, 0);
    for (const outcome of ['delivered', 'retried', 'failed'] as const) this.#webhookAttempts.inc({ outcome }, 0);
  }

  agentSignal(kind: AgentSignalKind): void {
    this.#agentSignals.inc({ kind });
  }

  webhookAttempt(outcome: WebhookAttemptOutcome): void {
    this.#webhookAttempts.inc({ outcome });
  }

  /** The outbox's size as last read by the deliverer (exported on scrape). */
  webhookBacklog(backlog: WebhookBacklog): void {
    this.#backlog = backlog;
  }

  campaignAttempt(outcome: string): void {
    this.#campaignCalls.inc({ outcome });
  }
}
