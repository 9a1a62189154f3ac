/**
 * The carrier stand-in's number plan (test/carrier/asterisk-conf/extensions.conf), as functions that
 * make a number no other test in this run dials, so "the recording of my call" is the one filed
 * under my number.
 */

/** Hangup causes (Q.850) the PBX sees on ChannelDestroyed for each outcome, measured on 22.10.1. */
export const HANGUP_CAUSE = {
  normalClearing: 16,
  userBusy: 17,
  noAnswer: 19,
  unallocated: 1,
  congestion: 34,
} as const;

export interface NumberPlan {
  /** Answers, plays 1 kHz, records what it receives, hangs up after CARRIER_MAX_CALL_S. */
  answer(): string;
  /** Like answer() but plays 440 Hz. */
  answer440Hz(): string;
  /** Answers, plays 1 kHz, and hangs up itself after `seconds` (1..9): cause 16. */
  answerThenHangUp(seconds: number): string;
  /** SIP 486: cause 17. */
  busy(): string;
  /** Rings for 5 minutes: the originate timeout gives cause 19. */
  noAnswer(): string;
  /** SIP 404: cause 1. */
  unallocated(): string;
  /** SIP 503: cause 34. */
  congestion(): string;
}

/**
 * A number plan whose numbers are unique within this process: a run tag (so a rerun does not
 * collide with recordings an earlier run left) and a counter.
 */
export function createNumberPlan(runTag = String(Date.now() % 10_000).padStart(4, '0')): NumberPlan {
  if (!/^\d{4}$/.test(runTag)) throw new Error(`runTag must be 4 digits, got ${runTag}`);
  let counter = 0;
  const next = (prefix: string): string => `${prefix}${runTag}${String(++counter).padStart(4, '0')}`;
  return {
    answer: () => next('7'),
    answer440Hz: () => next('440'),
    answerThenHangUp: (seconds) => {
      if (!Number.isInteger(seconds) || seconds < 1 || seconds > 9) throw new Error(`seconds must be 1..9, got ${seconds}`);
      return next(`222${seconds}`);
    },
    busy: () => next('486'),
    noAnswer: () => next('999'),
    unallocated: () => next('404'),
    congestion: () => next('503'),
  };
}
