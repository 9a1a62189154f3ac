import type { Logger } from 'pino';
import { AgentClient, fetchSignedUrl, publicAgentUrl, type McpApprovalPolicy } from './agent-client';
import type { AgentInitiation } from './agent-protocol';

/** Where and how agent conversations are opened (from ELEVENLABS_* and AGENT_CONNECT_TIMEOUT_MS). */
export interface AgentConnectorOptions {
  apiUrl: string;
  /** Set for private agents: each conversation gets a signed URL. */
  apiKey: string | undefined;
  /** Agent of calls that name none. */
  defaultAgentId: string;
  connectTimeoutMs: number;
  /** MCP_APPROVAL: the answer to MCP tool calls awaiting approval; default deny. */
  mcpApproval?: McpApprovalPolicy;
}

/**
 * Opens one agent conversation: a signed URL when an API key is configured (private agent), else
 * the public-agent URL; then the socket, with events held until the owner calls `resumeEvents()`.
 * Rejects with AgentConnectionError.
 */
export async function connectAgent(
  options: AgentConnectorOptions,
  request: { agentId?: string } & AgentInitiation,
  signal: AbortSignal,
  log: Logger,
): Promise<AgentClient> {
  const { apiUrl, apiKey } = options;
  const agentId = request.agentId ?? options.defaultAgentId;
  const url = apiKey
    ? await fetchSignedUrl({ apiUrl, apiKey, agentId, signal, timeoutMs: options.connectTimeoutMs, log })
    : publicAgentUrl(apiUrl, agentId);
  return AgentClient.connect({
    url,
    initiation: {
      dynamicVariables: request.dynamicVariables,
      firstMessage: request.firstMessage,
      prompt: request.prompt,
      language: request.language,
      voiceId: request.voiceId,
      userId: request.userId,
    },
    connectTimeoutMs: options.connectTimeoutMs,
    log,
    signal,
    holdEvents: true,
    mcpApproval: options.mcpApproval,
  });
}
