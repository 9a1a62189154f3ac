/**
 * Turns one Call's own events into bus events. The Call stays unaware of the bus; the call service
 * attaches it right after creating the call.
 */
import type { CallStatus, CallView, TranscriptEntry } from '../model/call-view';
import { endedEventOf, type CallEventBus } from './call-events';

/** What `publishCallEvents` needs of a Call (src/call/call.ts satisfies it). */
export interface CallEventSource {
  readonly id: string;
  view(): CallView;
  on(event: 'status', listener: (status: CallStatus) => void): unknown;
  on(event: 'transcript', listener: (entry: TranscriptEntry) => void): unknown;
  on(event: 'ended', listener: (view: CallView) => void): unknown;
  off(event: 'status', listener: (status: CallStatus) => void): unknown;
  off(event: 'transcript', listener: (entry: TranscriptEntry) => void): unknown;
  off(event: 'ended', listener: (view: CallView) => void): unknown;
}

/**
 * Publish `dialing` now, then `ringing` / `answered` / `transcript` / `ended` as the call emits
 * them. Listeners are removed after `ended`, or by calling the returned function (idempotent).
 * `interruption` and `metrics` ticks are not Call events yet; publish them with `bus.publish`.
 */
export function publishCallEvents(call: CallEventSource, bus: CallEventBus, nowMs: () => number = Date.now): () => void {
  const isoNow = (): string => new Date(nowMs()).toISOString();
  const onStatus = (status: CallStatus): void => {
    if (status === 'ringing') bus.publish({ type: 'ringing', call_id: call.id, at: isoNow() });
    else if (status === 'answered') bus.publish({ type: 'answered', call_id: call.id, at: call.view().answered_at ?? isoNow() });
    // Terminal statuses are reported by 'ended', which carries the outcome.
  };
  const onTranscript = (entry: TranscriptEntry): void => {
    bus.publish({ type: 'transcript', call_id: call.id, at: entry.at, role: entry.role, text: entry.text });
  };
  const onEnded = (view: CallView): void => {
    detach();
    bus.publish(endedEventOf(view));
  };
  let isAttached = true;
  const detach = (): void => {
    if (!isAttached) return;
    isAttached = false;
    call.off('status', onStatus);
    call.off('transcript', onTranscript);
    call.off('ended', onEnded);
  };

  call.on('status', onStatus);
  call.on('transcript', onTranscript);
  call.on('ended', onEnded);
  const view = call.view();
  bus.publish({ type: 'dialing', call_id: call.id, at: view.created_at, direction: view.direction, phone_number: view.phone_number });
  return detach;
}
