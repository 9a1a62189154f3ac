/**
 * A strict RFC 4180 reader for lead uploads: comma-separated fields, optional double quotes ("" is
 * a quote inside them), CRLF or LF line ends, a UTF-8 byte-order mark ignored. Pure; no I/O.
 */

/** One line of the file: its 1-based line number (of its first physical line) and its fields. */
export interface CsvRecord {
  line: number;
  fields: string[];
}

export type CsvResult = { records: CsvRecord[] } | { error: string; line: number };

export function parseCsv(text: string): CsvResult {
  const records: CsvRecord[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let fields: string[] = [];
  let field = '';
  let recordLine = 1;
  let isQuoted = false;
  let wasQuoted = false;
  const endField = (): void => {
    fields.push(field);
    field = '';
    wasQuoted = false;
  };
  const endRecord = (): void => {
    endField();
    // A blank line is no record.
    if (!(fields.length === 1 && fields[0] === '')) records.push({ line: recordLine, fields });
    fields = [];
    recordLine = line;
  };
  while (i < text.length) {
    const ch = text[i]!;
    if (isQuoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        isQuoted = false;
        wasQuoted = true;
        i += 1;
        continue;
      }
      if (ch === '\n') line += 1;
      field += ch;
      i += 1;
      continue;
    }
    if (ch === '"') {
      if (field !== '' || wasQuoted) return { error: 'a quote inside an unquoted field', line };
      isQuoted = true;
      i += 1;
    } else if (ch === ',') {
      endField();
      i += 1;
    } else if (ch === '\r' && text[i + 1] === '\n') {
      line += 1;
      endRecord();
      i += 2;
    } else if (ch === '\n') {
      line += 1;
      endRecord();
      i += 1;
    } else {
      if (wasQuoted) return { error: 'text after a closing quote', line };
      field += ch;
      i += 1;
    }
  }
  if (isQuoted) return { error: 'a quoted field is not closed', line };
  if (field !== '' || fields.length > 0 || wasQuoted) endRecord();
  return { records };
}
