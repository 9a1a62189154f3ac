/**
 * A call request in the public API's wire form (snake_case), as one node hands it to another: the
 * receiving node validates it with the same schema as POST /api/calls and maps it back with the
 * same function (src/api/routes/calls.ts `toStartCallRequest`).
 */
import type { StartCallRequest } from '../model/call-view';

/** The inverse of `toStartCallRequest`: absent options stay absent. */
export function toWirePayload(request: StartCallRequest): Record<string, unknown> {
  const wire: Record<string, unknown> = { phone_number: request.phoneNumber };
  const put = (key: string, value: unknown): void => {
    if (value !== undefined) wire[key] = value;
  };
  put('dynamic_variables', request.dynamicVariables);
  put('first_message', request.firstMessage);
  put('prompt', request.prompt);
  put('language', request.language);
  put('max_duration_s', request.maxDurationS);
  put('voice_id', request.voiceId);
  put('caller_id', request.callerId);
  put('ring_timeout_s', request.ringTimeoutS);
  put('record', request.record);
  put('amd', request.amd);
  // agentId is not a wire field: API calls always talk to the default agent (inbound calls pick theirs on the node they reach).
  return wire;
}
