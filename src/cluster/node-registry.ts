/**
 * Node heartbeats in the shared database (table `nodes`, docs/cluster.md). Every node writes its
 * row each CLUSTER_HEARTBEAT_MS and at once when its load or state changes; readers take a node as
 * live while its `last_seen` is within CLUSTER_NODE_TIMEOUT_MS of the database's clock (one clock
 * for all: no skew between hosts decides who is live).
 */
import type { Pool } from 'pg';

/** What a node reports of itself. */
export interface NodeState {
  readonly nodeId: string;
  /** Its API as the other nodes reach it (hand-overs go there). */
  readonly apiUrl: string;
  /** MAX_CONCURRENT_CALLS. */
  readonly maxCalls: number;
  /** Legs held now (outbound, inbound, transfer). */
  readonly activeCalls: number;
  /** Takes new calls: ARI connected, records writable, not draining. */
  readonly isAccepting: boolean;
  /** SIGTERM received: live calls finish, new ones go elsewhere. */
  readonly isDraining: boolean;
}

/** A node as the registry reads it. */
export interface NodeView extends NodeState {
  readonly isLive: boolean;
  /** Calls it may still take: 0 unless live and accepting. */
  readonly freeCalls: number;
  /** Age of its last heartbeat by the database's clock, ms. */
  readonly lastSeenAgoMs: number;
}

interface NodeRow {
  node_id: string;
  api_url: string;
  max_calls: number;
  active_calls: number;
  is_accepting: boolean;
  is_draining: boolean;
  last_seen_ago_ms: number;
}

export class NodeRegistry {
  readonly #pool: Pool;
  readonly #timeoutMs: number;

  constructor(pool: Pool, nodeTimeoutMs: number) {
    this.#pool = pool;
    this.#timeoutMs = nodeTimeoutMs;
  }

  /** Writes `state` as the node's heartbeat (now, by the database's clock). */
  async beat(state: NodeState): Promise<void> {
    await this.#pool.query(
      `INSERT INTO nodes (node_id, api_url, max_calls, active_calls, is_accepting, is_draining, started_at, last_seen)
       VALUES ($1, $2, $3, $4, $5, $6, now(), now())
       ON CONFLICT (node_id) DO UPDATE SET api_url = excluded.api_url, max_calls = excluded.max_calls,
         active_calls = excluded.active_calls, is_accepting = excluded.is_accepting, is_draining = excluded.is_draining,
         last_seen = excluded.last_seen`,
      [state.nodeId, state.apiUrl, state.maxCalls, state.activeCalls, state.isAccepting, state.isDraining],
    );
  }

  /** A node that stopped cleanly leaves at once instead of timing out. */
  async leave(nodeId: string): Promise<void> {
    await this.#pool.query('DELETE FROM nodes WHERE node_id = $1', [nodeId]);
  }

  /** Every node that has a row, live or not, most free capacity first. */
  async list(): Promise<NodeView[]> {
    const { rows } = await this.#pool.query<NodeRow>(
      `SELECT node_id, api_url, max_calls, active_calls, is_accepting, is_draining,
              (EXTRACT(EPOCH FROM (now() - last_seen)) * 1000)::float8 AS last_seen_ago_ms
       FROM nodes ORDER BY node_id`,
    );
    return rows.map((r) => toView(r, this.#timeoutMs)).sort((a, b) => b.freeCalls - a.freeCalls);
  }
}

function toView(row: NodeRow, timeoutMs: number): NodeView {
  const isLive = row.last_seen_ago_ms <= timeoutMs;
  return {
    nodeId: row.node_id,
    apiUrl: row.api_url,
    maxCalls: row.max_calls,
    activeCalls: row.active_calls,
    isAccepting: row.is_accepting,
    isDraining: row.is_draining,
    isLive,
    lastSeenAgoMs: row.last_seen_ago_ms,
    freeCalls: isLive && row.is_accepting && !row.is_draining ? Math.max(0, row.max_calls - row.active_calls) : 0,
  };
}
