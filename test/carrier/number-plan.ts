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

/** DTMF digits the answerAndSendDtmf() numbers send (RFC 4733, 100 ms each, 250 ms apart, starting 1 s after answer). */
export const CARRIER_SENT_DTMF = '159#';

export interface NumberPlan {
  /** Answers, plays 1 kHz, records what it receives, hangs up after CARRIER_MAX_CALL_S. */
  answer(): string;
  /** Like answer() but plays 440 Hz. */
  answer440Hz(): string;
  /**
   * A person answering: 0.79 s of recorded speech ("hello"), then silence while listening.
   * Records what it receives. AMD() on our side says HUMAN.
   */
  answerHuman(): string;
  /**
   * An answering machine: a 5.65 s spoken greeting ("Please leave your message after the
   * tone..."), a 0.43 s beep, then silence while it records. AMD() on our side says MACHINE.
   */
  answerMachine(): string;
  /** A callee who speaks first: 1 s of 1 kHz from the answer on, then silence; records. */
  answerSpeakingFirst(): string;
  /** Answers, 1 s of silence, sends the RFC 4733 digits CARRIER_SENT_DTMF, then plays 1 kHz; records. */
  answerAndSendDtmf(): string;
  /**
   * An IVR: answers, plays 1 kHz, records, and collects every DTMF digit it receives; read them
   * with CarrierStandIn.waitForReceivedDigits(number, expected).
   */
  answerAndCollectDtmf(): string;
  /** Answers, plays 1 kHz, and hangs up itself after `seconds` (1..9): cause 16. */
  answerThenHangUp(seconds: number): string;
  /** Rings for `seconds` (1..9), then answers, plays 1 kHz and records: a callee slow to pick up. */
  answerAfterRinging(seconds: number): string;
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
    answerHuman: () => next('301'),
    answerMachine: () => next('302'),
    answerAndSendDtmf: () => next('303'),
    answerAndCollectDtmf: () => next('304'),
    answerSpeakingFirst: () => next('305'),
    answerThenHangUp: (seconds) => {
      if (!Number.isInteger(seconds) || seconds < 1 || seconds > 9) throw new Error(`seconds must be 1..9, got ${seconds}`);
      return next(`222${seconds}`);
    },
    answerAfterRinging: (seconds) => {
      if (!Number.isInteger(seconds) || seconds < 1 || seconds > 9) throw new Error(`seconds must be 1..9, got ${seconds}`);
      return next(`333${seconds}`);
    },
    busy: () => next('486'),
    noAnswer: () => next('999'),
    unallocated: () => next('404'),
    congestion: () => next('503'),
  };
}
