import type { Logger } from 'pino';
import type { AgentConnectRequest, AgentConnector, AgentSession, AgentSessionHandlers } from '../call/ports';
import type { Config } from '../config';
import { AgentClient, fetchSignedUrl, publicAgentUrl } from './agent-client';

/**
 * Opens agent conversations for calls: a signed URL when an API key is configured (private agent),
 * else the public-agent URL; then the socket, with events held until the call has set its handlers.
 */
export function createAgentConnector(
  config: Pick<Config, 'elevenLabsApiUrl' | 'elevenLabsApiKey' | 'elevenLabsAgentId' | 'agentConnectTimeoutMs'>,
  log: Logger,
): AgentConnector {
  return async (request: AgentConnectRequest, signal: AbortSignal): Promise<AgentSession> => {
    const { elevenLabsApiUrl: apiUrl, elevenLabsApiKey: apiKey } = config;
    const agentId = request.agentId ?? config.elevenLabsAgentId;
    const url = apiKey
      ? await fetchSignedUrl({ apiUrl, apiKey, agentId, signal, timeoutMs: config.agentConnectTimeoutMs, log })
      : publicAgentUrl(apiUrl, agentId);
    const client = await AgentClient.connect({
      url,
      initiation: {
        dynamicVariables: request.dynamicVariables,
        firstMessage: request.firstMessage,
        prompt: request.prompt,
        language: request.language,
        voiceId: request.voiceId,
        userId: request.userId,
      },
      connectTimeoutMs: config.agentConnectTimeoutMs,
      log,
      signal,
      holdEvents: true,
    });
    return new AgentClientSession(client);
  };
}

/** Adapts AgentClient's typed events to the handlers a Call sets. */
export class AgentClientSession implements AgentSession {
  readonly #client: AgentClient;

  constructor(client: AgentClient) {
    this.#client = client;
  }

  get conversationId(): string {
    return this.#client.conversationId;
  }
  get inputFormat(): AgentSession['inputFormat'] {
    return this.#client.inputFormat;
  }
  get outputFormat(): AgentSession['outputFormat'] {
    return this.#client.outputFormat;
  }
  /** The underlying client, for counters and tools. */
  get client(): AgentClient {
    return this.#client;
  }

  sendAudio(bytes: Buffer): void {
    this.#client.sendAudio(bytes);
  }

  sendUserActivity(): void {
    this.#client.sendUserActivity();
  }

  sendUserMessage(text: string): void {
    this.#client.sendUserMessage(text);
  }

  sendContextualUpdate(text: string): void {
    this.#client.sendContextualUpdate(text);
  }

  sendToolResult(toolCallId: string, result: string, isError: boolean): void {
    this.#client.sendToolResult(toolCallId, result, isError);
  }

  setHandlers(h: AgentSessionHandlers): void {
    const c = this.#client;
    c.on('audio', (e) => h.onAudio(e.bytes));
    c.on('interruption', () => h.onInterruption());
    c.on('transcript', (e) => {
      if (!e.isCorrection) h.onTranscript(e.role, e.text);
    });
    c.on('clientToolCall', (e) => h.onToolCall({ toolName: e.toolName, toolCallId: e.toolCallId, parameters: e.parameters }));
    c.on('agentToolResponse', (e) => {
      if (e.isEndCall) h.onEndCallRequested();
    });
    c.on('close', (e) => h.onClose(e.code, e.reason, e.initiatedBy));
    c.resumeEvents();
  }

  close(code = 1000, reason?: string): Promise<void> {
    return this.#client.close(code, reason);
  }
}
