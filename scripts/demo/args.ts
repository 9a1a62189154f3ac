/** Command-line options of `npm run demo` (pure: no I/O). */

/** Longest call the demo lets run before it hangs up through the API, seconds. */
export const DEFAULT_DURATION_S = 50;

export interface DemoOptions {
  /** E.164 number to call; undefined = a fresh number the carrier stand-in answers. */
  readonly number: string | undefined;
  /** Leave the stack running after the call and print curl examples, until Ctrl+C. */
  readonly isKeep: boolean;
  /** Hang up through DELETE /api/calls/{id} after this many seconds if the call still runs. */
  readonly durationS: number;
  /** Use the ElevenLabs simulator even when .env names a real agent. */
  readonly isSimulatorForced: boolean;
  readonly isHelp: boolean;
}

export const USAGE = `usage: npm run demo -- [--number +E164] [--duration seconds] [--keep] [--simulator]

  --number N     number to call (default: a new number the carrier stand-in answers).
                 The stand-in's number plan: +486… busy, +404… unallocated, +503… congestion,
                 +999… never answers, +222D… answers and hangs up after D seconds (D = 1..9),
                 +440… answers with 440 Hz, anything else answers with a 1 kHz tone for 60 s.
  --duration S   hang up through the API after S seconds if the call is still going (default ${DEFAULT_DURATION_S})
  --keep         after the call, leave everything running and print curl examples; Ctrl+C stops it
  --simulator    use the ElevenLabs simulator even when .env sets ELEVENLABS_AGENT_ID
  --help         this text`;

/** Parse `argv` (without node and script); throws an Error with a message fit for the user. */
export function parseDemoArgs(argv: readonly string[]): DemoOptions {
  let number: string | undefined;
  let durationS = DEFAULT_DURATION_S;
  let isKeep = false;
  let isSimulatorForced = false;
  let isHelp = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [name, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new Error(`${name} needs a value\n${USAGE}`);
      return v;
    };
    switch (name) {
      case '--number': {
        const v = value().replace(/[\s-]/g, '');
        number = v.startsWith('+') ? v : `+${v}`;
        if (!/^\+[1-9][0-9]{7,14}$/.test(number)) throw new Error(`--number must be an E.164 number like +74951234567, got ${v}`);
        break;
      }
      case '--duration': {
        const v = value();
        durationS = Number(v);
        if (!Number.isInteger(durationS) || durationS < 1 || durationS > 3600) {
          throw new Error(`--duration must be whole seconds, 1..3600, got ${v}`);
        }
        break;
      }
      case '--keep':
        isKeep = true;
        break;
      case '--simulator':
        isSimulatorForced = true;
        break;
      case '--help':
      case '-h':
        isHelp = true;
        break;
      default:
        throw new Error(`unknown option ${arg}\n${USAGE}`);
    }
  }
  return { number, isKeep, durationS, isSimulatorForced, isHelp };
}
