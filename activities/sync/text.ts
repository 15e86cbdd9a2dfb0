// The one rule for text that enters calendar-sync (API fields, SysAid data) and leaves it (every provider).
// Pure, no I/O. The API rejects what this forbids, naming the field and the character; text from sources the
// API does not validate (SysAid) is cleaned with the same rule before it is rendered, so every provider sees
// the same characters.

/**
 * Characters no text field may hold: C0 controls other than TAB, LF and CR (RFC 5545 §3.1 forbids them in
 * iCalendar, PostgreSQL refuses NUL in text, terminals execute ESC), DEL, C1 controls other than NEL (U+0085,
 * a line break), unpaired UTF-16 surrogates (not text: they cannot be encoded as UTF-8), and the
 * non-characters U+FFFE and U+FFFF.
 */
export function isForbiddenCodePoint(cp: number): boolean {
  if (cp < 0x20) return cp !== 0x09 && cp !== 0x0a && cp !== 0x0d;
  if (cp === 0x7f) return true;
  if (cp >= 0x80 && cp <= 0x9f) return cp !== 0x85;
  if (cp >= 0xd800 && cp <= 0xdfff) return true;
  return cp === 0xfffe || cp === 0xffff;
}

export interface ForbiddenCharacter {
  /** UTF-16 index of the character in the string. */
  index: number;
  codePoint: number;
  /** For messages: `NUL (U+0000)`, `ESC (U+001B)`, `an unpaired surrogate (U+D800)`. */
  label: string;
}

const C0_NAMES = ['NUL', 'SOH', 'STX', 'ETX', 'EOT', 'ENQ', 'ACK', 'BEL', 'BS', 'TAB', 'LF', 'VT', 'FF', 'CR', 'SO', 'SI', 'DLE', 'DC1', 'DC2', 'DC3', 'DC4', 'NAK', 'SYN', 'ETB', 'CAN', 'EM', 'SUB', 'ESC', 'FS', 'GS', 'RS', 'US'];

const hex = (cp: number) => `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;

export function characterLabel(cp: number): string {
  if (cp < 0x20) return `${C0_NAMES[cp]} (${hex(cp)})`;
  if (cp === 0x7f) return `DEL (${hex(cp)})`;
  if (cp >= 0x80 && cp <= 0x9f) return `a C1 control character (${hex(cp)})`;
  if (cp >= 0xd800 && cp <= 0xdfff) return `an unpaired surrogate (${hex(cp)})`;
  return `the non-character ${hex(cp)}`;
}

/** The first character the rule forbids, or null. Surrogate pairs are one (allowed) character. */
export function findForbiddenCharacter(value: string): ForbiddenCharacter | null {
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
    }
    if (isForbiddenCodePoint(unit)) return { index: i, codePoint: unit, label: characterLabel(unit) };
  }
  return null;
}

/** A message for an API answer: `title contains ESC (U+001B) at position 5; remove control characters.` */
export function forbiddenCharacterMessage(field: string, found: ForbiddenCharacter): string {
  return `${field} contains ${found.label} at position ${found.index}: control characters, unpaired surrogates and U+FFFE/U+FFFF are not allowed in text.`;
}

/** Text from a source the API does not validate: the forbidden characters removed (a fast path when there are none). */
export function stripForbiddenCharacters(value: string): string {
  if (findForbiddenCharacter(value) === null) return value;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        out += value[i]! + value[i + 1]!;
        i++;
        continue;
      }
    }
    if (!isForbiddenCodePoint(unit)) out += value[i]!;
  }
  return out;
}
