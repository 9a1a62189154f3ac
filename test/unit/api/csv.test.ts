import assert from 'node:assert/strict';
import { parseCsv } from '../../../src/api/csv';

describe('parseCsv', () => {
  it('reads fields, quotes, escaped quotes, CRLF and LF, and skips blank lines', () => {
    const r = parseCsv('\ufeffphone_number,name\r\n+79990001122,"Ada, ""the"" first"\n\n+79990001123,Bob\n');
    assert.deepEqual(r, {
      records: [
        { line: 1, fields: ['phone_number', 'name'] },
        { line: 2, fields: ['+79990001122', 'Ada, "the" first'] },
        { line: 4, fields: ['+79990001123', 'Bob'] },
      ],
    });
  });

  it('keeps newlines inside quotes and numbers lines as the file does', () => {
    const r = parseCsv('a,b\n"x\ny",z\nlast,1');
    assert.deepEqual(r, { records: [{ line: 1, fields: ['a', 'b'] }, { line: 2, fields: ['x\ny', 'z'] }, { line: 4, fields: ['last', '1'] }] });
  });

  it('keeps empty fields', () => {
    assert.deepEqual(parseCsv('a,,c\n,,\n'), { records: [{ line: 1, fields: ['a', '', 'c'] }, { line: 2, fields: ['', '', ''] }] });
  });

  it('refuses malformed quoting with the line', () => {
    assert.deepEqual(parseCsv('a,b\nx"y,z'), { error: 'a quote inside an unquoted field', line: 2 });
    assert.deepEqual(parseCsv('a\n"open'), { error: 'a quoted field is not closed', line: 2 });
    assert.deepEqual(parseCsv('"a"b'), { error: 'text after a closing quote', line: 1 });
  });
});
