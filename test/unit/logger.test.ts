import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../worker/logger';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, logger: createLogger('info', stream) };
}

describe('logger', () => {
  it('redacts secret-bearing keys at the top level and nested two deep', () => {
    const { lines, logger } = capture();
    logger.info({ clientSecret: 'top-s3cret', settings: { password: 'nested-s3cret', integration: { privateKey: 'deep-s3cret' } }, adminId: 'alice' }, 'saved');
    const text = lines.join('');
    expect(text).not.toMatch(/s3cret/);
    expect(JSON.parse(lines[0]!)).toMatchObject({ clientSecret: '[redacted]', settings: { password: '[redacted]', integration: { privateKey: '[redacted]' } }, adminId: 'alice', msg: 'saved' });
  });

  it('writes one JSON object per line with level and app name', () => {
    const { lines, logger } = capture();
    logger.warn('careful');
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 40, app: 'calendar-sync', msg: 'careful' });
  });
});
