/**
 * What a call's agent conversation is opened with: the per-call options of the request, and the
 * `user_id` the agent account files the conversation under (AGENT_USER_ID, else the number of the
 * other party, so the agent's history groups conversations by caller).
 */
import type { AgentConnectRequest } from '../media/conversation-link';
import type { StartCallRequest } from '../model/call-view';

/** The phone number recorded for an inbound call without caller ID (src/call/call-service.ts). */
const ANONYMOUS = 'anonymous';

export function agentRequestOf(request: StartCallRequest, configuredUserId: string | undefined): AgentConnectRequest {
  const r = request;
  const userId = configuredUserId ?? (r.phoneNumber !== '' && r.phoneNumber !== ANONYMOUS ? r.phoneNumber : undefined);
  return {
    agentId: r.agentId,
    voiceId: r.voiceId,
    dynamicVariables: r.dynamicVariables,
    firstMessage: r.firstMessage,
    prompt: r.prompt,
    language: r.language,
    ...(userId === undefined ? {} : { userId }),
  };
}
