/**
 * Human-readable rendering of the gateway's call events (GET /api/events) and call records: one
 * line per status change or transcript line, and the bridge metrics in the predecessor's layout.
 * Pure formatting; the caller writes the lines.
 */
import type { BridgeMetrics, CallView } from '../../src/model/call-view';
import type { SequencedCallEvent } from '../../src/events/call-events';

/** ANSI styling, off when the output is not a terminal or NO_COLOR is set. */
export interface Style {
  dim(s: string): string;
  bold(s: string): string;
  green(s: string): string;
  cyan(s: string): string;
  yellow(s: string): string;
  red(s: string): string;
}

export function createStyle(isEnabled: boolean): Style {
  const wrap = (code: string) => (s: string) => (isEnabled ? `\u001b[${code}m${s}\u001b[0m` : s);
  return { dim: wrap('2'), bold: wrap('1'), green: wrap('32'), cyan: wrap('36'), yellow: wrap('33'), red: wrap('31') };
}

const ESC = String.fromCharCode(27);
const STYLE_CODE = new RegExp(`${ESC}\\[[0-9;]*m`, 'g');

/** `s` without ANSI colour codes (its visible text). */
export function stripStyle(s: string): string {
  return s.replace(STYLE_CODE, '');
}

/** "14:03:07.412" in local time. */
export function clockOf(iso: string): string {
  const d = new Date(iso);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** The predecessor's metrics block ("Audio bridge metrics:" and four indented lines). */
export function metricsBlock(m: BridgeMetrics): string[] {
  return [
    'Audio bridge metrics:',
    `  caller_to_ai: {packets: ${m.caller_to_ai.packets}, bytes: ${m.caller_to_ai.bytes}}`,
    `  ai_to_caller: {packets: ${m.ai_to_caller.packets}, bytes: ${m.ai_to_caller.bytes}}`,
    `  resampling_ops: ${m.resampling_ops}`,
    `  errors: ${m.errors}`,
  ];
}

const END_REASONS: Readonly<Record<string, string>> = {
  callee: 'the phone hung up',
  api: 'hung up through the API (DELETE /api/calls/{id})',
  agent: 'the agent ended the call',
  'agent-error': 'the agent connection failed',
  'ring-timeout': 'nobody answered in time',
  'no-answer': 'nobody answered',
  busy: 'the line was busy',
  rejected: 'the network refused the call',
  'max-duration': 'the call reached its maximum duration',
  'answering-machine': 'an answering machine answered',
  error: 'Asterisk or media failed',
  shutdown: 'the gateway shut down',
};

/** "completed — the agent ended the call (Q.850 16 Normal Clearing)". */
export function outcomeOf(v: Pick<CallView, 'status' | 'end_reason' | 'hangup_cause' | 'hangup_cause_text' | 'error'>): string {
  const parts: string[] = [v.status];
  if (v.end_reason !== null) parts.push(`— ${END_REASONS[v.end_reason] ?? v.end_reason}`);
  if (v.hangup_cause !== null) parts.push(`(Q.850 ${v.hangup_cause}${v.hangup_cause_text === null ? '' : ` ${v.hangup_cause_text}`})`);
  const outcome = parts.join(' ');
  return v.error === null ? outcome : `${outcome}; error: ${v.error}`;
}

/** Formats the event stream: per-call elapsed time from that call's `dialing` event. */
export class Timeline {
  readonly #style: Style;
  readonly #startMs = new Map<string, number>();
  /** The call whose lines carry no id prefix (the demo's own call). */
  #mainCallId: string | undefined;

  constructor(style: Style) {
    this.#style = style;
  }

  set mainCallId(id: string) {
    this.#mainCallId = id;
  }

  /** Lines for one event (empty for none). */
  format(event: SequencedCallEvent): string[] {
    const s = this.#style;
    if (event.type === 'dialing') this.#startMs.set(event.call_id, Date.parse(event.at));
    switch (event.type) {
      case 'dialing':
        return [this.#line(event.call_id, event.at, s.cyan('dialing'), `${event.phone_number} (${event.direction})`)];
      case 'ringing':
        return [this.#line(event.call_id, event.at, s.cyan('ringing'), '')];
      case 'answered':
        return [this.#line(event.call_id, event.at, s.green('answered'), '')];
      case 'transcript':
        return [this.#line(event.call_id, event.at, event.role === 'agent' ? s.bold('agent:') : s.bold('caller:'), event.text)];
      case 'interruption':
        return [this.#line(event.call_id, event.at, s.yellow('interrupted'), 'the caller barged in; queued agent audio dropped')];
      case 'metrics': {
        const [head = '', ...rest] = metricsBlock(event.metrics);
        return [this.#line(event.call_id, event.at, s.dim('metrics'), head), ...rest.map((l) => this.#indent(l))];
      }
      case 'ended': {
        const colour = event.status === 'completed' ? s.green : event.status === 'failed' ? s.red : s.yellow;
        return [
          this.#line(event.call_id, event.at, colour('ended'), `${outcomeOf(event)}, ${(event.duration_ms / 1000).toFixed(1)} s after dialing`),
        ];
      }
      default:
        return [];
    }
  }

  /** A line of the demo's own doing, in the same layout ("· caller talks for 1.4 s"). */
  note(callId: string, text: string): string {
    return this.#line(callId, new Date().toISOString(), this.#style.dim('·'), this.#style.dim(text));
  }

  #line(callId: string, at: string, label: string, text: string): string {
    const start = this.#startMs.get(callId);
    const elapsed = start === undefined ? '' : `+${((Date.parse(at) - start) / 1000).toFixed(1)}s`;
    const who = callId === this.#mainCallId || this.#mainCallId === undefined ? '' : `[${callId.slice(0, 8)}] `;
    // Labels carry colour codes: pad by their visible width.
    const visible = stripStyle(label).length;
    return `${this.#style.dim(clockOf(at))} ${elapsed.padStart(7)}  ${who}${label}${' '.repeat(Math.max(1, 12 - visible))}${text}`.trimEnd();
  }

  #indent(text: string): string {
    return `${' '.repeat(12 + 1 + 7 + 2 + 12)}${text}`;
  }
}
