import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findForbiddenCharacter, forbiddenCharacterMessage, stripForbiddenCharacters } from '../../../activities/sync/text';

describe('the text rule', () => {
  it('allows tabs, line breaks, NEL, emoji and every script', () => {
    for (const ok of ['plain', 'tab\there', 'a\r\nb\nc\rd', 'next\u0085line', 'ls\u2028ps\u2029', '😀 Ünïcødé 日本語 עברית', 'Novak, Alice; \\x']) {
      expect(findForbiddenCharacter(ok)).toBeNull();
    }
  });

  it('names the first forbidden character and where it is', () => {
    expect(findForbiddenCharacter('ab\u0000c')).toMatchObject({ index: 2, codePoint: 0, label: 'NUL (U+0000)' });
    expect(findForbiddenCharacter('x\u001b[31m')).toMatchObject({ index: 1, label: 'ESC (U+001B)' });
    expect(findForbiddenCharacter('\u007f')?.label).toBe('DEL (U+007F)');
    expect(findForbiddenCharacter('\u0090')?.label).toBe('a C1 control character (U+0090)');
    expect(findForbiddenCharacter('a\ud800')?.label).toBe('an unpaired surrogate (U+D800)');
    expect(findForbiddenCharacter('\udc00a')?.label).toBe('an unpaired surrogate (U+DC00)');
    expect(findForbiddenCharacter('\uffff')?.label).toBe('the non-character U+FFFF');
    expect(forbiddenCharacterMessage('title', findForbiddenCharacter('ab\u0007')!)).toBe(
      'title contains BEL (U+0007) at position 2: control characters, unpaired surrogates and U+FFFE/U+FFFF are not allowed in text.',
    );
  });

  it('strips exactly the forbidden characters, and stripped text passes the rule', () => {
    expect(stripForbiddenCharacters('a\u0000b\u001bc\ud800d😀\u0085')).toBe('abcd😀\u0085');
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const clean = stripForbiddenCharacters(s);
        expect(findForbiddenCharacter(clean)).toBeNull();
        if (findForbiddenCharacter(s) === null) expect(clean).toBe(s);
        expect(Buffer.from(clean, 'utf8').toString('utf8')).toBe(clean);
      }),
    );
  });
});
