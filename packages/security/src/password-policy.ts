/**
 * The password policy (OWASP ASVS 4.0 §2.1 at level 2): at least 12 characters (counted as code points, so a
 * Chinese passphrase counts its characters), at most 1,024, and not guessable — not one of the common
 * passwords shipped here, not the user name, not one character repeated, not a run of consecutive keys or
 * digits. No composition rules (ASVS 2.1.9): length and the deny-list are what make a password strong.
 *
 * The deny-list is compiled for iip from the shapes that breach corpora show again and again once a length
 * of 12 is demanded: words and names padded with digits and symbols, keyboard walks, dates, the product's
 * own name. It is checked case-insensitively, and also with trailing digits and symbols stripped, so that
 * "Password2024!" is caught by "password".
 */
import { IipError } from '@iip/core';

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 1024;

/** Stems that, padded with digits or symbols to reach the minimum length, make a guessable password. */
const COMMON_STEMS = [
  'password', 'passw0rd', 'p@ssword', 'p@ssw0rd', 'passwort', 'motdepasse', 'contrasena', 'senha',
  'admin', 'administrator', 'root', 'superuser', 'manager', 'operator', 'engineer', 'guest', 'user', 'test', 'demo',
  'welcome', 'letmein', 'changeme', 'default', 'secret', 'iloveyou', 'trustno1', 'master', 'monkey', 'dragon',
  'football', 'baseball', 'sunshine', 'princess', 'shadow', 'superman', 'batman', 'starwars', 'pokemon',
  'qwerty', 'qwertz', 'azerty', 'asdfgh', 'zxcvbn', 'qazwsx', '1qaz2wsx', 'abc123', 'abcdef', 'iloveu',
  'iip', 'iipadmin', 'industrial', 'factory', 'plant', 'scada', 'siemens', 'modbus', 'opcua', 'mqtt',
  'woaini', 'wodemima', 'mima', 'zhongguo', 'china', 'beijing', 'shanghai', 'aini', 'nihao', 'huawei',
  'company', 'summer', 'winter', 'spring', 'autumn', 'monday', 'friday', 'computer', 'internet', 'server',
];

/** Whole passwords of 12 characters or more that are common as they stand. */
const COMMON_WHOLE = [
  '123456789012', '1234567890123', '12345678901234', '123456123456', '123123123123', '111111111111',
  '000000000000', '121212121212', '123321123321', '147258369147', '159753159753', '987654321098',
  'qwertyuiopas', 'qwertyuiop12', 'qwertyuiop123', '1q2w3e4r5t6y', '1q2w3e4r5t6y7u', 'q1w2e3r4t5y6',
  'zaq12wsxcde3', '1qaz2wsx3edc', 'qazwsxedcrfv', 'asdfghjkl123', 'zxcvbnm12345', 'a1b2c3d4e5f6',
  'abcdefghijkl', 'abcd12345678', 'aa123456789a', 'passwordpassword', 'adminadmin12', 'administrator',
  'iloveyou1234', 'letmein12345', 'welcome12345', 'changeme1234', 'woaini520520', 'woaini1314520',
  '5201314520131', '520520520520', '1314520131452',
];

const DENY = new Set([...COMMON_WHOLE].map((p) => p.toLowerCase()));
const STEMS = new Set(COMMON_STEMS);

const KEYBOARD_ROWS = ['`1234567890-=', 'qwertyuiop[]\\', "asdfghjkl;'", 'zxcvbnm,./', '1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik,9ol.0p;/'];

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** True when every step from one character to the next is +1 or -1 in code point or along a keyboard row. */
function isRun(s: string): boolean {
  if (s.length < 4) return false;
  const lower = s.toLowerCase();
  let byCode = true;
  for (let i = 1; i < lower.length; i++) {
    const d = lower.charCodeAt(i) - lower.charCodeAt(i - 1);
    if (Math.abs(d) !== 1) byCode = false;
  }
  if (byCode) return true;
  return KEYBOARD_ROWS.some((row) => row.includes(lower) || [...row].reverse().join('').includes(lower));
}

function weak(rule: string, message: string): IipError {
  return new IipError('IIP_ERR_AUTH_WEAK_PASSWORD', message, { field: 'password', rule, minLength: MIN_PASSWORD_LENGTH });
}

/** Refuses a password that breaks the policy with IIP_ERR_AUTH_WEAK_PASSWORD; `details.rule` says which rule. */
export function checkPasswordPolicy(password: string, username?: string): void {
  const length = codePoints(password);
  if (length < MIN_PASSWORD_LENGTH) throw weak('length', `password must have at least ${MIN_PASSWORD_LENGTH} characters (has ${length})`);
  if (password.length > MAX_PASSWORD_LENGTH) throw weak('max-length', `password must have at most ${MAX_PASSWORD_LENGTH} characters`);
  const lower = password.toLowerCase();
  const stem = lower.replace(/[\d\W_]+$/u, '').replace(/^[\d\W_]+/u, '');
  if (DENY.has(lower) || STEMS.has(stem) || DENY.has(stem)) throw weak('common', 'password is one of the commonly used ones; choose another (a few unrelated words make a good one)');
  if (username && username.length >= 3 && lower.includes(username.toLowerCase())) throw weak('username', 'password must not contain the user name');
  if (new Set(password).size <= 2) throw weak('repetitive', 'password must not be one or two characters repeated');
  if (isRun(password)) throw weak('sequence', 'password must not be a run of consecutive characters or keys');
}
