import type { AgentToolCall } from '../media/conversation-link';

/**
 * The client tools the gateway runs for the agent (`client_tool_call` → `client_tool_result`).
 * Define them on the agent as client tools with these names and parameters:
 *
 * - `end_call` {}: the agent has said goodbye; its audio plays out, then the call hangs up.
 * - `send_dtmf` { digits: "12#" }: plays RFC 4733 digits toward the callee (IVR navigation).
 *   `w` waits half a second between digits.
 * - `transfer_to_number` { phone_number: "+7…" }: dials the number on the trunk (the destination
 *   policy of the API applies) and, once it answers, bridges the caller to it; the agent leaves.
 *
 * Anything else gets an error result the agent can read, never an exception.
 */
export const AGENT_TOOL_NAMES = ['end_call', 'send_dtmf', 'transfer_to_number'] as const;

/** What a tool may do to its call; implemented by Call. */
export interface AgentToolHost {
  endCallAfterPlayout(): void;
  sendDtmf(digits: string): Promise<void>;
  /** Resolves with a human-readable outcome once the target answered; rejects if it did not. */
  transfer(phoneNumber: string): Promise<string>;
}

export interface AgentToolResult {
  result: string;
  isError: boolean;
}

const DTMF_PATTERN = /^[0-9*#A-Dw]{1,32}$/;

function stringParam(params: Record<string, unknown>, ...names: string[]): string | undefined {
  for (const name of names) {
    const v = params[name];
    if (typeof v === 'string' && v.trim() !== '') return v.trim();
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  }
  return undefined;
}

/** Runs one tool call against `host`. Never rejects: failures become `{ isError: true }` results. */
export async function runAgentTool(call: AgentToolCall, host: AgentToolHost): Promise<AgentToolResult> {
  try {
    switch (call.toolName) {
      case 'end_call':
        host.endCallAfterPlayout();
        return { result: 'the call will end after your last words have played', isError: false };
      case 'send_dtmf': {
        const digits = stringParam(call.parameters, 'digits', 'dtmf');
        if (!digits || !DTMF_PATTERN.test(digits)) {
          return { result: 'send_dtmf needs "digits": 1-32 of 0-9 * # A-D (w = pause)', isError: true };
        }
        await host.sendDtmf(digits);
        return { result: `sent DTMF ${digits}`, isError: false };
      }
      case 'transfer_to_number': {
        const number = stringParam(call.parameters, 'phone_number', 'transfer_number', 'number');
        if (!number) return { result: 'transfer_to_number needs "phone_number" in E.164, e.g. +79991234567', isError: true };
        return { result: await host.transfer(number), isError: false };
      }
      default:
        return { result: `unknown tool "${call.toolName}"; this gateway runs ${AGENT_TOOL_NAMES.join(', ')}`, isError: true };
    }
  } catch (err) {
    return { result: `${call.toolName} failed: ${err instanceof Error ? err.message : String(err)}`, isError: true };
  }
}
